"""The registry behind ``zoo.create``: builders by name, with the hyperparameters each trains well with."""
from typing import Any, Callable

from . import pretrained

_models: dict[str, Callable] = {}
_training_defaults: dict[str, dict[str, dict[str, Any]]] = {}

# What every model falls back to; a model overrides what it needs at registration, per dataset.
BASE_DEFAULTS = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0, "lr_schedule": "none",
                 "epochs": 3, "batch_size": 128}
DIGITS_DEFAULTS = {"epochs": 30, "batch_size": 32, "lr": 0.05}  # 40x less data: more, smaller steps


def register(name: str, defaults: dict | None = None, **per_dataset: dict) -> Callable:
    """Decorator: make a model builder (a class or function returning an nn.Module) available by ``name``.

    ``defaults`` are the training hyperparameters the model trains reliably with (``scripts/train_mnist.py``
    uses them); ``per_dataset`` overrides them for one dataset, e.g. ``digits={"lr": 0.05}``.
    """
    def add(builder):
        if name in _models:
            raise ValueError(f"a model named {name!r} is already registered")
        _models[name] = builder
        _training_defaults[name] = {"*": dict(defaults or {}),
                                    **{k.replace("_", "-"): dict(v) for k, v in per_dataset.items()}}
        return builder
    return add


def list_models() -> list[str]:
    """The registered model names, sorted."""
    return sorted(_models)


def _check(name: str) -> None:
    if name not in _models:
        raise KeyError(f"no model named {name!r}; available: {', '.join(list_models())}")


def training_defaults(name: str, dataset: str) -> dict[str, Any]:
    """The hyperparameters ``name`` trains reliably with on ``dataset`` (optimizer, lr, momentum, epochs, ...)."""
    _check(name)
    own = _training_defaults[name]
    return {**BASE_DEFAULTS, **(DIGITS_DEFAULTS if dataset == "digits" else {}), **own["*"], **own.get(dataset, {})}


def create(name: str, weights: str | None = None, **kwargs):
    """Build the model registered as ``name`` with ``kwargs`` (input_shape, num_classes, ...).

    ``weights="fashion-mnist"`` or ``"digits"`` loads the weights that ship with minidl for that dataset
    (``weights(name)`` lists them), checked against their sha256; the input shape and class count then
    come from the dataset, and asking for others raises WeightsError naming what ships. As in torchvision,
    the model comes back in training mode: call ``.eval()`` before predicting.
    """
    _check(name)
    if weights is None:
        return _models[name](**kwargs)
    entry = pretrained.find(name, weights)
    pretrained.check_fits(entry, kwargs.pop("input_shape", None), kwargs.pop("num_classes", None))
    model = _models[name](input_shape=entry.input_shape, num_classes=entry.num_classes, **kwargs)
    try:
        model.load_state_dict(pretrained.load_state_dict(entry))
    except (KeyError, ValueError, RuntimeError) as err:
        if isinstance(err, pretrained.WeightsError):
            raise
        raise pretrained.WeightsError(f"{name} weights {weights!r} do not fit the model built with {kwargs}: "
                                      f"{err}") from err
    return model


def weights(name: str) -> list:
    """The weights that ship for model ``name`` (dataset, file, test accuracy, epochs, the command that made
    them); an empty list when none do."""
    _check(name)
    return pretrained.available(name)
