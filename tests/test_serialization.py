"""save/load: round trips, optimizer state, scalars, open files, keywords, and clear errors for bad files."""
import io
import os
import pickle

import numpy as np
import pytest

import minidl as mdl
from minidl import nn, optim


def model():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))


def train(net, opt, steps, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x, y = mdl.tensor(rng.standard_normal((4, 1, 4, 4)).astype(np.float32)), mdl.tensor(rng.integers(0, 3, 4))
        opt.zero_grad()
        nn.CrossEntropyLoss()(net(x), y).backward()
        opt.step()


def test_module_round_trip_gives_identical_outputs(tmp_path):
    net = model()
    train(net, optim.SGD(net.parameters(), lr=0.1), 2)
    mdl.save(net.state_dict(), tmp_path / "net.safetensors")
    other = model()
    other.load_state_dict(mdl.load(tmp_path / "net.safetensors"))
    x = mdl.randn(3, 1, 4, 4)
    net.eval(), other.eval()
    np.testing.assert_array_equal(net(x).numpy(), other(x).numpy())
    loaded = mdl.load(tmp_path / "net.safetensors")
    assert loaded["1.num_batches_tracked"].dtype == np.int64 and loaded["1.num_batches_tracked"].shape == ()
    assert loaded["0.weight"].dtype == np.float32 and loaded["0.weight"].shape == (2, 1, 3, 3)


def test_float64_and_nested_structures_keep_their_types(tmp_path):
    obj = {"a": mdl.tensor([1.0, 2.0], dtype="float64"), 3: [1, 2.5, None, "x"], "t": (True, mdl.arange(3))}
    mdl.save(obj, tmp_path / "obj.safetensors")
    back = mdl.load(tmp_path / "obj.safetensors")
    assert back["a"].dtype == np.float64 and back[3] == [1, 2.5, None, "x"]
    assert isinstance(back["t"], tuple) and back["t"][0] is True and back["t"][1].tolist() == [0, 1, 2]


@pytest.mark.parametrize("make", [lambda p: optim.SGD(p, lr=0.1, momentum=0.9), lambda p: optim.Adam(p, lr=0.01),
                                  lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True)],
                         ids=["sgd", "adam", "rmsprop"])
