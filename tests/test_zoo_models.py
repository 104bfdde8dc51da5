"""resnet8, vit-tiny and the fully connected models: PyTorch's state_dict keys, PyTorch's predictions from the
same weights, every input shape, gradient checkpointing through their Sequential children."""
from collections import OrderedDict

import numpy as np
import pytest

import minidl as mdl
from minidl import nn, zoo

SHAPES = [(1, 28, 28), (1, 8, 8)]


def test_fully_connected_keys_are_those_of_pytorch_sequential_after_flatten():
    assert list(zoo.create("mlp").state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert list(zoo.create("logreg").state_dict()) == ["0.weight", "0.bias"]
    assert list(zoo.create("mlp-deep").state_dict()) == [f"{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")]
    assert zoo.create("mlp")(mdl.randn(3, 1, 28, 28)).shape == (3, 10)  # still takes images


def test_resnet8_keys_follow_torchvision():
    keys = zoo.create("resnet8").state_dict()
    for key in ["conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer1.0.bn2.bias",
                "layer2.0.downsample.0.weight", "layer2.0.downsample.1.num_batches_tracked",
                "layer3.0.conv2.weight", "fc.weight", "fc.bias"]:
        assert key in keys
    assert not any(k.startswith("layer1.0.downsample") for k in keys)  # same width, stride 1: identity
    assert keys["layer2.0.conv1.weight"].shape == (32, 16, 3, 3) and keys["fc.weight"].shape == (10, 64)


def test_vit_keys_follow_torchvision_one_level_flatter():
    keys = zoo.create("vit-tiny").state_dict()
    assert keys["conv_proj.weight"].shape == (64, 1, 7, 7)
    assert keys["tokens.class_token"].shape == (1, 1, 64)
    assert keys["tokens.pos_embedding"].shape == (1, 17, 64)
    assert keys["encoder_layer_3.self_attention.in_proj_weight"].shape == (192, 64)
    for part in ["ln_1.weight", "self_attention.out_proj.weight", "ln_2.bias", "mlp.0.weight", "mlp.2.bias"]:
        assert f"encoder_layer_0.{part}" in keys
    assert keys["ln.weight"].shape == (64,) and keys["head.weight"].shape == (10, 64)
    assert zoo.create("vit-tiny", input_shape=(1, 8, 8)).patch_size == 2


@pytest.mark.parametrize("name, params", [("resnet8", 77_754), ("vit-tiny", 139_018)])
def test_documented_parameter_counts(name, params):
    assert sum(p.numel() for p in zoo.create(name).parameters()) == params
    assert f"{params:,}" in zoo.registry._models[name].__doc__


@pytest.mark.parametrize("name", ["resnet8", "vit-tiny"])
@pytest.mark.parametrize("shape", [*SHAPES, (3, 16, 12)], ids=str)
def test_new_models_fit_every_input_shape(name, shape):
    model = zoo.create(name, input_shape=shape, num_classes=7)
    assert isinstance(model, nn.Sequential)
    assert model(mdl.randn(2, *shape)).shape == (2, 7)


def test_vit_patch_size_must_divide_the_image():
    with pytest.raises(ValueError, match="patch_size 5 does not divide the input's 28x28"):
        zoo.create("vit-tiny", patch_size=5)


@pytest.mark.parametrize("name", ["resnet8", "vit-tiny", "mlp"])
def test_checkpoint_sequential_gives_the_plain_gradients(name):
    mdl.manual_seed(0)
    model = zoo.create(name, input_shape=(1, 8, 8))
    x, y = mdl.randn(4, 1, 8, 8), mdl.tensor([0, 1, 2, 3])
    grads = []
    for run in (model, lambda v: nn.checkpoint_sequential(model, 3, v)):
        model.zero_grad()
        nn.CrossEntropyLoss()(run(x), y).backward()
        grads.append([p.grad.numpy().copy() for p in model.parameters()])
    for plain, checkpointed in zip(*grads):
        np.testing.assert_allclose(checkpointed, plain, rtol=1e-4, atol=1e-6)


# ---- the same architectures written in PyTorch: minidl's weights give PyTorch's predictions ----

