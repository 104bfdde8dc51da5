"""Datasets by name: MNIST and Fashion-MNIST from IDX files (found locally or downloaded), digits from scikit-learn.

Lookup order for the IDX datasets: the ``data_dir`` argument, ``$MINIDL_DATA``,
``~/.cache/minidl/<name>``, then system folders (Debian's ``dataset-fashion-mnist``
installs /usr/share/datasets/fashion-mnist). If nothing is found and downloading
is allowed, the files are fetched from the known mirrors, checked against their
published MD5 and written atomically into the cache.

Every file is validated, raw or gzip: its header before any data is read (element
type uint8, shape (N, 28, 28) or (N,), 1 <= N <= the published split size, so no
file makes minidl read more than the real one), then its content against the
published MD5 where one is known, its labels against the classes, and the two
files of a split against each other.
"""
import dataclasses
import hashlib
import os
import pathlib
import urllib.error
import urllib.request
import warnings

import numpy as np

from ..atomic_file import atomic_write
from .dataset import Dataset
from .idx import GZIP_MAGIC, IDXError, read_idx

SPLIT_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
SPLIT_SIZES = {"train": 60000, "test": 10000}   # samples in the published files of both datasets
IMAGE_SIZE = (28, 28)


@dataclasses.dataclass(frozen=True)
class Source:
    """Where an IDX dataset lives and how to recognise its files."""

    mirrors: tuple
    gz_md5: dict          # file name -> MD5 of the published .gz
    raw_md5: dict         # file name -> MD5 of the decompressed bytes (where known)
    system_dirs: tuple = ()


SOURCES = {
    "mnist": Source(
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        gz_md5={"train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
                "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
                "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c"},
        raw_md5={},
        system_dirs=("/usr/share/datasets/mnist",)),
    "fashion-mnist": Source(
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        gz_md5={"train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
                "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
                "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310"},
        raw_md5={"train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                 "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
                 "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
                 "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965"},
        system_dirs=("/usr/share/datasets/fashion-mnist",)),
}
CLASSES = {
    "mnist": tuple(str(i) for i in range(10)),
    "digits": tuple(str(i) for i in range(10)),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                      "Bag", "Ankle boot"),
}


class DatasetUnavailableError(RuntimeError):
    """A dataset is not on this machine and could not be downloaded."""


class ChecksumError(ValueError):
    """A dataset file does not have the published content."""


@dataclasses.dataclass
class ImageDataset(Dataset):
    """A labelled image dataset held in memory: images as float32 (N, 1, H, W) scaled to [0, 1],
    labels as int64 (N,), on the host (what ``load_dataset`` returns)."""

    name: str
    split: str
    inputs: np.ndarray
    targets: np.ndarray
    classes: tuple
    source: str

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        return self.inputs[index], self.targets[index]

    @property
    def input_shape(self):
        return tuple(self.inputs.shape[1:])


def load_dataset(name, split="train", data_dir=None, download=True):
    """Load "mnist", "fashion-mnist" or "digits" (split "train" or "test") as an ImageDataset."""
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if name == "digits":
        return _load_digits(split)
    if name not in SOURCES:
        raise ValueError(f"unknown dataset {name!r}; choose from {sorted([*SOURCES, 'digits'])}")
    images_name, labels_name = SPLIT_FILES[split]
    images, path = _read_checked(name, split, images_name, data_dir, download)
    labels, labels_path = _read_checked(name, split, labels_name, data_dir, download)
    if len(images) != len(labels):
        raise IDXError(f"{name} {split}: {path} has {len(images)} images but {labels_path} has {len(labels)} "
                       "labels; the two files are not one split")
    if labels.max() >= len(CLASSES[name]):
        raise IDXError(f"{labels_path}: label {labels.max()} is out of range for the {len(CLASSES[name])} "
                       f"classes of {name} (0..{len(CLASSES[name]) - 1})")
    inputs = (images.astype(np.float32) / 255.0)[:, None]
    return ImageDataset(name, split, inputs, labels.astype(np.int64), CLASSES[name], str(path))


def search_dirs(name, data_dir=None):
    """The folders searched for ``name``'s files, in order."""
    dirs = []
    for base in (data_dir, os.environ.get("MINIDL_DATA")):
        if base:
            base = pathlib.Path(base).expanduser()
            dirs += [base, base / name]
    dirs.append(cache_dir(name))
    dirs += [pathlib.Path(d) for d in SOURCES[name].system_dirs]
    return dirs


def cache_dir(name):
    return pathlib.Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "minidl" / name


