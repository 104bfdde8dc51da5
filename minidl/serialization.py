"""save/load of state dicts in the safetensors format: no pickle, so loading never runs code.

Tensors are stored as safetensors entries named by their path in the object
(``0.weight``, ``state.3.exp_avg``), so a module's file reads like PyTorch's and
PyTorch's ``safetensors.torch.load_file`` reads it. Everything else (nesting, int
keys, step counts, learning rates) is described in JSON in the file's metadata,
with the SHA-256 of every tensor's bytes; a digest of that description guards the
description itself, so a changed bit anywhere is found on load.
"""
import hashlib
import io
import json
import os
from typing import Any, BinaryIO, Optional, Union

import numpy as np
from safetensors import SafetensorError, deserialize
from safetensors.numpy import save as safetensors_bytes

from .atomic_file import atomic_write
from .creation import as_tensor
from .tensor import Tensor

FORMAT = "minidl.v2"
_UNVERIFIED_FORMAT = "minidl.v1"   # written before checksums: read without verification
_STRUCTURE_KEY = "minidl.structure"
_DIGEST_KEY = "minidl.structure.sha256"
_DTYPES = {"BOOL": "?", "U8": "u1", "I8": "i1", "U16": "<u2", "I16": "<i2", "U32": "<u4", "I32": "<i4",
           "U64": "<u8", "I64": "<i8", "F16": "<f2", "F32": "<f4", "F64": "<f8"}

FileLike = Union[str, os.PathLike, BinaryIO]


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupted or not readable by minidl."""


def save(obj: Any, f: FileLike) -> None:
    """Write ``obj`` (a state dict of a module or optimizer; nested dicts, lists, numbers, tensors) to ``f``.

    ``f`` is a path or an open binary file. A path is replaced atomically (see
    ``minidl.atomic_file``): through a symbolic link to its target, with the usual
    permissions, and never left half-written, even if the process is killed.
    NumPy scalars (an ``np.float64`` learning rate) are stored as Python numbers.
    """
    arrays = {}
    try:
        structure = _describe(obj, "", arrays)
    except RecursionError:
        raise ValueError("save: the object is nested too deeply, or contains itself") from None
    text = json.dumps(structure)
    metadata = {"format": FORMAT, _STRUCTURE_KEY: text, _DIGEST_KEY: _sha256(text.encode())}
    payload = safetensors_bytes(arrays, metadata=metadata)
    if hasattr(f, "write"):
        f.write(payload)
        return
    with atomic_write(f) as out:
        out.write(payload)


def _sha256(data) -> str:
    return hashlib.sha256(data).hexdigest()


def _tensor_digest(array):
    """SHA-256 of an array's dtype, shape and bytes (little-endian, C order), as stored in the file."""
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
    return digest.hexdigest()


def _describe(obj, path, arrays):
    """A JSON description of ``obj``; its tensors go into ``arrays`` under their paths."""
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, Tensor) or hasattr(obj, "__array_interface__") or hasattr(obj, "__cuda_array_interface__"):
        name = path or "tensor"
        if name in arrays:
            raise ValueError(f"save: two tensors would be stored under the name {name!r}")
        host = obj.numpy() if isinstance(obj, Tensor) else np.asarray(obj)
        host = np.asarray(host, dtype=host.dtype.newbyteorder("<"), order="C")
        arrays[name] = host
        return {"tensor": name, "sha256": _tensor_digest(host)}
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


def load(f: FileLike, device: Optional[str] = "cpu", *, map_location: Any = None,
         weights_only: Optional[bool] = None) -> Any:
    """Read an object written by ``save``, or any plain safetensors file; tensors are placed on ``device``.

    ``f`` is a path or an open binary file. ``map_location`` is PyTorch's name for ``device``
    (a device string). minidl never unpickles, so loading never runs code whatever
    ``weights_only`` says: a PyTorch pickle (.pt/.pth) is refused either way.

    A minidl checkpoint is verified before anything is returned: the SHA-256 of every
    tensor and of the description of the rest, so a truncated or changed file raises
    CheckpointError naming the file and the damaged tensor instead of giving a partly
    or wrongly loaded model. A plain safetensors file (``safetensors.torch.save_file``,
    ``safetensors.numpy.save_file``) carries no checksum: it is read as a flat dict of
    tensors, checked only for its structure. BF16 tensors are read as float32 (exactly);
    other dtypes NumPy lacks (F8_*, F4, C64) raise CheckpointError.
    """
    device = _device(device, map_location)
    name, data = _read(f)
    try:
        tensors = deserialize(data)
        header = json.loads(bytes(data[8:8 + int.from_bytes(data[:8], "little")]))
    except (SafetensorError, ValueError, UnicodeError, RecursionError) as err:
        raise CheckpointError(_unreadable(name, data, err)) from err
    metadata = header.get("__metadata__") or {}
    arrays = {key: _array(name, key, entry) for key, entry in tensors}
    if not (metadata.get("format", "").startswith("minidl") or any(k.startswith("minidl") for k in metadata)):
        return {key: as_tensor(array, device=device) for key, array in arrays.items()}
    try:
        return _rebuild(_verified_structure(name, metadata, arrays), arrays, device)
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError(f"{name}: the structure description is nested too deeply to read") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise CheckpointError(f"{name} has a damaged structure description: {err!r}") from err


