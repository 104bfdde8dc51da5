"""The registry behind ``zoo.create``."""
_models = {}


def register(name):
    """Decorator: make a model builder (a class or function returning an nn.Module) available by ``name``."""
    def add(builder):
        if name in _models:
            raise ValueError(f"a model named {name!r} is already registered")
        _models[name] = builder
        return builder
    return add


def list_models():
    """The registered model names, sorted."""
    return sorted(_models)


def create(name, **kwargs):
    """Build the model registered as ``name`` with ``kwargs`` (input_shape, num_classes, ...)."""
    if name not in _models:
        raise KeyError(f"no model named {name!r}; available: {', '.join(list_models())}")
    return _models[name](**kwargs)
