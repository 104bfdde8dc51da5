"""The IDX file format of MNIST and Fashion-MNIST: read (raw or gzip) with full validation, and write.

Header: two zero bytes, a type byte, a byte with the number of dimensions, one
big-endian uint32 per dimension; then the data, row-major. Reading takes the header
first and then exactly the bytes it announces, so a file can never make the reader
decompress or allocate more than its header admits, and its header cannot admit
more than the file can hold: a raw file's size must match, and deflate expands by
at most 1032 times, which refuses a decompression bomb before any of it is inflated.
"""
import gzip
import math
import os
import zlib
from typing import Callable, Optional, Union

import numpy as np

from ..atomic_file import atomic_write

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"
DEFLATE_MAX_RATIO = 1032
_CHUNK = 1 << 20

HeaderCheck = Callable[[np.dtype, tuple], None]


class IDXError(ValueError):
    """A file is not a valid IDX file; the message says what is wrong with it."""


def read_idx(path: Union[str, os.PathLike], check: Optional[HeaderCheck] = None, digest=None) -> np.ndarray:
    """Read an IDX file (raw or gzip, told by its content) into a NumPy array.

    ``check(dtype, shape)`` may raise IDXError to refuse a header before any data is read;
    ``digest`` (a hashlib object) is fed the uncompressed bytes, header included.
    """
    name = os.fspath(path)
    with open(name, "rb") as f:
        compressed = f.read(2) == GZIP_MAGIC
        f.seek(0)
        file_size = os.fstat(f.fileno()).st_size
        if not compressed:
            return _read_stream(f, name, file_size, compressed, check, digest)
        try:
            with gzip.GzipFile(fileobj=f) as stream:
                return _read_stream(stream, name, file_size, compressed, check, digest)
        except (OSError, EOFError, zlib.error) as err:
            raise IDXError(f"{name}: damaged gzip stream ({err}); delete the file to fetch it again") from err


def _read_stream(stream, name, file_size, compressed, check, digest):
    head = stream.read(4)
    if len(head) < 4:
        raise IDXError(f"{name}: {len(head)} bytes is too short for an IDX header")
    if head[0] != 0 or head[1] != 0:
        raise IDXError(f"{name}: bad magic number {head.hex()} (an IDX file starts with two zero bytes)")
    type_code, ndim = head[2], head[3]
    if type_code not in IDX_TYPES:
        raise IDXError(f"{name}: unknown IDX element type 0x{type_code:02x}")
    dims = stream.read(4 * ndim)
    if ndim == 0 or len(dims) < 4 * ndim:
        raise IDXError(f"{name}: header announces {ndim} dimensions but the file has only {4 + len(dims)} bytes")
    shape = tuple(int.from_bytes(dims[i:i + 4], "big") for i in range(0, len(dims), 4))
    dtype = np.dtype(IDX_TYPES[type_code])
    nbytes = math.prod(shape) * dtype.itemsize
    _check_size(name, shape, 4 + len(dims), nbytes, file_size, compressed)
    if check is not None:
        check(dtype.newbyteorder("="), shape)
    data = np.empty(nbytes, np.uint8)
    filled = 0
    while filled < nbytes:
        got = stream.readinto(memoryview(data)[filled:filled + _CHUNK])
        if not got:
            raise IDXError(f"{name}: dimensions {shape} need {nbytes} bytes of data but the stream ends after "
                           f"{filled} (truncated)")
        filled += got
    if stream.read(1):
        raise IDXError(f"{name}: more data than its dimensions {shape} announce ({nbytes} bytes): trailing data")
    if digest is not None:
        digest.update(head + dims)
        digest.update(data)
    return data.view(dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def _check_size(name, shape, header, nbytes, file_size, compressed):
    """Refuse a header announcing more data than the file can hold, before reading any of it."""
    if not compressed and header + nbytes != file_size:
        raise IDXError(f"{name}: dimensions {shape} need {header + nbytes} bytes but the file has {file_size} "
                       f"({'truncated' if file_size < header + nbytes else 'trailing data'})")
    if compressed and header + nbytes > DEFLATE_MAX_RATIO * file_size:
        raise IDXError(f"{name}: header announces dimensions {shape} ({header + nbytes} bytes), more than a gzip "
                       f"file of {file_size} bytes can hold (a damaged header or a decompression bomb)")


def write_idx(path: Union[str, os.PathLike], array, compress: Optional[bool] = None) -> None:
    """Write ``array`` as an IDX file (gzip if ``compress`` or the name ends in .gz), atomically."""
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in IDX_TYPES.items()}
    code = codes.get(array.dtype)
    if code is None:
        raise TypeError(f"IDX cannot store dtype {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    payload = header + array.astype(IDX_TYPES[code]).tobytes()
    if compress or (compress is None and os.fspath(path).endswith(".gz")):
        payload = gzip.compress(payload)
    with atomic_write(path) as f:
        f.write(payload)
