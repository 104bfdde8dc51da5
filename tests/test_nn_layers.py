"""Layers and losses: gradients against finite differences (float64) and PyTorch-shaped behaviour."""
import math

import numpy as np
import pytest

import minidl as mdl
import minidl.nn.functional as F
from minidl import nn

rng = np.random.default_rng(0)


def f64(*shape, low=-1.0, high=1.0):
    return mdl.tensor(rng.uniform(low, high, size=shape), dtype="float64", requires_grad=True)


def check_layer(layer, x):
    """gradcheck the layer with respect to its input and every parameter, in float64."""
    layer.to("float64")
    slots = [(m, name) for _, m in layer.named_modules() for name, p in m._parameters.items() if p is not None]

    def run(x, *params):
        for (module, name), p in zip(slots, params):
            module._parameters[name] = p  # the checked tensors become the layer's parameters
        return layer(x)

    params = [mdl.tensor(m._parameters[name].numpy(), requires_grad=True) for m, name in slots]
    assert mdl.gradcheck(run, (x, *params))


@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.Linear(3, 4), (5, 3)),
    (lambda: nn.Linear(3, 2, bias=False), (2, 4, 3)),
    (lambda: nn.Conv2d(2, 3, 3), (2, 2, 5, 5)),
    (lambda: nn.Conv2d(2, 2, (2, 3), stride=2, padding=1), (1, 2, 5, 6)),
    (lambda: nn.LayerNorm(4), (3, 4)),
    (lambda: nn.LayerNorm((2, 3)), (2, 2, 3)),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), nn.Softmax(dim=1)), (5, 3)),
    (lambda: nn.Sequential(nn.Sigmoid(), nn.Flatten(), nn.LogSoftmax(dim=-1)), (2, 3, 2)),
], ids=["linear", "linear-nobias-3d", "conv", "conv-stride-pad", "layernorm", "layernorm-2d", "mlp", "flatten"])
def test_layer_gradients(layer, shape):
    check_layer(layer(), f64(*shape))


def test_batchnorm_gradients_in_train_and_eval_mode():
    for bn, shape in [(nn.BatchNorm1d(3), (6, 3)), (nn.BatchNorm1d(2), (4, 2, 3)), (nn.BatchNorm2d(2), (3, 2, 2, 2))]:
        check_layer(bn, f64(*shape))
        bn.eval()
        check_layer(bn, f64(*shape))


