"""Weights that ship with minidl: ``minidl/zoo/weights/NAME-DATASET.safetensors``, listed in ``manifest.json``
with each file's sha256, test accuracy and the ``scripts/train_mnist.py`` command that produced it."""
import dataclasses
import hashlib
import io
import json
from importlib import resources
from typing import Any

from .. import serialization

MANIFEST = "manifest.json"


class WeightsError(ValueError):
    """Shipped weights that are missing, corrupt, or do not fit the model asked for."""


@dataclasses.dataclass(frozen=True)
class Weights:
    """One shipped weights file and how it was made."""
    model: str
    dataset: str
    file: str
    sha256: str
    input_shape: tuple
    num_classes: int
    test_accuracy: float
    epochs: int
    seconds_per_epoch: float
    command: str
    commit: str  # the minidl commit whose code reproduces the file bit for bit (later float changes move it)

    def path(self):
        """The file inside the installed package (a ``Traversable``; a real path for regular installs)."""
        return weights_folder() / self.file


def weights_folder():
    return resources.files("minidl.zoo") / "weights"


def _manifest() -> dict[str, dict[str, dict[str, Any]]]:
    entry = weights_folder() / MANIFEST
    return json.loads(entry.read_text()) if entry.is_file() else {}


def available(model: str) -> list[Weights]:
    """What ships for ``model`` (an empty list when nothing does), one entry per dataset."""
    return [Weights(model=model, dataset=dataset, **{**meta, "input_shape": tuple(meta["input_shape"])})
            for dataset, meta in _manifest().get(model, {}).items()]


def find(model: str, dataset: str) -> Weights:
    """The entry for ``model`` trained on ``dataset``, or WeightsError naming what ships."""
    for entry in available(model):
        if entry.dataset == dataset:
            return entry
    shipped = ", ".join(repr(w.dataset) for w in available(model)) or "none"
    raise WeightsError(f"no {dataset!r} weights ship for {model!r}; available: {shipped}")


def check_fits(entry: Weights, input_shape, num_classes) -> None:
    """Refuse an input shape or class count other than the one the weights were trained for."""
    asked = {"input_shape": None if input_shape is None else tuple(input_shape), "num_classes": num_classes}
    trained = {"input_shape": entry.input_shape, "num_classes": entry.num_classes}
    wrong = [f"{k}={v}" for k, v in asked.items() if v is not None and v != trained[k]]
    if wrong:
        others = ", ".join(f"{w.dataset!r} (input_shape={w.input_shape}, num_classes={w.num_classes})"
                           for w in available(entry.model))
        raise WeightsError(f"{entry.model} weights {entry.dataset!r} were trained for input_shape="
                           f"{entry.input_shape}, num_classes={entry.num_classes}, not {', '.join(wrong)}; "
                           f"shipped weights: {others}")


def load_state_dict(entry: Weights) -> dict:
    """Read ``entry``'s file after checking its sha256 against the manifest."""
    path = entry.path()
    if not path.is_file():
        raise WeightsError(f"{entry.model} weights {entry.dataset!r}: {entry.file} is missing from the "
                           f"installed package ({weights_folder()}); reinstall minidl")
    content = path.read_bytes()  # read once: the bytes checked are the bytes loaded
    digest = hashlib.sha256(content).hexdigest()
    if digest != entry.sha256:
        raise WeightsError(f"{path}: sha256 {digest} does not match the manifest's {entry.sha256}; the file "
                           f"is corrupt or was replaced; reinstall minidl")
    return serialization.load(io.BytesIO(content))
