"""flip, roll, repeat, tile, split, chunk, tril, triu, gather and take_along_axis: values against NumPy
and PyTorch in each dialect, gradients of first and second order, and errors for bad arguments."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import minidl as mdl
from test_ops_support import check_both_orders, rng, t, torch_parity

# -- flip and roll ---------------------------------------------------------------------------


@settings(max_examples=6, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data())
def test_flip_and_roll_match_numpy_with_gradients(shape, data):
    x = t(shape)
    axis = data.draw(st.sampled_from([None, 0, -1, tuple(range(len(shape)))]))
    shift = data.draw(st.integers(-5, 5))
    np.testing.assert_array_equal(mdl.flip(x, axis).numpy(), np.flip(x.numpy(), axis))
    np.testing.assert_array_equal(mdl.roll(x, shift, 0).numpy(), np.roll(x.numpy(), shift, 0))
    np.testing.assert_array_equal(mdl.roll(x, shift).numpy(), np.roll(x.numpy(), shift))
    assert mdl.gradcheck(lambda x: mdl.flip(x, axis) * mdl.roll(x, shift), (x,))


@pytest.mark.parametrize("f", [lambda x: mdl.flip(x, (0, 2)), lambda x: x.flip(1), lambda x: mdl.roll(x, (1, -2), (0, 2)),
                               lambda x: x.roll(2, 1), lambda x: mdl.roll(x, 3)],
                         ids=["flip_axes", "flip_method", "roll_tuple", "roll_method", "roll_flat"])
def test_flip_and_roll_second_derivatives(f):
    check_both_orders(lambda x: f(x) * x, (t((2, 3, 4)),))


def test_flip_is_a_copy_as_pytorch():
    x = mdl.tensor([1.0, 2.0, 3.0])
    flipped = x.flip(0)
    x[0] = 10.0
    assert flipped.tolist() == [3.0, 2.0, 1.0]


def test_flip_and_roll_spellings():
    x = t((2, 3))
    np.testing.assert_array_equal(x.flip(0, 1).numpy(), np.flip(x.numpy()))
    np.testing.assert_array_equal(x.flip([0, 1]).numpy(), np.flip(x.numpy()))
    np.testing.assert_array_equal(mdl.flip(x, dims=[1]).numpy(), np.flip(x.numpy(), 1))
    np.testing.assert_array_equal(mdl.roll(x, shifts=1, dims=1).numpy(), np.roll(x.numpy(), 1, 1))
    with pytest.raises(TypeError, match="not both"):
        mdl.flip(x, 0, dims=0)
    with pytest.raises(TypeError, match="missing the shift"):
        mdl.roll(x)


# -- repeat and tile ------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, repeats, axis", [((5, 3, 4), 2, 1), ((5, 3, 4), 1, 1), ((5, 3), 2, 0), ((5,), 2, 0),
                                                  ((5, 1), 1, 0), ((2, 3), 3, None), ((), 4, None), ((3, 2), [1, 0, 2], 0),
                                                  ((3, 2), [2], -1)], ids=str)
def test_repeat_is_numpys_with_gradients(shape, repeats, axis):
    x = t(shape)
    np.testing.assert_array_equal(mdl.repeat(x, repeats, axis=axis).numpy(), np.repeat(x.numpy(), repeats, axis))
    check_both_orders(lambda x: mdl.repeat(x, repeats, axis) ** 2, (x,))


def test_repeat_refuses_bad_counts():
    x = t((3, 2))
    with pytest.raises(ValueError, match="non-negative"):
        mdl.repeat(x, -1)
    with pytest.raises(ValueError, match="one non-negative count for each of the 3"):
        mdl.repeat(x, [1, 2], axis=0)
    with pytest.raises(TypeError, match="ints"):
        mdl.repeat(x, [1.5, 2.0, 1.0], axis=0)


@pytest.mark.parametrize("shape, reps", [((3,), 2), ((2, 3), (2, 1)), ((2, 3), (2,)), ((2, 3), (2, 1, 3)), ((), (3,)),
                                         ((1, 2), (3, 2))], ids=str)
def test_tile_is_numpys_and_pytorchs_with_gradients(shape, reps):
    x = t(shape)
    np.testing.assert_array_equal(mdl.tile(x, reps).numpy(), np.tile(x.numpy(), reps))
    check_both_orders(lambda x: mdl.tile(x, reps) ** 2, (x,))


def test_tensor_repeat_tiles_as_pytorch():
    x = t((2, 3))
    np.testing.assert_array_equal(x.repeat(2, 1).numpy(), np.tile(x.numpy(), (2, 1)))
    np.testing.assert_array_equal(x.repeat((1, 2, 2)).numpy(), np.tile(x.numpy(), (1, 2, 2)))
    with pytest.raises(ValueError, match="at least one per dimension"):
        x.repeat(2)
    assert mdl.gradcheck(lambda x: x.repeat(3, 2) ** 2, (x,))


def test_repeat_interleave_is_numpys_repeat_under_pytorchs_name():
    x = t((2, 3))
    np.testing.assert_array_equal(x.repeat_interleave(2, dim=1).numpy(), np.repeat(x.numpy(), 2, 1))
    np.testing.assert_array_equal(mdl.repeat_interleave(x, 2).numpy(), np.repeat(x.numpy(), 2))


# -- split and chunk ------------------------------------------------------------------------------

def test_split_with_numpys_axis_makes_sections():
    x = t((6, 4))
    pieces = mdl.split(x, 3, axis=0)
    assert isinstance(pieces, list) and [p.shape for p in pieces] == [(2, 4)] * 3
    for ours, theirs in zip(mdl.split(x, [1, 3], axis=1), np.split(x.numpy(), [1, 3], axis=1)):
        np.testing.assert_array_equal(ours.numpy(), theirs)
    with pytest.raises(ValueError, match="equal sections"):
        mdl.split(x, 4, axis=0)


def test_split_without_keywords_or_with_dim_makes_pieces_of_a_size_as_pytorch():
    x = t((7, 2))
    for pieces in (mdl.split(x, 3), x.split(3), x.split(3, dim=0), x.split(3, 0)):
        assert isinstance(pieces, tuple) and [p.shape[0] for p in pieces] == [3, 3, 1]
    assert [p.shape[0] for p in x.split([2, 5])] == [2, 5]
    with pytest.raises(ValueError, match="sum to the 7"):
        x.split([2, 4])
    with pytest.raises(ValueError, match="positive"):
        x.split(0)
    with pytest.raises(TypeError, match="mix of NumPy"):
        mdl.split(x, 2, axis=0, dim=0)


def test_chunk_is_pytorchs():
    x = t((5, 3))
    assert [p.shape[0] for p in mdl.chunk(x, 2)] == [3, 2]
    assert [p.shape[0] for p in x.chunk(4)] == [2, 2, 1]  # fewer pieces than asked, as PyTorch
    assert [p.shape[1] for p in x.chunk(3, dim=1)] == [1, 1, 1]
    with pytest.raises(ValueError, match="positive"):
        x.chunk(0)


@pytest.mark.parametrize("cut", [lambda x: mdl.split(x, 2, axis=1), lambda x: x.split([1, 3], dim=1),
                                 lambda x: x.chunk(3, 1)], ids=["numpy", "pytorch", "chunk"])
def test_pieces_carry_gradients_back(cut):
    def f(x):
        pieces = cut(x)
        return mdl.concatenate([p * (i + 1) for i, p in enumerate(pieces)], axis=1) ** 2
    check_both_orders(f, (t((2, 4)),))


# -- triangles --------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [-1, 0, 2])
@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (2, 3, 3), (4,)], ids=str)
def test_tril_and_triu_match_numpy_with_gradients(shape, k):
    x = t(shape)
    np.testing.assert_array_equal(mdl.tril(x, k).numpy(), np.tril(x.numpy(), k))
    np.testing.assert_array_equal(mdl.triu(x, k=k).numpy(), np.triu(x.numpy(), k))
    check_both_orders(lambda x: mdl.tril(x, k) ** 2 + mdl.triu(x, k) * 3, (x,))


def test_triangle_spellings_of_pytorch():
    x = t((3, 3))
    np.testing.assert_array_equal(x.tril(1).numpy(), np.tril(x.numpy(), 1))
    np.testing.assert_array_equal(mdl.triu(x, diagonal=-1).numpy(), np.triu(x.numpy(), -1))
    with pytest.raises(TypeError, match="not both"):
        mdl.tril(x, 1, diagonal=1)


# -- gather and take_along_axis ------------------------------------------------------------------------

def test_gather_picks_as_pytorch_with_repeated_indices():
    x = t((3, 4))
    index = mdl.tensor([[0, 0], [3, 1], [2, 2]])
    expected = np.take_along_axis(x.numpy(), index.numpy(), 1)
    np.testing.assert_array_equal(mdl.gather(x, 1, index).numpy(), expected)
    np.testing.assert_array_equal(x.gather(0, mdl.tensor([[2, 0, 1, 1]])).numpy(), [x.numpy()[[2, 0, 1, 1], range(4)]])
    check_both_orders(lambda x: mdl.gather(x, 1, index) ** 2, (x,))


def test_gather_reads_a_smaller_index_from_the_first_positions():
    x = t((3, 4))
    out = mdl.gather(x, 1, mdl.tensor([[1], [0]]))  # index smaller in dim 0: rows 0 and 1 only
    np.testing.assert_array_equal(out.numpy(), [[x.numpy()[0, 1]], [x.numpy()[1, 0]]])


@pytest.mark.parametrize("index, error, message", [
    ([[0, -1]], IndexError, "index -1 is out of bounds"), ([[0, 4]], IndexError, "index 4 is out of bounds"),
    ([0, 1], ValueError, "same number"), ([[0], [1], [2], [0]], ValueError, "larger than the input"),
    ([[0.0, 1.0]], TypeError, "integer"),
], ids=["negative", "too_large", "ndim", "larger", "float"])
def test_gather_refuses_bad_indices(index, error, message):
    with pytest.raises(error, match=message):
        mdl.gather(t((3, 4)), 1, mdl.tensor(index))


def test_take_along_axis_broadcasts_the_index_as_numpy():
    x = t((3, 4))
    index = np.array([[1, 0, 3]])
    np.testing.assert_array_equal(mdl.take_along_axis(x, index, axis=1).numpy(),
                                  np.take_along_axis(x.numpy(), index, axis=1))
    row = t((1, 4))
    np.testing.assert_array_equal(mdl.take_along_axis(row, np.array([[1], [3], [3]]), 1).numpy(),
                                  np.take_along_axis(row.numpy(), np.array([[1], [3], [3]]), 1))
    assert mdl.gradcheck(lambda r: mdl.take_along_axis(r, np.array([[1], [3], [3]]), 1) ** 2, (row,))
    flat = np.array([5, 0, 11, 5])
    np.testing.assert_array_equal(mdl.take_along_axis(x, flat, axis=None).numpy(),
                                  np.take_along_axis(x.numpy(), flat, axis=None))
    check_both_orders(lambda x: mdl.take_along_axis(x, index, 1) ** 2, (x,))


# -- against PyTorch -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")


def test_parity_with_pytorch(torch):
    x = rng.standard_normal((3, 4))
    index = np.array([[0, 0, 2], [3, 1, 1], [2, 2, 0]])
    cases = [
        (lambda a: a.flip(0, 1), lambda a: a.flip(0, 1)),
        (lambda a: a.roll((1, -1), (0, 1)), lambda a: a.roll((1, -1), (0, 1))),
        (lambda a: a.roll(5), lambda a: a.roll(5)),
        (lambda a: a.repeat(2, 3), lambda a: a.repeat(2, 3)),
        (lambda a: a.repeat(2, 1, 1), lambda a: a.repeat(2, 1, 1)),
        (lambda a: a.repeat_interleave(2, dim=0), lambda a: a.repeat_interleave(2, dim=0)),
        (lambda a: a.tile((2,)), lambda a: a.tile((2,))),
        (lambda a: a.tril(1), lambda a: a.tril(1)),
        (lambda a: a.triu(-1), lambda a: a.triu(-1)),
        (lambda a: a.gather(1, mdl.tensor(index)), lambda a: a.gather(1, torch.tensor(index))),
        (lambda a: mdl.cat(a.split(3, dim=1), 1) * a, lambda a: torch.cat(a.split(3, dim=1), 1) * a),
        (lambda a: a.chunk(2, 1)[1], lambda a: a.chunk(2, 1)[1]),
    ]
    for ours, theirs in cases:
        torch_parity(torch, ours, theirs, [x])


@pytest.mark.parametrize("n, chunks", [(0, 3), (1, 2), (5, 3), (6, 4), (7, 7)])
def test_chunk_and_split_sizes_as_pytorch(torch, n, chunks):
    x = np.arange(float(n))
    assert [p.tolist() for p in mdl.tensor(x).chunk(chunks)] == [p.tolist() for p in torch.tensor(x).chunk(chunks)]
    assert [p.tolist() for p in mdl.tensor(x).split(chunks)] == [p.tolist() for p in torch.tensor(x).split(chunks)]
