"""Datasets and batching: ``from minidl import data``. Host-side NumPy; arrays reach the device once per batch."""
from .dataset import Dataset
from .datasets import ChecksumError, DatasetUnavailableError, ImageDataset, load_dataset, search_dirs
from .idx import IDXError, read_idx, write_idx
from .loader import DataLoader
from .sampler import DistributedSampler

__all__ = ["load_dataset", "DataLoader", "DistributedSampler", "Dataset", "ImageDataset", "read_idx", "write_idx", "IDXError", "ChecksumError",
           "DatasetUnavailableError", "search_dirs"]
