"""Datasets and batching: ``from minidl import data`` (also ``minidl.utils.data``, PyTorch's path). Host-side NumPy;
arrays reach the device once per batch."""
from .dataset import Dataset, Subset, TensorDataset, random_split
from .datasets import ChecksumError, DatasetUnavailableError, ImageDataset, load_dataset, search_dirs
from .idx import IDXError, read_idx, write_idx
from .loader import (BatchSampler, DataLoader, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                     default_collate)
from .sampler import DistributedSampler

__all__ = ["load_dataset", "DataLoader", "Dataset", "ImageDataset", "read_idx", "write_idx", "IDXError",
           "ChecksumError", "DatasetUnavailableError", "search_dirs", "TensorDataset", "Subset", "random_split", "default_collate",
           "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler", "DistributedSampler"]
