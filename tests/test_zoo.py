"""The model zoo: names, shapes for every dataset, parameter counts, registration."""
import pytest

import minidl as mdl
from minidl import nn, zoo


def test_list_models():
    assert {"logreg", "mlp", "mlp-deep", "lenet5"} <= set(zoo.list_models())


@pytest.mark.parametrize("name, params", [("logreg", 7_850), ("mlp", 203_530), ("mlp-deep", 535_818),
                                          ("lenet5", 61_706)])
def test_documented_parameter_counts(name, params):
    model = zoo.create(name)
    assert sum(p.numel() for p in model.parameters()) == params
    assert f"{params:,}" in zoo.registry._models[name].__doc__


@pytest.mark.parametrize("name", ["logreg", "mlp", "mlp-deep", "lenet5"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (3, 16, 12)], ids=str)
def test_every_model_fits_every_input_shape(name, shape):
    model = zoo.create(name, input_shape=shape, num_classes=7)
    assert model(mdl.randn(2, *shape)).shape == (2, 7)


def test_model_options():
    deep = zoo.create("mlp-deep", hidden=(32,), dropout=0.0, batch_norm=True)
    assert [type(m).__name__ for m in deep] == ["Flatten", "Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert zoo.create("mlp", hidden=64)[1].weight.shape == (64, 784)


def test_register_and_errors():
    @zoo.register("test-tiny")
    def tiny(input_shape=(1, 2, 2), num_classes=2):
        return nn.Sequential(nn.Flatten(), nn.Linear(4, num_classes))

    assert "test-tiny" in zoo.list_models() and zoo.create("test-tiny")(mdl.ones(1, 1, 2, 2)).shape == (1, 2)
    with pytest.raises(ValueError, match="already registered"):
        zoo.register("test-tiny")(tiny)
    with pytest.raises(KeyError, match="no model named 'resnet'"):
        zoo.create("resnet")