def test_optimizer_state_round_trip_continues_identically(tmp_path, make):
    net = model()
    opt = make(net.parameters())
    train(net, opt, 3)
    mdl.save(net.state_dict(), tmp_path / "m.safetensors")
    mdl.save(opt.state_dict(), tmp_path / "o.safetensors")
    resumed = model()
    resumed.load_state_dict(mdl.load(tmp_path / "m.safetensors"))
    resumed_opt = make(resumed.parameters())
    resumed_opt.load_state_dict(mdl.load(tmp_path / "o.safetensors"))
    train(net, opt, 3, seed=1)
    train(resumed, resumed_opt, 3, seed=1)
    for a, b in zip(net.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_crash_while_saving_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "net.safetensors"
    mdl.save({"w": mdl.ones(3)}, path)

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        mdl.save({"w": mdl.zeros(3)}, path)
    monkeypatch.undo()
    assert mdl.load(path)["w"].tolist() == [1.0, 1.0, 1.0]
    assert os.listdir(tmp_path) == ["net.safetensors"]


def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / "net.safetensors"
    mdl.save(model().state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(mdl.CheckpointError, match="truncated or corrupted"):
        mdl.load(path)


def test_corrupted_header_is_a_clear_error(tmp_path):
    path = tmp_path / "net.safetensors"
    mdl.save(model().state_dict(), path)
    data = bytearray(path.read_bytes())
    data[10:20] = b"\xff" * 10
    path.write_bytes(bytes(data))
    with pytest.raises(mdl.CheckpointError):
        mdl.load(path)


def test_pickle_files_are_refused_without_being_run(tmp_path):
    path = tmp_path / "evil.pt"

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    path.write_bytes(pickle.dumps(Evil()))
    for weights_only in (True, False):
        with pytest.raises(mdl.CheckpointError, match="never unpickles"):
            mdl.load(path, weights_only=weights_only)
    assert not (tmp_path / "pwned").exists()


def test_missing_file_and_folder_are_clear_errors(tmp_path):
    with pytest.raises(mdl.CheckpointError, match="no checkpoint at"):
        mdl.load(tmp_path / "absent.safetensors")
    with pytest.raises(mdl.CheckpointError, match="is a folder"):
        mdl.load(tmp_path)


def test_unsupported_values_are_refused_when_saving(tmp_path):
    with pytest.raises(TypeError, match="cannot store a set"):
        mdl.save({"s": {1, 2}}, tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_unsupported_values_leave_no_file(tmp_path):
    loop = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="nested too deeply, or contains itself"):
        mdl.save(loop, tmp_path / "x.safetensors")
    assert os.listdir(tmp_path) == []


def test_numpy_and_python_scalars_come_back_as_python_numbers(tmp_path):
    obj = {"lr": np.float64(0.01), "f32": np.float32(0.5), "epoch": np.int64(7), "flag": np.bool_(True),
           "n": 3, "x": 2.5, "nan": float("nan"), "big": 2 ** 70, "zero_d": np.array(1.5)}
    mdl.save(obj, tmp_path / "s.safetensors")
    back = mdl.load(tmp_path / "s.safetensors")
    for key in ("lr", "f32", "epoch", "flag", "n", "x", "big"):
        assert type(back[key]) is type(obj[key].item() if isinstance(obj[key], np.generic) else obj[key]), key
        assert back[key] == obj[key], key
    assert np.isnan(back["nan"])
    assert isinstance(back["zero_d"], mdl.Tensor) and back["zero_d"].shape == () and back["zero_d"].item() == 1.5


def test_optimizer_with_a_numpy_lr_steps_after_a_round_trip(tmp_path):
    net = model()
    opt = optim.SGD(net.parameters(), lr=np.float64(0.1), momentum=0.9)
    train(net, opt, 1)
    mdl.save(opt.state_dict(), tmp_path / "o.safetensors")
    resumed = optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    resumed.load_state_dict(mdl.load(tmp_path / "o.safetensors"))
    assert type(resumed.param_groups[0]["lr"]) is float and resumed.param_groups[0]["lr"] == 0.1
    before = [p.numpy().copy() for p in net.parameters()]
    train(net, resumed, 1)
    assert any(not np.array_equal(a, p.numpy()) for a, p in zip(before, net.parameters()))
    assert all(np.isfinite(p.numpy()).all() for p in net.parameters())


def test_open_binary_files_in_both_directions(tmp_path):
    state = model().state_dict()
    buffer = io.BytesIO()
    mdl.save(state, buffer)
    buffer.seek(0)
    back = mdl.load(buffer)
    assert list(back) == list(state)
    with open(tmp_path / "f.safetensors", "wb") as f:
        mdl.save(state, f)
    with open(tmp_path / "f.safetensors", "rb") as f:
        back = mdl.load(f)
    for key in state:
        np.testing.assert_array_equal(back[key].numpy(), state[key].numpy())
    with open(tmp_path / "f.safetensors") as f, pytest.raises(TypeError, match="text mode"):
        mdl.load(f)


def test_map_location_and_weights_only_are_pytorchs_keywords(tmp_path):
    mdl.save({"w": mdl.ones(2)}, tmp_path / "w.safetensors")
    assert mdl.load(tmp_path / "w.safetensors", map_location="cpu")["w"].device == "cpu"
    assert mdl.load(tmp_path / "w.safetensors", map_location=mdl.device("cpu"), weights_only=True)["w"].tolist() == [1, 1]
    assert mdl.load(tmp_path / "w.safetensors", "cpu", weights_only=False)["w"].tolist() == [1, 1]
    with pytest.raises(TypeError, match="map_location must be a device"):
        mdl.load(tmp_path / "w.safetensors", map_location={"cuda:0": "cpu"})
    with pytest.raises(ValueError, match="disagree"):
        mdl.load(tmp_path / "w.safetensors", "cuda", map_location="cpu")


def test_a_numpy_safetensors_file_is_a_flat_dict_of_tensors(tmp_path):
    from safetensors.numpy import save_file

    arrays = {"a.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, 2], np.int32)}
    save_file(arrays, str(tmp_path / "np.safetensors"), metadata={"format": "np", "note": "not minidl's"})
    back = mdl.load(tmp_path / "np.safetensors")
    assert sorted(back) == ["a.weight", "b"]
    for key, array in arrays.items():
        assert back[key].dtype == array.dtype
        np.testing.assert_array_equal(back[key].numpy(), array)



def test_a_pytorch_zip_checkpoint_is_named_as_such(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "model.pt", "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": [1.0]}))
    with pytest.raises(mdl.CheckpointError, match="looks like a PyTorch pickle .* safetensors.torch.save_file"):
        mdl.load(tmp_path / "model.pt")
