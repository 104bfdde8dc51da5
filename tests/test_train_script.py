"""scripts/train_mnist.py end to end on the bundled digits: accuracy, exact resume, fallback, errors."""
import importlib.util
import json
import pathlib

import numpy as np
import pytest

import minidl as mdl
from minidl import backends
from minidl.data import datasets

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "train_mnist.py"
spec = importlib.util.spec_from_file_location("train_mnist", SCRIPT)
train_mnist = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train_mnist)


def run(*args):
    return train_mnist.main(["--quiet", *args])


@pytest.mark.parametrize("model", ["logreg", "mlp", "mlp-deep", "lenet5"])
def test_every_zoo_model_learns_digits(model):
    history = run("--dataset", "digits", "--model", model)
    assert history[-1]["test_accuracy"] >= 0.93, history[-1]


def test_resume_continues_exactly(tmp_path):
    common = ["--dataset", "digits", "--model", "mlp-deep", "--optimizer", "adam", "--lr", "0.003",
              "--lr-schedule", "step", "--epochs"]  # step: its schedule does not depend on --epochs
    run(*common, "4", "--checkpoint-dir", str(tmp_path / "straight"))
    run(*common, "2", "--checkpoint-dir", str(tmp_path / "resumed"))
    history = run(*common, "4", "--checkpoint-dir", str(tmp_path / "resumed"), "--resume")
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    straight = mdl.load(tmp_path / "straight" / "last.safetensors")
    resumed = mdl.load(tmp_path / "resumed" / "last.safetensors")
    for name, value in straight["model"].items():
        np.testing.assert_array_equal(resumed["model"][name].numpy(), value.numpy(), err_msg=name)
    assert resumed["optimizer"]["state"][0]["step"] == straight["optimizer"]["state"][0]["step"]
    np.testing.assert_array_equal(resumed["optimizer"]["state"][0]["exp_avg"].numpy(),
                                  straight["optimizer"]["state"][0]["exp_avg"].numpy())


def test_metrics_json_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    run("--dataset", "digits", "--epochs", "2", "--metrics-json", str(tmp_path / "m.json"),
        "--plot", str(tmp_path / "curves.png"))
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
    assert set(metrics["history"][0]) >= {"train_loss", "test_loss", "test_accuracy", "seconds", "samples_per_s"}
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_grad_checkpoint_trains_identically():
    plain = run("--dataset", "digits", "--model", "mlp-deep", "--epochs", "2")
    checkpointed = run("--dataset", "digits", "--model", "mlp-deep", "--epochs", "2", "--grad-checkpoint")
    for a, b in zip(plain, checkpointed):  # equal up to float rounding: one or two of 359 predictions may flip
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["test_accuracy"] == pytest.approx(b["test_accuracy"], abs=2.5 / 359)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """MNIST absent everywhere and its download failing, as on a machine without internet."""
    monkeypatch.delenv("MINIDL_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise OSError("offline")
    monkeypatch.setattr(datasets.urllib.request, "urlopen", no_network)
    source = datasets.SOURCES["mnist"]
    monkeypatch.setitem(datasets.SOURCES, "mnist", datasets.Source(source.mirrors, source.gz_md5, {}, ()))


def test_offline_mnist_falls_back_to_digits_with_one_message(offline, capsys):
    history = run()
    err = capsys.readouterr().err
    assert "mnist is not available" in err and "--data-dir" in err and "--dataset" in err
    assert "digits" in err and history[-1]["test_accuracy"] > 0.93


def test_no_fallback_fails_with_exit_code_2(offline, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run("--dataset", "mnist", "--no-fallback")
    assert exit_info.value.code == 2 and "could not download" in capsys.readouterr().err


@pytest.mark.skipif("cupy" in backends.available(), reason="a usable GPU is present")
def test_cuda_without_gpu_exits_2_without_traceback(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run("--device", "cuda")
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and "Traceback" not in err
