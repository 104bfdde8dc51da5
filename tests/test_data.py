"""IDX files, dataset lookup and download (from file:// mirrors, never the network), and the DataLoader."""
import gzip
import hashlib

import numpy as np
import pytest

from minidl import data
from minidl.data import datasets

pytestmark = pytest.mark.filterwarnings("ignore:.*no published checksum")


def tiny_split(rng, n=6):
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def write_dataset(folder, compress=True):
    """Tiny train/test IDX files in ``folder``; returns {file name: array}."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, (images_name, labels_name) in datasets.SPLIT_FILES.items():
        images, labels = tiny_split(rng, 6 if split == "train" else 4)
        for name, array in ((images_name, images), (labels_name, labels)):
            data.write_idx(folder / (name + (".gz" if compress else "")), array)
            arrays[name] = array
    return arrays


# -- IDX -----------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, suffix):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    data.write_idx(tmp_path / f"a{suffix}", array)
    np.testing.assert_array_equal(data.read_idx(tmp_path / f"a{suffix}"), array)


def test_idx_other_element_types(tmp_path):
    for dtype in (np.int16, np.int32, np.float32, np.float64):
        array = np.linspace(-3, 3, 10).astype(dtype).reshape(2, 5)
        data.write_idx(tmp_path / "a", array)
        np.testing.assert_array_equal(data.read_idx(tmp_path / "a"), array)


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b[:-5], r"truncated"),
    (lambda b: b + b"\x00", r"trailing data"),
    (lambda b: b"\x01" + b[1:], r"bad magic number"),
    (lambda b: b[:2] + b"\x42" + b[3:], r"unknown IDX element type 0x42"),
    (lambda b: b[:3], r"too short"),
    (lambda b: b[:6], r"announces 3 dimensions"),
])
def test_bad_idx_files_say_what_is_wrong(tmp_path, mutate, message):
    data.write_idx(tmp_path / "good", np.zeros((2, 3, 4), np.uint8))
    (tmp_path / "bad").write_bytes(mutate((tmp_path / "good").read_bytes()))
    with pytest.raises(data.IDXError, match=message):
        data.read_idx(tmp_path / "bad")


def test_damaged_gzip_is_reported(tmp_path):
    data.write_idx(tmp_path / "a.gz", np.zeros((50, 4), np.uint8))
    raw = (tmp_path / "a.gz").read_bytes()
    (tmp_path / "a.gz").write_bytes(raw[: len(raw) - 12])
    with pytest.raises(data.IDXError, match="damaged gzip"):
        data.read_idx(tmp_path / "a.gz")


# -- lookup ----------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [True, False])
def test_load_from_data_dir(isolated_data, unchecked_mnist, compress):
    arrays = write_dataset(isolated_data / "files", compress)
    train = data.load_dataset("mnist", "train", data_dir=isolated_data / "files", download=False)
    assert train.inputs.shape == (6, 1, 28, 28) and train.inputs.dtype == np.float32
    np.testing.assert_allclose(train.inputs[:, 0] * 255, arrays["train-images-idx3-ubyte"], atol=1e-3)
    np.testing.assert_array_equal(train.targets, arrays["train-labels-idx1-ubyte"])
    assert train.targets.dtype == np.int64 and len(train) == 6 and train.input_shape == (1, 28, 28)
    assert len(data.load_dataset("mnist", "test", data_dir=isolated_data / "files")) == 4


def test_lookup_order_prefers_data_dir_then_env_then_cache(isolated_data, unchecked_mnist, monkeypatch):
    write_dataset(isolated_data / "arg")
    write_dataset(isolated_data / "env" / "mnist")
    monkeypatch.setenv("MINIDL_DATA", str(isolated_data / "env"))
    assert data.load_dataset("mnist", data_dir=isolated_data / "arg").source.startswith(str(isolated_data / "arg"))
    assert data.load_dataset("mnist").source.startswith(str(isolated_data / "env" / "mnist"))
    dirs = data.search_dirs("mnist", isolated_data / "arg")
    assert dirs[:4] == [isolated_data / "arg", isolated_data / "arg" / "mnist", isolated_data / "env", isolated_data / "env" / "mnist"]
    assert dirs[4] == isolated_data / "cache" / "minidl" / "mnist"


def test_missing_without_download_names_the_searched_folders(isolated_data):
    with pytest.raises(data.DatasetUnavailableError, match=r"not found in .*cache/minidl/mnist.*downloading is off"):
        data.load_dataset("mnist", download=False)


def test_download_failure_is_a_clear_error(isolated_data):
    with pytest.raises(data.DatasetUnavailableError, match="could not download train-images-idx3-ubyte.gz"):
        data.load_dataset("mnist")


def test_wrong_content_fails_the_checksum(isolated_data):
    write_dataset(isolated_data / "files")  # the fashion-mnist checksums are real, the tiny files are not
    with pytest.raises(data.ChecksumError, match="corrupt or another dataset's"):
        data.load_dataset("fashion-mnist", data_dir=isolated_data / "files")


def test_either_the_gz_or_the_content_checksum_is_accepted(isolated_data, monkeypatch):
    arrays = write_dataset(isolated_data / "files")
    gz_md5 = {n: hashlib.md5((isolated_data / "files" / (n + ".gz")).read_bytes()).hexdigest() for n in arrays}
    raw_md5 = {n: hashlib.md5(gzip.decompress((isolated_data / "files" / (n + ".gz")).read_bytes())).hexdigest()
               for n in arrays}
    monkeypatch.setitem(datasets.SOURCES, "fashion-mnist", datasets.Source((), gz_md5, {}, ()))
    assert len(data.load_dataset("fashion-mnist", data_dir=isolated_data / "files")) == 6
    # recompressed (as Debian ships them): the .gz checksum differs, the content one matches
    for n, array in arrays.items():
        (isolated_data / "files" / (n + ".gz")).write_bytes(
            gzip.compress(gzip.decompress((isolated_data / "files" / (n + ".gz")).read_bytes()), compresslevel=1, mtime=1))
    monkeypatch.setitem(datasets.SOURCES, "fashion-mnist", datasets.Source((), gz_md5, raw_md5, ()))
    assert len(data.load_dataset("fashion-mnist", data_dir=isolated_data / "files")) == 6


def test_download_from_a_mirror_verifies_and_writes_atomically(isolated_data, monkeypatch):
    arrays = write_dataset(isolated_data / "mirror")
    gz_md5 = {n: hashlib.md5((isolated_data / "mirror" / (n + ".gz")).read_bytes()).hexdigest() for n in arrays}
    gz_md5["t10k-labels-idx1-ubyte"] = "0" * 32  # this one will fail its checksum
    monkeypatch.undo()  # restore urlopen; the mirror is a local folder (file://), not the network
    monkeypatch.delenv("MINIDL_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(isolated_data / "cache"))
    monkeypatch.setitem(datasets.SOURCES, "mnist", datasets.Source(
        ((isolated_data / "mirror").as_uri() + "/",), gz_md5, {}, ()))
    train = data.load_dataset("mnist", "train")
    np.testing.assert_array_equal(train.targets, arrays["train-labels-idx1-ubyte"])
    cache = isolated_data / "cache" / "minidl" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    with pytest.raises(data.DatasetUnavailableError, match="MD5 .* instead of 0000"):
        data.load_dataset("mnist", "test")
    assert not any(p.name.startswith("t10k-labels") or p.suffix == ".part" for p in cache.iterdir())


def test_digits_is_bundled_and_split_without_overlap():
    train, test = data.load_dataset("digits", "train"), data.load_dataset("digits", "test")
    assert len(train) + len(test) == 1797 and train.inputs.shape[1:] == (1, 8, 8)
    assert 0 <= train.inputs.min() and train.inputs.max() <= 1
    as_rows = {row.tobytes() for row in train.inputs.reshape(len(train), -1)}
    assert sum(row.tobytes() in as_rows for row in test.inputs.reshape(len(test), -1)) < 10  # a few duplicate images


def test_unknown_dataset_and_split():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        data.load_dataset("cifar")
    with pytest.raises(ValueError, match="split must be"):
        data.load_dataset("digits", "valid")


# -- DataLoader ---------------------------------------------------------------------------

def test_loader_batches_cover_the_data_once():
    x, y = np.arange(10, dtype=np.float32)[:, None], np.arange(10)
    batches = list(data.DataLoader((x, y), batch_size=4))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert np.array_equal(np.concatenate([b[1].numpy() for b in batches]), y)
    assert [len(b[1]) for b in data.DataLoader((x, y), batch_size=4, drop_last=True)] == [4, 4]


def test_loader_shuffle_is_seeded_per_epoch_and_resumable():
    y = np.arange(20)
    loader = data.DataLoader((y, y), batch_size=20, shuffle=True, seed=3)
    first, second = next(iter(loader))[0].numpy(), next(iter(loader))[0].numpy()
    assert sorted(first) == list(range(20)) and not np.array_equal(first, second)
    resumed = data.DataLoader((y, y), batch_size=20, shuffle=True, seed=3)
    resumed.set_epoch(1)
    assert np.array_equal(next(iter(resumed))[0].numpy(), second)


def test_loader_yields_tensors_with_dtype_and_rejects_ragged_arrays():
    x, y = data.load_dataset("digits", "test")[:8]
    xb, yb = next(iter(data.DataLoader((x, y), batch_size=8, dtype="float64")))
    assert xb.dtype == np.float64 and yb.dtype == np.int64 and xb.device == "cpu"
    with pytest.raises(ValueError, match="different lengths"):
        data.DataLoader((np.zeros(3), np.zeros(4)))
