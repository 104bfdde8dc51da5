"""Weights that ship with the zoo: loading, checksums, mismatches, the manifest tool, and the shipped files'
stated test accuracy (digits always; Fashion-MNIST where its IDX files are installed)."""
import json
from pathlib import Path

import numpy as np
import pytest

import minidl as mdl
from minidl import data, zoo
from minidl.zoo import pretrained, ship

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
SHIPPED = [(w.model, w.dataset) for name in zoo.list_models() for w in zoo.weights(name)]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """An empty weights folder standing in for the package's."""
    monkeypatch.setattr(pretrained, "weights_folder", lambda: tmp_path)
    return tmp_path


def ship_random_mlp(folder, dataset="digits", input_shape=(1, 8, 8)):
    """A freshly initialised mlp recorded in ``folder`` as if trained on ``dataset``; returns its state dict."""
    model = zoo.create("mlp", input_shape=input_shape, num_classes=10)
    weights_file, metrics = folder / "run.safetensors", folder / "run.json"
    mdl.save(model.state_dict(), weights_file)
    history = [{"epoch": e, "test_accuracy": 0.5 + e / 10, "seconds": 1.0 + e} for e in (1, 2)]
    metrics.write_text(json.dumps({"args": {"model": "mlp", "dataset": dataset, "epochs": 2, "data_dir": None},
                                   "history": history}))
    ship.ship(metrics, weights_file, "python scripts/train_mnist.py --model mlp", folder, commit="abc1234")
    return model.state_dict()


def test_weights_load_with_the_datasets_shape_and_are_listed(folder):
    state = ship_random_mlp(folder)
    model = zoo.create("mlp", weights="digits")
    assert model[1].weight.shape == (256, 64)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), state[key].numpy())
    [entry] = zoo.weights("mlp")
    assert (entry.dataset, entry.file, entry.input_shape, entry.num_classes) == ("digits", "mlp-digits.safetensors",
                                                                                 (1, 8, 8), 10)
    assert (entry.test_accuracy, entry.epochs, entry.seconds_per_epoch) == (0.7, 2, 2.5)
    assert entry.command == "python scripts/train_mnist.py --model mlp" and entry.commit == "abc1234"
    assert zoo.weights("lenet5") == []


def test_a_changed_byte_is_refused_by_its_checksum(folder):
    ship_random_mlp(folder)
    path = folder / "mlp-digits.safetensors"
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(zoo.WeightsError, match="sha256 .* does not match the manifest"):
        zoo.create("mlp", weights="digits")


def test_a_missing_file_is_named(folder):
    ship_random_mlp(folder)
    (folder / "mlp-digits.safetensors").unlink()
    with pytest.raises(zoo.WeightsError, match="mlp-digits.safetensors is missing"):
        zoo.create("mlp", weights="digits")


def test_unknown_weights_name_what_ships(folder):
    ship_random_mlp(folder)
    with pytest.raises(zoo.WeightsError, match="no 'mnist' weights ship for 'mlp'; available: 'digits'"):
        zoo.create("mlp", weights="mnist")
    with pytest.raises(zoo.WeightsError, match="available: none"):
        zoo.create("lenet5", weights="digits")
    with pytest.raises(KeyError, match="no model named 'resnet'"):
        zoo.weights("resnet")


def test_a_model_dataset_mismatch_names_what_ships(folder):
    ship_random_mlp(folder)
    with pytest.raises(zoo.WeightsError, match=r"trained for input_shape=\(1, 8, 8\), num_classes=10, not "
                                               r"input_shape=\(1, 28, 28\); shipped weights: 'digits'"):
        zoo.create("mlp", weights="digits", input_shape=(1, 28, 28))
    with pytest.raises(zoo.WeightsError, match="not num_classes=3"):
        zoo.create("mlp", weights="digits", num_classes=3)
    assert zoo.create("mlp", weights="digits", input_shape=[1, 8, 8], num_classes=10)  # the same, as a list
    with pytest.raises(zoo.WeightsError, match="do not fit the model built with {'hidden': 64}"):
        zoo.create("mlp", weights="digits", hidden=64)


def test_ship_refuses_an_unfinished_run(folder):
    (folder / "run.json").write_text(json.dumps({"args": {"model": "mlp", "dataset": "digits", "epochs": 3},
                                                 "history": [{"test_accuracy": 0.5, "seconds": 1}]}))
    with pytest.raises(ValueError, match="1 of 3 epochs ran"):
        ship.ship(folder / "run.json", folder / "missing.safetensors", "cmd", folder)


def test_every_model_of_the_table_ships_fashion_mnist_and_digits_weights():
    for name in ["mlp", "lenet5", "resnet8", "vit-tiny"]:
        assert {w.dataset for w in zoo.weights(name)} >= {"fashion-mnist", "digits"}, name
    for name, dataset in SHIPPED:
        entry = pretrained.find(name, dataset)
        assert entry.file == f"{name}-{dataset}.safetensors" and "--save-weights" in entry.command
        assert entry.path().stat().st_size < 1_100_000, entry.file  # small enough to ship in the wheel


def accuracy_on(model, dataset):
    """Test-split accuracy exactly as scripts/train_mnist.py evaluates it."""
    loader = data.DataLoader(dataset, 1000, dtype="float32")
    model.eval()
    correct = 0
    with mdl.no_grad():
        for x, y in loader:
            correct += int((model(x).argmax(dim=1) == y).astype("int64").sum().item())
    return correct / len(dataset)


@pytest.mark.parametrize("name, dataset", SHIPPED, ids=[f"{m}-{d}" for m, d in SHIPPED])
def test_shipped_weights_reach_their_stated_test_accuracy(name, dataset):
    if dataset == "fashion-mnist" and not Path(FASHION_DIR).is_dir():
        pytest.skip(f"Fashion-MNIST is not installed in {FASHION_DIR} (apt-get install dataset-fashion-mnist)")
    test_set = data.load_dataset(dataset, "test", FASHION_DIR if dataset == "fashion-mnist" else None,
                                 download=False)
    entry = pretrained.find(name, dataset)
    accuracy = accuracy_on(zoo.create(name, weights=dataset), test_set)
    # one test sample either way: BLAS rounding differs with the thread count
    assert accuracy == pytest.approx(entry.test_accuracy, abs=max(0.001, 1.5 / len(test_set))), (name, dataset)