def test_pooling_gradients():
    # distinct values keep the max away from ties
    x = mdl.tensor(rng.permutation(2 * 2 * 6 * 6).reshape(2, 2, 6, 6) * 0.01, dtype="float64", requires_grad=True)
    assert mdl.gradcheck(lambda x: F.max_pool2d(x, 2), (x,))
    assert mdl.gradcheck(lambda x: F.max_pool2d(x, 3, stride=2, padding=1), (x,))
    assert mdl.gradcheck(lambda x: F.avg_pool2d(x, 2), (x,))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_gradients(reduction):
    target = mdl.tensor([1, 0, 2])
    assert mdl.gradcheck(lambda x: nn.CrossEntropyLoss(reduction=reduction)(x, target), (f64(3, 4),))
    assert mdl.gradcheck(lambda x: nn.NLLLoss(reduction=reduction)(F.log_softmax(x, 1), target), (f64(3, 4),))
    assert mdl.gradcheck(lambda x, y: nn.MSELoss(reduction=reduction)(x, y), (f64(3, 2), f64(3, 2)))
    labels = mdl.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype="float64")
    assert mdl.gradcheck(lambda x: nn.BCEWithLogitsLoss(reduction=reduction)(x, labels), (f64(3, 2, low=-3, high=3),))


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    logits = mdl.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    target = np.array([2, 0, 1, 1])
    nn.CrossEntropyLoss()(logits, mdl.tensor(target)).backward()
    z = logits.numpy()
    softmax = np.exp(z - z.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    expected = (softmax - np.eye(3)[target]) / 4
    np.testing.assert_allclose(logits.grad.numpy(), expected, rtol=1e-5, atol=1e-7)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = mdl.tensor([[1000.0, -1000.0], [-1000.0, 1000.0]], requires_grad=True)
    loss = F.cross_entropy(logits, mdl.tensor([0, 0]))
    loss.backward()
    assert loss.item() == pytest.approx(1000.0) and np.all(np.isfinite(logits.grad.numpy()))


def test_bce_with_logits_is_stable_for_huge_logits():
    loss = F.binary_cross_entropy_with_logits(mdl.tensor([800.0, -800.0]), mdl.tensor([0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [800.0, 800.0])


def test_losses_reject_bad_shapes_and_targets():
    with pytest.raises(ValueError, match=r"cross_entropy.*\(3, 4\).*\(2,\)"):
        F.cross_entropy(mdl.zeros(3, 4), mdl.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer class indices"):
        F.cross_entropy(mdl.zeros(2, 4), mdl.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


def test_layer_input_errors_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"Linear\(3, 4\).*\(2, 5\)"):
        nn.Linear(3, 4)(mdl.zeros(2, 5))
    with pytest.raises(ValueError, match=r"conv2d: input has 1 channels, the weight expects 3"):
        nn.Conv2d(3, 2, 3)(mdl.zeros(1, 1, 5, 5))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\).*\(2, 3\)"):
        nn.BatchNorm2d(3)(mdl.zeros(2, 3))


# -- behaviour -------------------------------------------------------------------------

def test_dropout_is_identity_in_eval_and_scaled_in_train():
    x = mdl.ones(1000)
    drop = nn.Dropout(0.25)
    out = drop(x).numpy()
    assert np.allclose(out[out != 0], 1 / 0.75) and 0.15 < (out == 0).mean() < 0.35
    assert np.array_equal(drop.eval()(x).numpy(), x.numpy())


def test_dropout_is_repeatable_with_manual_seed():
    x = mdl.ones(50)
    mdl.manual_seed(5)
    a = F.dropout(x, 0.5).numpy()
    mdl.manual_seed(5)
    assert np.array_equal(a, F.dropout(x, 0.5).numpy())


def test_batchnorm_running_statistics_and_eval():
    bn = nn.BatchNorm1d(2, momentum=0.5)
    x = mdl.tensor([[1.0, 10.0], [3.0, 20.0]])
    bn(x)
    np.testing.assert_allclose(bn.running_mean.numpy(), [1.0, 7.5])
    np.testing.assert_allclose(bn.running_var.numpy(), [0.5 + 0.5 * 2.0, 0.5 + 0.5 * 50.0])
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    out = bn(x).numpy()
    np.testing.assert_allclose(out, (x.numpy() - [1.0, 7.5]) / np.sqrt([1.5, 25.5] + np.float32(1e-5)), rtol=1e-5)


def test_linear_default_init_bounds():
    layer = nn.Linear(100, 50)
    bound = 1 / math.sqrt(100)
    assert layer.weight.shape == (50, 100) and layer.bias.shape == (50,)
    assert np.abs(layer.weight.numpy()).max() <= bound and np.abs(layer.weight.numpy()).max() > 0.9 * bound
    assert np.abs(layer.bias.numpy()).max() <= bound


def test_init_functions():
    w = mdl.zeros(64, 32)
    nn.init.xavier_uniform_(w)
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 96)
    nn.init.normal_(w, 2.0, 0.1)
    assert abs(w.numpy().mean() - 2.0) < 0.02
    nn.init.zeros_(w)
    assert not w.numpy().any()
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    assert np.abs(w.numpy()).max() <= math.sqrt(2) * math.sqrt(3 / 32)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
        self.heads = nn.ModuleList([nn.Linear(8, 3), nn.Linear(8, 1)])
        self.scale = nn.Parameter(mdl.ones(1))

    def forward(self, x):
        h = self.features(x).flatten(1)
        return self.heads[0](h) * self.scale


def test_module_names_follow_pytorch():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
                     "heads.0.weight", "heads.0.bias", "heads.1.weight", "heads.1.bias"]
    assert list(net.state_dict())[:3] == ["scale", "features.0.weight", "features.0.bias"]
    assert {"features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked"} <= set(
        net.state_dict())
    assert [type(m).__name__ for m in net.children()] == ["Sequential", "ModuleList"]
    assert len(list(net.modules())) == 8


def test_train_eval_reaches_every_module():
    net = Net().eval()
    assert all(not m.training for m in net.modules())
    assert all(m.training for m in net.train().modules())


def test_to_dtype_casts_parameters_and_float_buffers_only():
    net = Net()
    params = list(net.parameters())
    net.to("float64")
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert list(net.parameters())[0] is params[0]
    assert net.features[1].running_mean.dtype == np.float64
    assert net.features[1].num_batches_tracked.dtype == np.int64


def test_zero_grad_and_parameters_receive_gradients():
    net = Net()
    net(mdl.randn(2, 1, 4, 4)).sum().backward()
    assert all(p.grad is not None for n, p in net.named_parameters() if not n.startswith("heads.1"))
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_load_state_dict_errors_name_the_keys_and_load_nothing():
    net, other = Net(), Net()
    before = net.features[0].weight.numpy().copy()
    state = other.state_dict()
    state["extra.weight"] = mdl.zeros(1)
    del state["scale"]
    state["heads.0.weight"] = mdl.zeros(4, 4)
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(state)
    message = str(err.value)
    assert "missing keys: scale" in message and "unexpected keys: extra.weight" in message
    assert "size mismatch for heads.0.weight" in message and "(4, 4)" in message
    assert np.array_equal(net.features[0].weight.numpy(), before)


def test_load_state_dict_non_strict_and_copies_values():
    net, other = Net(), Net()
    state = other.state_dict()
    del state["scale"]
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert missing == ["scale"] and unexpected == []
    assert np.array_equal(net.heads[0].weight.numpy(), other.heads[0].weight.numpy())
    net.heads[0].weight.data[...] = 0
    assert other.heads[0].weight.numpy().any()


def test_sequential_indexing_and_slicing():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.Linear) and len(seq) == 3
    assert len(seq[:2]) == 2 and seq(mdl.zeros(4, 2)).shape == (4, 1)


