"""The layers, loss options and reprs added for PyTorch habits, against PyTorch as the oracle.

Same weights (PyTorch's state dict loaded one to one), same inputs: same outputs, input and
parameter gradients. Skipped where PyTorch is not installed.
"""
import numpy as np
import pytest

import minidl as mdl
import minidl.nn.functional as F
from minidl import nn

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
from test_torch_parity import TOL, compare, copy_weights, x32  # noqa: E402 - after the skip

rng = np.random.default_rng(2)


def both(make):
    """The same layer built from minidl's nn and from torch.nn."""
    return make(nn), make(torch.nn)


@pytest.mark.parametrize("make, shape", [
    (lambda lib: lib.LeakyReLU(0.2), (4, 5)),
    (lambda lib: lib.GELU(), (4, 5)),
    (lambda lib: lib.GELU(approximate="tanh"), (4, 5)),
    (lambda lib: lib.SiLU(), (4, 5)),
    (lambda lib: lib.ELU(alpha=0.7), (4, 5)),
    (lambda lib: lib.Softplus(beta=2.0, threshold=1.5), (4, 5)),
    (lambda lib: lib.Softmax(), (2, 3, 4)),  # PyTorch's implicit dim: 0 for 3-D input
    (lambda lib: lib.Conv1d(3, 4, 3), (2, 3, 9)),
    (lambda lib: lib.Conv1d(3, 2, 4, stride=2, padding=1, bias=False), (2, 3, 9)),
    (lambda lib: lib.Conv1d(3, 2, 4, padding="same"), (2, 3, 9)),
    (lambda lib: lib.Conv2d(3, 2, (2, 3), padding="same"), (1, 3, 5, 6)),
    (lambda lib: lib.AdaptiveAvgPool2d((3, 2)), (2, 3, 7, 5)),
    (lambda lib: lib.AdaptiveAvgPool2d((None, 4)), (2, 3, 7, 9)),
    (lambda lib: lib.AdaptiveAvgPool2d(1), (2, 3, 5, 5)),
    (lambda lib: lib.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (2, 3, 7, 6)),
    (lambda lib: lib.GroupNorm(2, 6), (3, 6, 4)),
    (lambda lib: lib.GroupNorm(3, 6, affine=False), (3, 6, 2, 2)),
    (lambda lib: lib.LayerNorm(5, bias=False), (3, 5)),
], ids=["leaky", "gelu", "gelu-tanh", "silu", "elu", "softplus", "softmax-implicit", "conv1d", "conv1d-stride",
        "conv1d-same", "conv2d-same", "adaptive", "adaptive-none", "adaptive-global", "avgpool-exclude-pad",
        "groupnorm", "groupnorm-noaffine", "layernorm-nobias"])
def test_layer_matches_pytorch(make, shape):
    ours, theirs = both(make)
    with pytest.warns(UserWarning, match="Implicit dimension") if isinstance(ours, nn.Softmax) else _nothing():
        compare(ours, theirs, x32(*shape) * 3)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_batch_norm_with_cumulative_average_matches():
    ours, theirs = both(lambda lib: lib.BatchNorm1d(3, momentum=None))
    for _ in range(3):
        ours.zero_grad(), theirs.zero_grad()
        compare(ours, theirs, x32(5, 3))


def test_embedding_matches_pytorch_including_padding():
    ours, theirs = both(lambda lib: lib.Embedding(6, 3, padding_idx=2))
    copy_weights(ours, theirs)
    idx = rng.integers(0, 6, (4, 5))
    out_m, out_t = ours(mdl.tensor(idx)), theirs(torch.tensor(idx))
    np.testing.assert_allclose(out_m.numpy(), out_t.detach().numpy(), **TOL)
    v = x32(4, 5, 3)
    (out_m * mdl.tensor(v)).sum().backward()
    (out_t * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), **TOL)


ATTENTION = {
    "self": (dict(), "self", dict()),
    "cross-batch-first": (dict(batch_first=True), "cross", dict()),
    "bool-masks-per-head-weights": (dict(), "cross", dict(masks="bool", average_attn_weights=False)),
    "float-masks-no-weights": (dict(), "cross", dict(masks="float", need_weights=False)),
    "kdim-vdim-no-bias": (dict(kdim=3, vdim=5, bias=False), "cross", dict()),
    "unbatched": (dict(), "unbatched", dict(masks="bool")),
}


