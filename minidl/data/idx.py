"""The IDX file format of MNIST and Fashion-MNIST: read (raw or gzip) with full validation, and write.

Header: two zero bytes, a type byte, a byte with the number of dimensions, one
big-endian uint32 per dimension; then the data, row-major.
"""
import gzip
import os

import numpy as np

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"


class IDXError(ValueError):
    """A file is not a valid IDX file; the message says what is wrong with it."""


def decompress(data, name):
    """``data`` itself, or its decompressed content if it is gzip (detected by content, not name)."""
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as err:
        raise IDXError(f"{name}: damaged gzip stream ({err}); delete the file to fetch it again") from err


def read_bytes(path):
    """The file's bytes, decompressed if it is gzip."""
    with open(path, "rb") as f:
        return decompress(f.read(), path)


def parse_idx(data, name="<bytes>"):
    """An IDX file's contents (bytes, uncompressed) as a NumPy array."""
    if len(data) < 4:
        raise IDXError(f"{name}: {len(data)} bytes is too short for an IDX header")
    if data[0] != 0 or data[1] != 0:
        raise IDXError(f"{name}: bad magic number {data[:4].hex()} (an IDX file starts with two zero bytes)")
    type_code, ndim = data[2], data[3]
    if type_code not in IDX_TYPES:
        raise IDXError(f"{name}: unknown IDX element type 0x{type_code:02x}")
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise IDXError(f"{name}: header announces {ndim} dimensions but the file has only {len(data)} bytes")
    shape = tuple(int(n) for n in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_TYPES[type_code])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise IDXError(f"{name}: dimensions {shape} need {expected} bytes but the file has {len(data)} "
                       f"({'truncated' if len(data) < expected else 'trailing data'})")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path):
    """Read an IDX file (raw or gzip) into a NumPy array, checking magic, dimensions and length."""
    return parse_idx(read_bytes(path), os.fspath(path))


def write_idx(path, array, compress=None):
    """Write ``array`` as an IDX file (gzip if ``compress`` or the name ends in .gz)."""
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in IDX_TYPES.items()}
    code = codes.get(array.dtype)
    if code is None:
        raise TypeError(f"IDX cannot store dtype {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    payload = header + array.astype(IDX_TYPES[code]).tobytes()
    if compress or (compress is None and os.fspath(path).endswith(".gz")):
        payload = gzip.compress(payload)
    with open(path, "wb") as f:
        f.write(payload)