def test_module_requires_init_call():
    class Forgot(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"Module.__init__\(\)"):
        Forgot()


# -- arguments and targets checked where the mistake is made ------------------------------

@pytest.mark.parametrize("make, argument", [
    (lambda: nn.Conv2d(1, 2, 0), "kernel_size"),
    (lambda: nn.Conv2d(1, 2, 3, stride=0), "stride"),
    (lambda: nn.Conv2d(1, 2, 3, padding=-1), "padding"),
    (lambda: nn.Conv2d(0, 2, 3), "in_channels"),
    (lambda: nn.Conv1d(1, 2, (0,)), "kernel_size"),
    (lambda: nn.MaxPool2d(2, stride=0), "stride"),
    (lambda: nn.MaxPool2d(0), "kernel_size"),
    (lambda: nn.MaxPool2d(2, padding=2), "padding"),
    (lambda: nn.AvgPool2d(3, padding=-1), "padding"),
    (lambda: nn.Dropout(1.5), "p"),
    (lambda: nn.Dropout(-0.1), "p"),
    (lambda: nn.MultiheadAttention(8, 2, dropout=2.0), "p"),
    (lambda: nn.MultiheadAttention(10, 3), "num_heads"),
    (lambda: nn.GroupNorm(3, 4), "num_groups"),
    (lambda: nn.Embedding(0, 3), "num_embeddings"),
    (lambda: nn.AdaptiveAvgPool2d(0), "output_size"),
    (lambda: nn.GELU("fast"), "approximate"),
])
def test_invalid_layer_arguments_raise_naming_them(make, argument):
    with pytest.raises(ValueError, match=argument):
        make()


def test_options_minidl_lacks_are_refused_not_ignored():
    with pytest.raises(NotImplementedError, match="groups=2"):
        nn.Conv2d(2, 2, 3, groups=2)
    with pytest.raises(NotImplementedError, match="ceil_mode=True"):
        nn.MaxPool2d(2, ceil_mode=True)


def test_dropout_of_one_zeroes_everything():
    assert not nn.Dropout(1.0)(mdl.ones(10)).numpy().any()


@pytest.mark.parametrize("bad", [-1, 3, 7])
def test_a_target_outside_the_classes_raises_naming_it(bad):
    logits = mdl.zeros(3, 3, requires_grad=True)
    for loss in (lambda: F.cross_entropy(logits, mdl.tensor([0, bad, 1])),
                 lambda: F.nll_loss(logits, mdl.tensor([0, bad, 1]), weight=mdl.ones(3)),
                 lambda: F.cross_entropy(logits, mdl.tensor([0, bad, 1]), label_smoothing=0.1)):
        with pytest.raises(IndexError, match=f"target {bad} is out of bounds"):
            loss()


def test_ignore_index_may_be_minus_one_and_those_rows_get_no_gradient():
    logits = mdl.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    loss = F.cross_entropy(logits, mdl.tensor([2, -1, 0]), ignore_index=-1)
    loss.backward()
    assert not logits.grad.numpy()[1].any()
    expected = F.cross_entropy(logits.detach()[mdl.tensor([0, 2])], mdl.tensor([2, 0]))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_binary_cross_entropy_refuses_values_outside_zero_one():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        F.binary_cross_entropy(mdl.tensor([0.5, 1.5]), mdl.tensor([0.0, 1.0]))


def test_inplace_activation_writes_into_its_input():
    x = mdl.tensor([-1.0, 2.0])
    out = nn.ReLU(inplace=True)(x)
    assert out is x and x.numpy().tolist() == [0.0, 2.0]


def test_embedding_rejects_out_of_range_and_float_indices():
    emb = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match="index 4 is out of range"):
        emb(mdl.tensor([1, 4]))
    with pytest.raises(IndexError, match="index -1 is out of range"):
        emb(mdl.tensor([-1]))
    with pytest.raises(TypeError, match="integers"):
        emb(mdl.tensor([1.0]))


def test_embedding_padding_row_starts_at_zero():
    emb = nn.Embedding(5, 3, padding_idx=-1)
    assert emb.padding_idx == 4 and not emb.weight.numpy()[4].any() and emb.weight.numpy()[:4].all()


def test_new_init_functions_follow_pytorch_formulas():
    mdl.manual_seed(0)
    w = mdl.zeros(400, 300)
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    nn.init.xavier_normal_(w, gain=2.0)
    assert w.numpy().std() == pytest.approx(2.0 * math.sqrt(2 / 700), rel=0.02)
    nn.init.uniform_(w, -3.0, -1.0)
    assert -3.0 <= w.numpy().min() and w.numpy().max() < -1.0
    nn.init.ones_(w)
    assert (w.numpy() == 1).all()
    with pytest.raises(ValueError, match="fan_middle"):
        nn.init.kaiming_uniform_(w, mode="fan_middle")