def _attention_inputs(kind, layer, n=2, length=3, source=4):
    e = layer.embed_dim
    if kind == "unbatched":
        return x32(length, e), x32(source, e), x32(source, e)
    shape = (lambda s, d: (n, s, d)) if layer.batch_first else (lambda s, d: (s, n, d))
    if kind == "self":
        x = x32(*shape(length, e))
        return x, x, x
    return x32(*shape(length, e)), x32(*shape(source, layer.kdim)), x32(*shape(source, layer.vdim))


@pytest.mark.parametrize("name", sorted(ATTENTION))
def test_multihead_attention_matches_pytorch(name):
    options, kind, call = ATTENTION[name]
    ours, theirs = both(lambda lib: lib.MultiheadAttention(8, 2, **options))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    copy_weights(ours, theirs)
    arrays = _attention_inputs(kind, ours)
    source = arrays[1].shape[1 if ours.batch_first and kind != "unbatched" else 0]
    call = dict(call)
    masks = call.pop("masks", None)
    kwargs_m, kwargs_t = dict(call), dict(call)
    if masks:
        attn = rng.random((3, source)) < 0.3
        attn[:, 0] = False  # every query keeps one key: no fully masked row
        padding = rng.random((2, source)) < 0.3 if kind != "unbatched" else rng.random(source) < 0.3
        padding[..., 0] = False
        convert = (lambda m: np.where(m, -1e4, 0.0).astype(np.float32)) if masks == "float" else (lambda m: m)
        kwargs_m.update(attn_mask=mdl.tensor(convert(attn)), key_padding_mask=mdl.tensor(convert(padding)))
        kwargs_t.update(attn_mask=torch.tensor(convert(attn)), key_padding_mask=torch.tensor(convert(padding)))
    ins_m = [mdl.tensor(a, requires_grad=True) for a in arrays]
    ins_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    if kind == "self":
        ins_m, ins_t = [ins_m[0]] * 3, [ins_t[0]] * 3
    (out_m, w_m), (out_t, w_t) = ours(*ins_m, **kwargs_m), theirs(*ins_t, **kwargs_t)
    np.testing.assert_allclose(out_m.numpy(), out_t.detach().numpy(), **TOL)
    assert (w_m is None) == (w_t is None)
    if w_m is not None:
        np.testing.assert_allclose(w_m.numpy(), w_t.detach().numpy(), **TOL)
    v = x32(*out_t.shape)
    (out_m * mdl.tensor(v)).sum().backward()
    (out_t * torch.tensor(v)).sum().backward()
    for a, b in zip(ins_m, ins_t):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)
    grads_t = dict(theirs.named_parameters())
    for pname, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads_t[pname].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=pname)


LOSSES = {
    "ce-weight": lambda lib, w: lib.CrossEntropyLoss(weight=w),
    "ce-weight-ignore-sum": lambda lib, w: lib.CrossEntropyLoss(weight=w, ignore_index=2, reduction="sum"),
    "ce-smoothing": lambda lib, w: lib.CrossEntropyLoss(label_smoothing=0.15),
    "ce-everything-none": lambda lib, w: lib.CrossEntropyLoss(weight=w, ignore_index=0, label_smoothing=0.3,
                                                              reduction="none"),
    "ce-everything-mean": lambda lib, w: lib.CrossEntropyLoss(weight=w, ignore_index=0, label_smoothing=0.3),
    "nll-weight-ignore": lambda lib, w: lib.Sequential(lib.LogSoftmax(dim=1), lib.NLLLoss(weight=w, ignore_index=1)),
}


def _loss_pair(make, weights):
    return make(nn, mdl.tensor(weights)), make(torch.nn, torch.tensor(weights))


