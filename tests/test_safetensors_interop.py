"""Against PyTorch: its safetensors state dicts load into minidl models, and minidl checkpoints into PyTorch."""
import numpy as np
import pytest

import minidl as mdl
from minidl import nn

torch = pytest.importorskip("torch", reason="PyTorch is an optional test dependency (pip install torch)")
safetensors_torch = pytest.importorskip("safetensors.torch")


def minidl_net():
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(3 * 4 * 4, 5), nn.ReLU(), nn.Linear(5, 2))


def torch_net():
    tn = torch.nn
    return tn.Sequential(tn.Conv2d(1, 3, 3, padding=1), tn.BatchNorm2d(3), tn.ReLU(), tn.MaxPool2d(2),
                         tn.Flatten(), tn.Linear(3 * 4 * 4, 5), tn.ReLU(), tn.Linear(5, 2))


def batch():
    return np.random.default_rng(0).standard_normal((4, 1, 8, 8)).astype(np.float32)


def trained_torch_net():
    """A PyTorch net whose batch-norm statistics are not the defaults, in eval mode."""
    torch.manual_seed(0)
    net = torch_net()
    net(torch.randn(16, 1, 8, 8) * 3 + 1)
    return net.eval()


def test_a_pytorch_state_dict_loads_into_the_same_minidl_layers(tmp_path):
    net = trained_torch_net()
    safetensors_torch.save_file(net.state_dict(), str(tmp_path / "torch.safetensors"))
    state = mdl.load(tmp_path / "torch.safetensors")
    assert sorted(state) == sorted(net.state_dict()) and all(isinstance(v, mdl.Tensor) for v in state.values())
    ours = minidl_net()
    ours.load_state_dict(state)
    ours.eval()
    with torch.no_grad():
        expected = net(torch.from_numpy(batch())).numpy()
    np.testing.assert_allclose(ours(mdl.tensor(batch())).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_a_minidl_checkpoint_loads_into_pytorch(tmp_path):
    ours = minidl_net()
    ours(mdl.randn(16, 1, 8, 8) * 3 + 1)  # batch-norm statistics away from their defaults
    ours.eval()
    mdl.save(ours.state_dict(), tmp_path / "minidl.safetensors")
    net = torch_net()
    net.load_state_dict(safetensors_torch.load_file(str(tmp_path / "minidl.safetensors")), strict=True)
    net.eval()
    with torch.no_grad():
        theirs = net(torch.from_numpy(batch())).numpy()
    np.testing.assert_allclose(theirs, ours(mdl.tensor(batch())).numpy(), rtol=1e-5, atol=1e-5)


def test_pytorch_dtypes_keep_theirs_and_bfloat16_is_widened(tmp_path):
    tensors = {"f64": torch.arange(3, dtype=torch.float64), "i64": torch.tensor(7), "b": torch.tensor([True, False]),
               "bf16": torch.tensor([1.5, -0.25], dtype=torch.bfloat16), "u8": torch.arange(4, dtype=torch.uint8)}
    safetensors_torch.save_file(tensors, str(tmp_path / "t.safetensors"))
    back = mdl.load(tmp_path / "t.safetensors")
    assert back["f64"].dtype == np.float64 and back["i64"].shape == () and back["i64"].item() == 7
    assert back["b"].dtype == np.bool_ and back["u8"].tolist() == [0, 1, 2, 3]
    assert back["bf16"].dtype == np.float32 and back["bf16"].tolist() == [1.5, -0.25]