def _read_checked(name, split, file_name, data_dir, download):
    """``(array, path)`` of the first copy of ``file_name`` found (or downloaded), checked."""
    path = _find(name, file_name, data_dir)
    if path is None:
        if not download:
            raise DatasetUnavailableError(
                f"{name}: {file_name} not found in {', '.join(map(str, search_dirs(name, data_dir)))} "
                "and downloading is off")
        path = _download(name, file_name)
    content_md5 = hashlib.md5()
    array = read_idx(path, _header_check(name, split, file_name, path), content_md5)
    _verify_checksum(name, file_name, path, content_md5.hexdigest())
    return array, path


def _header_check(name, split, file_name, path):
    """A check refusing a header that cannot be ``file_name`` of ``name``'s ``split``."""
    shape = ("N",) + (IMAGE_SIZE if "images" in file_name else ())

    def check(dtype, actual):
        if dtype != np.uint8:
            raise IDXError(f"{path}: element type {dtype}, but {name} {file_name} holds uint8")
        if len(actual) != len(shape) or actual[1:] != shape[1:]:
            raise IDXError(f"{path}: shape {actual}, but {name} {file_name} has shape "
                           f"({', '.join(map(str, shape))})")
        if not 1 <= actual[0] <= SPLIT_SIZES[split]:
            raise IDXError(f"{path}: {actual[0]} samples, but the {split} split of {name} has 1 to "
                           f"{SPLIT_SIZES[split]}" + (" (an empty file)" if actual[0] == 0 else ""))
    return check


def _find(name, file_name, data_dir):
    for folder in search_dirs(name, data_dir):
        for candidate in (folder / (file_name + ".gz"), folder / file_name):
            if candidate.is_file():
                return candidate
    return None


def _verify_checksum(name, file_name, path, content_md5):
    """Accept ``path`` if its content or its .gz file has the published MD5 (Debian recompressed the .gz)."""
    source = SOURCES[name]
    expected_content, expected_gz = source.raw_md5.get(file_name), source.gz_md5.get(file_name)
    if content_md5 == expected_content:
        return
    with open(path, "rb") as f:
        compressed = f.read(2) == GZIP_MAGIC
    if compressed and expected_gz is not None:
        gz_md5 = _file_md5(path)
        if gz_md5 == expected_gz:
            return
        if expected_content is None:
            raise ChecksumError(f"{path}: MD5 is {gz_md5}, the published {file_name}.gz has {expected_gz}; "
                                "the file is corrupt. Delete it to fetch it again.")
    if expected_content is not None:
        raise ChecksumError(f"{path}: MD5 of the content is {content_md5}, expected {expected_content} for {name} "
                            f"{file_name}; the file is corrupt or another dataset's. Delete it to fetch it again.")
    warnings.warn(f"{path}: no published checksum for this {'compressed' if compressed else 'uncompressed'} "
                  f"{name} file; only its format, shape and labels were checked", stacklevel=4)


def _file_md5(path):
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            md5.update(chunk)
    return md5.hexdigest()


def _download(name, file_name):
    """Fetch ``file_name``.gz from the first mirror that works into the cache; return its path."""
    from tqdm.auto import tqdm

    source = SOURCES[name]
    target = cache_dir(name) / (file_name + ".gz")
    target.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in source.mirrors:
        url = mirror + file_name + ".gz"
        try:
            md5 = hashlib.md5()
            with atomic_write(target) as out, urllib.request.urlopen(url, timeout=30) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=f"{name}/{file_name}.gz") as bar:
                    while chunk := response.read(1 << 16):
                        out.write(chunk)
                        md5.update(chunk)
                        bar.update(len(chunk))
                if md5.hexdigest() != source.gz_md5[file_name]:
                    raise ChecksumError(f"MD5 {md5.hexdigest()} instead of {source.gz_md5[file_name]}")
            return target
        except (OSError, urllib.error.URLError, ChecksumError) as err:
            failures.append(f"{url}: {err}")
    raise DatasetUnavailableError(f"{name}: could not download {file_name}.gz: " + "; ".join(failures))


def _load_digits(split, test_fraction=0.2):
    """scikit-learn's bundled 8x8 digits, split 80/20 by a fixed permutation (no download)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    n_test = int(len(order) * test_fraction)
    chosen = order[n_test:] if split == "train" else order[:n_test]
    inputs = (digits.images[chosen] / 16.0).astype(np.float32)[:, None]
    return ImageDataset("digits", split, inputs, digits.target[chosen].astype(np.int64), CLASSES["digits"],
                   "scikit-learn (bundled)")