def _check_loss(ours, theirs, logits, target_m, target_t):
    lm, lt = mdl.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    out_m = ours[-1](ours[0](lm), target_m) if isinstance(ours, nn.Sequential) else ours(lm, target_m)
    out_t = theirs[-1](theirs[0](lt), target_t) if isinstance(theirs, torch.nn.Sequential) else theirs(lt, target_t)
    np.testing.assert_allclose(out_m.numpy(), out_t.detach().numpy(), **TOL)
    v = x32(*out_t.shape)
    (out_m * mdl.tensor(v)).sum().backward()
    (out_t * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(lm.grad.numpy(), lt.grad.numpy(), **TOL)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_class_loss_options_match_pytorch(name):
    ours, theirs = _loss_pair(LOSSES[name], rng.uniform(0.2, 2, 4).astype(np.float32))
    target = np.array([0, 2, 1, 2, 3, 0])
    _check_loss(ours, theirs, x32(6, 4) * 2, mdl.tensor(target), torch.tensor(target))


@pytest.mark.parametrize("shape, target_shape", [((3, 4, 5, 2), (3, 5, 2)), ((4,), ())], ids=["spatial", "unbatched"])
def test_cross_entropy_layouts_match_pytorch(shape, target_shape):
    target = rng.integers(0, 4, target_shape)
    for reduction in ("mean", "none"):
        ours, theirs = _loss_pair(lambda lib, w: lib.CrossEntropyLoss(weight=w, reduction=reduction),
                                  rng.uniform(0.5, 2, 4).astype(np.float32))
        _check_loss(ours, theirs, x32(*shape), mdl.tensor(target), torch.tensor(target))


def test_cross_entropy_with_class_probabilities_matches_pytorch():
    probs = F.softmax(mdl.tensor(x32(5, 3)), dim=1).numpy()
    ours, theirs = _loss_pair(lambda lib, w: lib.CrossEntropyLoss(weight=w, label_smoothing=0.1),
                              np.array([0.5, 1.0, 2.0], np.float32))
    _check_loss(ours, theirs, x32(5, 3), mdl.tensor(probs), torch.tensor(probs))


@pytest.mark.parametrize("make, low, high", [
    (lambda lib, w: lib.L1Loss(), -3, 3),
    (lambda lib, w: lib.BCELoss(weight=w), 0.01, 0.99),
    (lambda lib, w: lib.BCEWithLogitsLoss(weight=w, pos_weight=w * 2), -4, 4),
    (lambda lib, w: lib.MSELoss(reduction="sum"), -3, 3),
], ids=["l1", "bce", "bce-logits-pos-weight", "mse-sum"])
def test_elementwise_losses_match_pytorch(make, low, high):
    ours, theirs = _loss_pair(make, rng.uniform(0.5, 2, 3).astype(np.float32))
    target = (rng.random((4, 3)) > 0.5).astype(np.float32)
    _check_loss(ours, theirs, rng.uniform(low, high, (4, 3)).astype(np.float32), mdl.tensor(target),
                torch.tensor(target))


def zoo_of_layers(lib):
    """One of every layer, as a PyTorch user builds models (names and reprs must match PyTorch's)."""
    return lib.Sequential(
        lib.Conv2d(1, 4, 3, padding=1), lib.BatchNorm2d(4), lib.ReLU(inplace=True), lib.MaxPool2d(2),
        lib.Conv2d(4, 4, 3, stride=2, bias=False), lib.GroupNorm(2, 4), lib.AvgPool2d(2), lib.AdaptiveAvgPool2d((2, 2)),
        lib.Flatten(), lib.Dropout(0.2), lib.Linear(16, 8), lib.LayerNorm(8), lib.GELU(), lib.SiLU(),
        lib.LeakyReLU(0.1), lib.ELU(), lib.Softplus(), lib.Sigmoid(), lib.Tanh(), lib.Identity(),
        lib.ModuleList([lib.Linear(8, 8), lib.Linear(8, 8)]),
        lib.ModuleDict({"emb": lib.Embedding(10, 8, padding_idx=0), "attn": lib.MultiheadAttention(8, 2)}),
        lib.Conv1d(2, 3, 3), lib.BatchNorm1d(3), lib.LogSoftmax(dim=1), lib.Softmax(dim=-1),
        lib.CrossEntropyLoss(), lib.NLLLoss(), lib.L1Loss(), lib.BCELoss(), lib.MSELoss(), lib.BCEWithLogitsLoss())


def test_print_model_is_pytorch_repr():
    assert repr(zoo_of_layers(nn)) == repr(zoo_of_layers(torch.nn))


def test_state_dicts_convert_one_to_one_both_ways():
    ours, theirs = zoo_of_layers(nn), zoo_of_layers(torch.nn)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    ours.load_state_dict(theirs.state_dict())  # PyTorch's tensors are taken as they are
    for key, value in ours.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), theirs.state_dict()[key].numpy(), err_msg=key)
    fresh = zoo_of_layers(torch.nn)
    fresh.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    for key, value in fresh.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), ours.state_dict()[key].numpy(), err_msg=key)


def test_functional_pad_and_one_hot_match_pytorch():
    x = x32(2, 3, 4)
    np.testing.assert_array_equal(F.pad(mdl.tensor(x), (1, 2, 0, 1), value=3.0).numpy(),
                                  torch.nn.functional.pad(torch.tensor(x), (1, 2, 0, 1), value=3.0).numpy())
    idx = rng.integers(0, 5, (3, 2))
    np.testing.assert_array_equal(F.one_hot(mdl.tensor(idx)).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(idx)).numpy())
