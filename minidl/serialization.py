"""save/load of state dicts in the safetensors format: no pickle, so loading never runs code.

Tensors are stored as safetensors entries named by their path in the object
(``0.weight``, ``state.3.exp_avg``), so a module's file reads like PyTorch's.
Everything else (nesting, int keys, step counts, learning rates) is described in
JSON in the file's metadata. Writes go to a temporary file that replaces the
target only once complete.
"""
import json
import os
import tempfile

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save as safetensors_bytes

from .creation import tensor as make_tensor
from .tensor import Tensor

FORMAT = "minidl.v1"
_STRUCTURE_KEY = "minidl.structure"


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupted or not minidl's."""


def save(obj, path):
    """Write ``obj`` (a state dict of a module or optimizer; nested dicts, lists, numbers, tensors) to ``path``."""
    arrays = {}
    structure = _describe(obj, "", arrays)
    metadata = {"format": FORMAT, _STRUCTURE_KEY: json.dumps(structure)}
    payload = safetensors_bytes(arrays, metadata=metadata)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _describe(obj, path, arrays):
    """A JSON description of ``obj``; its tensors go into ``arrays`` under their paths."""
    if isinstance(obj, Tensor) or hasattr(obj, "__array_interface__") or hasattr(obj, "__cuda_array_interface__"):
        name = path or "tensor"
        if name in arrays:
            raise ValueError(f"save: two tensors would be stored under the name {name!r}")
        host = obj.numpy() if isinstance(obj, Tensor) else np.asarray(obj)
        arrays[name] = np.asarray(host, order="C")
        return {"tensor": name}
    if isinstance(obj, dict):
        return {"dict": [[k, _describe(v, _join(path, k), arrays)] for k, v in obj.items()
                         if _check_key(k)]}
    if isinstance(obj, (list, tuple)):
        items = [_describe(v, _join(path, i), arrays) for i, v in enumerate(obj)]
        return {"tuple" if isinstance(obj, tuple) else "list": items}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise TypeError(f"save: cannot store a {type(obj).__name__} at {path or 'the top level'!r}; "
                    "only tensors, numbers, strings, None and dicts/lists of them")


def _check_key(key):
    if not isinstance(key, (str, int)) or isinstance(key, bool):
        raise TypeError(f"save: dict keys must be str or int, got {key!r}")
    return True


def _join(path, key):
    return f"{path}.{key}" if path else str(key)


def load(path, device="cpu"):
    """Read an object written by ``save``; its tensors are placed on ``device``.

    The whole file is read and checked before anything is returned, so a bad file
    raises CheckpointError instead of giving a partly loaded model.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with safe_open(path, framework="numpy") as f:
            metadata = f.metadata() or {}
            arrays = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupted?): {err}") from err
    if metadata.get("format") != FORMAT or _STRUCTURE_KEY not in metadata:
        raise CheckpointError(f"{path} is a safetensors file but not a minidl checkpoint (no {FORMAT} metadata)")
    try:
        structure = json.loads(metadata[_STRUCTURE_KEY])
        return _rebuild(structure, arrays, device)
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} has a damaged structure description: {err!r}") from err


def _rebuild(spec, arrays, device):
    if "tensor" in spec:
        return make_tensor(arrays[spec["tensor"]], device=device)
    if "dict" in spec:
        return {k: _rebuild(v, arrays, device) for k, v in spec["dict"]}
    if "list" in spec:
        return [_rebuild(v, arrays, device) for v in spec["list"]]
    if "tuple" in spec:
        return tuple(_rebuild(v, arrays, device) for v in spec["tuple"])
    return spec["value"]
