"""PyTorch's data API: DataLoader over any map-style dataset, datasets, splits, samplers; DLPack exchange."""
import threading
from collections import namedtuple

import numpy as np
import pytest

import minidl as mdl
from minidl import data


class Squares(data.Dataset):
    """A map-style dataset as a PyTorch user writes one: (array, label) per index."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(3, i, dtype=np.float32), i * i


def column(loader, k):
    return np.concatenate([batch[k].numpy() for batch in loader])


def test_loader_batches_a_map_style_dataset_with_the_default_collate():
    loader = data.DataLoader(Squares(5), batch_size=2)
    batches = list(loader)
    assert len(loader) == 3 and loader.dataset.n == 5 and len(batches) == 3
    x, y = batches[0]
    assert x.shape == (2, 3) and x.dtype == np.float32 and y.dtype == np.int64
    assert y.numpy().tolist() == [0, 1] and column(loader, 1).tolist() == [0, 1, 4, 9, 16]


def test_default_collate_follows_pytorch_for_nested_samples():
    Point = namedtuple("Point", "x y")
    batch = data.default_collate([{"a": (1.0, "s"), "p": Point(np.int64(1), mdl.ones(2))},
                                  {"a": (2.0, "t"), "p": Point(np.int64(2), mdl.zeros(2))}])
    assert batch["a"][0].dtype == np.float64 and batch["a"][1] == ["s", "t"]  # Python floats stay float64
    assert isinstance(batch["p"], Point) and batch["p"].x.numpy().tolist() == [1, 2]
    assert batch["p"].y.shape == (2, 2)
    with pytest.raises(RuntimeError, match="equal size"):
        data.default_collate([[1, 2], [3]])


def test_collate_fn_receives_the_list_of_samples():
    seen = []
    loader = data.DataLoader(Squares(4), batch_size=3, collate_fn=lambda samples: seen.append(len(samples)) or 0)
    assert list(loader) == [0, 0] and seen == [3, 1]


def test_array_fast_path_gives_the_same_batches_as_per_sample_reading():
    x, y = np.random.default_rng(0).standard_normal((10, 2)).astype(np.float32), np.arange(10)
    fast = data.DataLoader(data.TensorDataset(x, y), batch_size=4, shuffle=True, seed=1)
    slow = data.DataLoader(data.TensorDataset(x, y), batch_size=4, shuffle=True, seed=1,
                           collate_fn=data.default_collate)
    for (xf, yf), (xs, ys) in zip(fast, slow):
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())


def test_tensor_dataset_of_tensors_and_len_of_dataset():
    ds = data.TensorDataset(mdl.arange(6).reshape(3, 2), mdl.tensor([0, 1, 0]))
    x, y = ds[1]
    assert x.numpy().tolist() == [2, 3] and y.item() == 1
    loader = data.DataLoader(ds, batch_size=2)
    assert len(loader.dataset) == 3 and column(loader, 0).tolist() == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(ValueError, match="size mismatch"):
        data.TensorDataset(mdl.zeros(3), mdl.zeros(4))


def test_shuffle_without_seed_is_repeatable_after_manual_seed():
    loader = data.DataLoader(Squares(20), batch_size=20, shuffle=True)
    mdl.manual_seed(3)
    first = column(loader, 1)
    mdl.manual_seed(3)
    assert np.array_equal(column(loader, 1), first) and sorted(first.tolist()) == [i * i for i in range(20)]
    assert not np.array_equal(column(loader, 1), first)  # the next epoch is another permutation


def test_num_workers_gives_identical_batches_in_order():
    threads = set()

    class Recording(Squares):
        def __getitem__(self, i):
            threads.add(threading.get_ident())
            return super().__getitem__(i)

    serial = data.DataLoader(Squares(30), batch_size=4, shuffle=True, seed=7)
    parallel = data.DataLoader(Recording(30), batch_size=4, shuffle=True, seed=7, num_workers=3)
    assert np.array_equal(column(serial, 1), column(parallel, 1))
    assert threading.get_ident() not in threads
    with pytest.raises(ValueError, match="num_workers"):
        data.DataLoader(Squares(3), num_workers=-1)


def test_sampler_and_batch_sampler_choose_the_indices():
    loader = data.DataLoader(Squares(6), batch_size=2, sampler=[5, 4, 3])
    assert column(loader, 1).tolist() == [25, 16, 9] and len(loader) == 2
    batches = data.DataLoader(Squares(6), batch_sampler=[[0, 5], [1]])
    assert [b[1].numpy().tolist() for b in batches] == [[0, 25], [1]]
    with pytest.raises(ValueError, match="mutually exclusive"):
        data.DataLoader(Squares(6), sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="mutually exclusive"):
        data.DataLoader(Squares(6), batch_sampler=[[0]], batch_size=2)


def test_subset_and_random_split_partition_the_dataset():
    ds = Squares(10)
    parts = data.random_split(ds, [0.5, 0.3, 0.2], seed=0)
    assert [len(p) for p in parts] == [5, 3, 2]
    labels = sorted(p[i][1] for p in parts for i in range(len(p)))
    assert labels == [i * i for i in range(10)]
    assert [len(p) for p in data.random_split(range(10), [0.34, 0.33, 0.33], seed=0)] == [4, 3, 3]
    again = data.random_split(ds, [5, 3, 2], seed=0)
    assert [a.indices for a in again] == [p.indices for p in parts]
    with pytest.raises(ValueError, match="sum to 9"):
        data.random_split(ds, [5, 4])


def test_loader_over_a_subset_of_arrays_uses_the_subset_order():
    x = np.arange(8, dtype=np.float32)[:, None]
    subset = data.Subset(data.TensorDataset(x, np.arange(8)), [6, 1, 3])
    assert column(data.DataLoader(subset, batch_size=2), 1).tolist() == [6, 1, 3]


def test_torch_utils_data_path_is_minidl_data():
    import minidl as torch
    from minidl.utils.data import DataLoader, TensorDataset
    assert torch.utils.data is mdl.data and DataLoader is data.DataLoader and TensorDataset is data.TensorDataset


# -- DLPack ----------------------------------------------------------------------------------

def test_from_dlpack_shares_memory_with_numpy_both_ways():
    array = np.arange(4.0)
    t = mdl.from_dlpack(array)
    t.data[0] = 9.0  # a write on minidl's side
    assert array[0] == 9.0
    array[1] = -1.0  # a write on NumPy's side
    assert t.numpy()[1] == -1.0
    back = np.from_dlpack(t)
    back[2] = 5.0
    assert t.numpy()[2] == 5.0


def test_from_dlpack_shares_memory_with_pytorch_both_ways():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    theirs = torch.arange(3.0)
    ours = mdl.from_dlpack(theirs)
    ours.data[1] = 7.0
    assert theirs[1].item() == 7.0 and ours.device == "cpu"
    mine = mdl.ones(3)
    shared = torch.from_dlpack(mine)
    shared[0] = 5.0
    assert mine.numpy().tolist() == [5.0, 1.0, 1.0] and mine.__dlpack_device__() == (1, 0)
    assert mdl.from_dlpack(torch.utils.dlpack.to_dlpack(theirs)).numpy().tolist() == [0.0, 7.0, 2.0]