def torch_resnet8(torch, channels, num_classes, widths=(16, 32, 64)):
    tnn = torch.nn

    class BasicBlock(tnn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(cout)
            self.relu = tnn.ReLU()
            self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False), tnn.BatchNorm2d(cout))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + identity)

    stages = [(f"layer{i + 1}", tnn.Sequential(BasicBlock(cin, cout, 1 if i == 0 else 2)))
              for i, (cin, cout) in enumerate(zip((widths[0],) + widths[:-1], widths))]
    return tnn.Sequential(OrderedDict([
        ("conv1", tnn.Conv2d(channels, widths[0], 3, 1, 1, bias=False)), ("bn1", tnn.BatchNorm2d(widths[0])),
        ("relu", tnn.ReLU()), *stages, ("avgpool", tnn.AdaptiveAvgPool2d(1)), ("flatten", tnn.Flatten()),
        ("fc", tnn.Linear(widths[-1], num_classes))]))


def torch_vit(torch, channels, num_classes, patch, num_patches, dim=64, depth=4, heads=4, mlp_dim=128):
    tnn = torch.nn

    class PatchTokens(tnn.Module):
        def __init__(self):
            super().__init__()
            self.class_token = tnn.Parameter(torch.zeros(1, 1, dim))
            self.pos_embedding = tnn.Parameter(torch.zeros(1, num_patches + 1, dim))

        def forward(self, x):
            x = x.flatten(2).transpose(1, 2)
            return torch.cat([self.class_token.expand(len(x), -1, -1), x], dim=1) + self.pos_embedding

    class EncoderBlock(tnn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = tnn.LayerNorm(dim, eps=1e-6)
            self.self_attention = tnn.MultiheadAttention(dim, heads, batch_first=True)
            self.ln_2 = tnn.LayerNorm(dim, eps=1e-6)
            self.mlp = tnn.Sequential(tnn.Linear(dim, mlp_dim), tnn.GELU(), tnn.Linear(mlp_dim, dim))

        def forward(self, x):
            y = self.ln_1(x)
            x = x + self.self_attention(y, y, y, need_weights=False)[0]
            return x + self.mlp(self.ln_2(x))

    class ClassTokenOutput(tnn.Module):
        def forward(self, x):
            return x[:, 0]

    return tnn.Sequential(OrderedDict([
        ("conv_proj", tnn.Conv2d(channels, dim, patch, stride=patch)), ("tokens", PatchTokens()),
        *((f"encoder_layer_{i}", EncoderBlock()) for i in range(depth)),
        ("ln", tnn.LayerNorm(dim, eps=1e-6)), ("class_token_output", ClassTokenOutput()),
        ("head", tnn.Linear(dim, num_classes))]))


def randomize(model):
    """Non-trivial weights and BatchNorm statistics: random affine parameters, running stats from batches."""
    rng = np.random.default_rng(0)
    with mdl.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("bias", "class_token")) or ".bn" in name or name.startswith(("bn", "ln")):
                p.copy_(mdl.tensor(rng.normal(0, 0.3, p.shape).astype("float32")))
    model.train()
    with mdl.no_grad():
        for _ in range(3):
            model(mdl.randn(8, *model_input_shape[model]) * 2 + 0.5)
    return model.eval()


model_input_shape = {}


@pytest.mark.parametrize("name", ["resnet8", "vit-tiny"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_pytorch_model_with_minidls_state_dict_predicts_the_same(name, shape):
    torch = pytest.importorskip("torch", reason="PyTorch is an optional test dependency")
    mdl.manual_seed(1)
    model = zoo.create(name, input_shape=shape, num_classes=10)
    model_input_shape[model] = shape
    randomize(model)
    if name == "resnet8":
        reference = torch_resnet8(torch, shape[0], 10)
    else:
        grid = shape[1] // model.patch_size
        reference = torch_vit(torch, shape[0], 10, model.patch_size, grid * grid)
    state = {k: torch.from_numpy(np.array(v.numpy())) for k, v in model.state_dict().items()}
    reference.load_state_dict(state, strict=True)  # same keys, same shapes, nothing missing or extra
    reference.eval()
    x = np.random.default_rng(2).normal(size=(5, *shape)).astype("float32")
    with mdl.no_grad(), torch.no_grad():
        ours, theirs = model(mdl.tensor(x)).numpy(), reference(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    assert np.ptp(ours) > 0.1  # the outputs differ across samples and classes: the check can fail