def _device(device, map_location):
    if map_location is None:
        return device
    if isinstance(map_location, dict) or callable(map_location):
        raise TypeError("load: map_location must be a device such as 'cpu' or 'cuda:0'; minidl files hold "
                        "host arrays, so a dict or function of storage locations has nothing to remap")
    if device not in ("cpu", None) and str(map_location) != device:
        raise ValueError(f"load: device={device!r} and map_location={map_location!r} disagree")
    return str(map_location)


def _read(f):
    """``(name for messages, file bytes)`` of a path or an open binary file."""
    if hasattr(f, "read"):
        name = str(getattr(f, "name", "<file object>"))
        if isinstance(f, io.TextIOBase):
            raise TypeError(f"load: {name} is opened in text mode; open it with 'rb'")
        return name, bytes(f.read())
    name = os.fspath(f)
    if os.path.isdir(name):
        raise CheckpointError(f"{name} is a folder, not a checkpoint file")
    if not os.path.isfile(name):
        raise CheckpointError(f"no checkpoint at {name}")
    with open(name, "rb") as file:
        return name, file.read()


def _looks_pickled(data):
    """A zip (torch.save since PyTorch 1.6) or a pickle (PROTO opcode, protocol 2 to 5, then another opcode)."""
    return data[:4] == b"PK\x03\x04" or (len(data) > 2 and data[0] == 0x80 and 2 <= data[1] <= 5 and data[2] != 0)


def _unreadable(name, data, err):
    if _looks_pickled(data):
        return (f"{name} looks like a PyTorch pickle (torch.save), which minidl never unpickles (loading one can "
                "run code); convert it with safetensors.torch.save_file(torch.load(path), new_path)")
    return f"{name} is not a readable checkpoint (truncated or corrupted?): {err}"


def _array(name, key, entry):
    """A tensor entry of the file as a NumPy array; BF16 widened to float32."""
    dtype = entry["dtype"]
    if dtype == "BF16":
        widened = np.frombuffer(entry["data"], "<u2").astype(np.uint32) << 16
        return widened.view(np.float32).reshape(entry["shape"])
    if dtype not in _DTYPES:
        raise CheckpointError(f"{name}: tensor {key!r} has dtype {dtype}, which minidl cannot read "
                              f"(it reads {', '.join(_DTYPES)} and BF16)")
    return np.frombuffer(entry["data"], _DTYPES[dtype]).reshape(entry["shape"])


def _verified_structure(name, metadata, arrays):
    """The description of a minidl checkpoint, after checking it and every tensor against their SHA-256."""
    keys = {"format", _STRUCTURE_KEY} | ({_DIGEST_KEY} if metadata.get("format") == FORMAT else set())
    if metadata.get("format") not in (FORMAT, _UNVERIFIED_FORMAT) or set(metadata) != keys:
        raise CheckpointError(f"{name}: damaged or unknown minidl metadata (format {metadata.get('format')!r}, "
                              f"keys {sorted(metadata)}); this minidl reads {FORMAT}")
    text = metadata[_STRUCTURE_KEY]
    if _DIGEST_KEY in metadata and _sha256(text.encode("utf-8", "surrogatepass")) != metadata[_DIGEST_KEY]:
        raise CheckpointError(f"{name}: the description of its contents does not match its checksum (the file "
                              "was changed after saving)")
    structure = json.loads(text)
    if _DIGEST_KEY in metadata:
        _verify_tensors(name, structure, arrays)
    return structure


def _verify_tensors(name, structure, arrays):
    expected = {}
    stack = [structure]
    while stack:  # iterative: the description's depth is not bounded by Python's recursion limit
        spec = stack.pop()
        if isinstance(spec, dict) and "tensor" in spec:
            expected[spec["tensor"]] = spec["sha256"]
        elif isinstance(spec, dict):
            for kind in ("dict", "list", "tuple"):
                stack.extend(item[1] if kind == "dict" else item for item in spec.get(kind, ()))
    if set(expected) != set(arrays):
        extra, missing = sorted(set(arrays) - set(expected)), sorted(set(expected) - set(arrays))
        raise CheckpointError(f"{name}: its tensors do not match its description (the file was changed after "
                              f"saving): not described {extra}, missing {missing}")
    for key, array in arrays.items():
        if _tensor_digest(array) != expected[key]:
            raise CheckpointError(f"{name}: tensor {key!r} does not match its checksum (the file was changed "
                                  "after saving: a damaged disk, copy or download)")


def _rebuild(spec, arrays, device):
    if "tensor" in spec:
        return as_tensor(arrays[spec["tensor"]], device=device)
    if "dict" in spec:
        return {k: _rebuild(v, arrays, device) for k, v in spec["dict"]}
    if "list" in spec:
        return [_rebuild(v, arrays, device) for v in spec["list"]]
    if "tuple" in spec:
        return tuple(_rebuild(v, arrays, device) for v in spec["tuple"])
    return spec["value"]
