"""IDX files can neither make minidl read more than their header admits nor pass as a dataset they are not."""
import functools
import gzip
import tracemalloc

import numpy as np
import pytest

from minidl import data
from minidl.data import datasets

IMAGES, LABELS = datasets.SPLIT_FILES["train"]
pytestmark = pytest.mark.filterwarnings("ignore:.*no published checksum")


def idx_header(code, shape):
    return bytes([0, 0, code, len(shape)]) + b"".join(int(n).to_bytes(4, "big") for n in shape)


@functools.lru_cache(maxsize=1)
def zeros_member():
    """16 MiB of zeros as one gzip member of about 16 KB."""
    return gzip.compress(bytes(16 << 20), compresslevel=9, mtime=0)


def gzip_bomb(header, megabytes):
    """``header`` followed by ``megabytes`` MiB of zeros, in a gzip about 1/1000 of that (repeated members)."""
    return gzip.compress(header, mtime=0) + zeros_member() * (megabytes // 16)


def peak_memory_of(function):
    tracemalloc.start()
    try:
        with pytest.raises(data.IDXError) as error:
            function()
        return tracemalloc.get_traced_memory()[1], str(error.value)
    finally:
        tracemalloc.stop()


def test_a_gzip_bomb_behind_a_small_header_is_refused_after_reading_what_the_header_says(tmp_path):
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip_bomb(idx_header(0x08, (2, 28, 28)), 2048))  # 2 GiB of zeros in about 2 MB
    assert path.stat().st_size < 3 << 20
    peak, message = peak_memory_of(lambda: data.read_idx(path))
    assert "trailing data" in message and str(path) in message
    assert peak < 4 << 20


@pytest.mark.parametrize("shape", [(2 ** 32 - 1,) * 3, (2 ** 31, 28, 28), (3_000_000, 28, 28)])
def test_a_gzip_whose_header_announces_more_than_it_can_hold_is_refused_before_inflating(tmp_path, shape):
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip_bomb(idx_header(0x08, shape), 2048))
    peak, message = peak_memory_of(lambda: data.read_idx(path))
    assert "more than a gzip file of" in message and "decompression bomb" in message
    assert peak < 1 << 20


@pytest.mark.parametrize("shape", [(2 ** 32 - 1,) * 3, (0xFFFFFFFF,) * 255, (60000, 28, 28)])
def test_a_raw_header_announcing_more_than_the_file_is_refused_before_reading(tmp_path, shape):
    path = tmp_path / "absurd"
    path.write_bytes(idx_header(0x08, shape) + bytes(100))
    peak, message = peak_memory_of(lambda: data.read_idx(path))
    assert "truncated" in message and str(path) in message
    assert peak < 1 << 20


def test_a_changed_byte_inside_a_gzip_is_found_by_its_crc(tmp_path):
    data.write_idx(tmp_path / "a.gz", np.arange(4000, dtype=np.int32).reshape(40, 100))
    raw = bytearray((tmp_path / "a.gz").read_bytes())
    raw[len(raw) // 2] ^= 0x10
    (tmp_path / "a.gz").write_bytes(bytes(raw))
    with pytest.raises(data.IDXError, match="damaged gzip"):
        data.read_idx(tmp_path / "a.gz")


# -- files of a known dataset ------------------------------------------------------------

def write_split(folder, images, labels, compress):
    folder.mkdir(exist_ok=True)
    suffix = ".gz" if compress else ""
    data.write_idx(folder / (IMAGES + suffix), images)
    data.write_idx(folder / (LABELS + suffix), labels)
    return folder


def good_split(n=5):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("change, file, message", [
    (lambda x, y: (x.astype(np.int16), y), IMAGES, r"element type int16, but mnist train-images-idx3-ubyte holds uint8"),
    (lambda x, y: (x, y.astype(np.int32)), LABELS, r"element type int32, but mnist train-labels-idx1-ubyte holds uint8"),
    (lambda x, y: (x[:, :, :27], y), IMAGES, r"shape \(5, 28, 27\), but mnist .* has shape \(N, 28, 28\)"),
    (lambda x, y: (x[:, None], y), IMAGES, r"shape \(5, 1, 28, 28\), but .* has shape \(N, 28, 28\)"),
    (lambda x, y: (x, y[:, None]), LABELS, r"shape \(5, 1\), but mnist train-labels-idx1-ubyte has shape \(N\)"),
    (lambda x, y: (x[:0], y[:0]), IMAGES, r"0 samples, but the train split of mnist has 1 to 60000 \(an empty file\)"),
    (lambda x, y: (x, np.where(y == y[0], 200, y).astype(np.uint8)), LABELS, r"label 200 is out of range .* \(0..9\)"),
    (lambda x, y: (x, np.full_like(y, 255)), LABELS, r"label 255 is out of range"),
    (lambda x, y: (x, y[:4]), LABELS, r"has 5 images but .*train-labels-idx1-ubyte.* has 4 labels"),
])
def test_every_file_of_a_known_dataset_is_validated(isolated_data, unchecked_mnist, compress, change, file, message):
    folder = write_split(isolated_data / "files", *change(*good_split()), compress)
    with pytest.raises(data.IDXError, match=message) as error:
        data.load_dataset("mnist", "train", data_dir=folder, download=False)
    assert str(folder / file) in str(error.value)


def test_a_file_announcing_more_samples_than_the_dataset_has_is_refused_before_reading(isolated_data, unchecked_mnist):
    folder = isolated_data / "files"
    folder.mkdir()
    (folder / (IMAGES + ".gz")).write_bytes(gzip_bomb(idx_header(0x08, (60001, 28, 28)), 64))
    with pytest.raises(data.IDXError, match=r"60001 samples, but the train split of mnist has 1 to 60000"):
        data.load_dataset("mnist", "train", data_dir=folder, download=False)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_a_valid_file_without_a_published_checksum_loads_with_a_warning(isolated_data, unchecked_mnist, compress):
    images, labels = good_split()
    folder = write_split(isolated_data / "files", images, labels, compress)
    with pytest.warns(UserWarning, match="no published checksum .* only its format, shape and labels were checked"):
        train = data.load_dataset("mnist", "train", data_dir=folder, download=False)
    np.testing.assert_array_equal(train.targets, labels)


def test_fashion_mnist_files_must_have_the_published_content_raw_or_gzip(isolated_data):
    images, labels = good_split()
    for compress in (False, True):
        folder = write_split(isolated_data / f"files{compress}", images, labels, compress)
        with pytest.raises(data.ChecksumError, match="MD5 of the content is .* corrupt or another dataset's"):
            data.load_dataset("fashion-mnist", "train", data_dir=folder, download=False)
