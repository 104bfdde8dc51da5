"""A checkpoint changed after saving (a flipped bit, a cut, a crafted header) is a CheckpointError, never a load."""
import hashlib
import io
import json

import numpy as np
import pytest

import minidl as mdl
from minidl import nn, optim


def checkpoint_bytes():
    net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    opt = optim.Adam(net.parameters(), lr=np.float64(0.01))
    net(mdl.randn(5, 4)).sum().backward()
    opt.step()
    buffer = io.BytesIO()
    mdl.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, buffer)
    return buffer.getvalue()


def header_length(data):
    return 8 + int.from_bytes(data[:8], "little")


def flipped(data, bit):
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def safetensors_file(entries, metadata=None):
    """A safetensors file built by hand: ``entries`` maps names to (dtype string, shape, bytes)."""
    header, offset, body = {}, 0, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, shape, payload) in entries.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(payload)]}
        offset, body = offset + len(payload), body + payload
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + body


def test_every_sampled_bit_flip_in_the_data_names_the_damaged_tensor(tmp_path):
    data = checkpoint_bytes()
    rng = np.random.default_rng(0)
    start = header_length(data) * 8
    for bit in rng.choice(np.arange(start, len(data) * 8), 300, replace=False):
        path = tmp_path / "ckpt.safetensors"
        path.write_bytes(flipped(data, int(bit)))
        with pytest.raises(mdl.CheckpointError, match=r"ckpt.safetensors: tensor '[a-z_.0-9]+' does not match"):
            mdl.load(path)


def test_every_sampled_bit_flip_in_the_header_is_a_checkpoint_error():
    data = checkpoint_bytes()
    rng = np.random.default_rng(1)
    for bit in rng.choice(header_length(data) * 8, 600, replace=False):
        with pytest.raises(mdl.CheckpointError):
            mdl.load(io.BytesIO(flipped(data, int(bit))))


def test_every_truncation_is_a_checkpoint_error():
    data = checkpoint_bytes()
    for end in np.random.default_rng(2).choice(len(data), 100, replace=False):
        with pytest.raises(mdl.CheckpointError):
            mdl.load(io.BytesIO(data[:end]))


def test_a_changed_learning_rate_in_the_description_is_found():
    data = checkpoint_bytes()
    original = b'\\"lr\\", {\\"value\\": 0.01}'
    assert original in data
    changed = data.replace(original, original.replace(b"0.01", b"0.09"))
    with pytest.raises(mdl.CheckpointError, match="description of its contents does not match its checksum"):
        mdl.load(io.BytesIO(changed))


@pytest.mark.parametrize("dtype", ["F8_E4M3", "F8_E5M2"])
def test_dtypes_minidl_cannot_read_are_named(dtype):
    with pytest.raises(mdl.CheckpointError, match=f"tensor 'w' has dtype {dtype}, which minidl cannot read"):
        mdl.load(io.BytesIO(safetensors_file({"w": (dtype, [4], bytes(4))})))


def test_bf16_is_read_exactly_as_float32():
    values = np.array([1.0, -2.5, 3.140625, 0.0078125, np.inf], np.float32)  # all exact in bfloat16
    as_bf16 = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    back = mdl.load(io.BytesIO(safetensors_file({"w": ("BF16", [5], as_bf16)})))["w"]
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back.numpy(), values)


@pytest.mark.parametrize("depth", [5000, 100000])
def test_a_description_nested_thousands_deep_is_a_checkpoint_error(depth):
    text = '{"list": [' * depth + "]}" * depth
    metadata = {"format": "minidl.v2", "minidl.structure": text,
                "minidl.structure.sha256": hashlib.sha256(text.encode()).hexdigest()}
    with pytest.raises(mdl.CheckpointError, match="nested too deeply"):
        mdl.load(io.BytesIO(safetensors_file({}, metadata)))


@pytest.mark.parametrize("structure", ['{"dict": 5}', '{"dict": [[{"a": 1}, {"value": 1}]]}', "7",
                                       '{"tensor": "missing", "sha256": "00"}', '{"list": [{"nothing": 1}]}'])
def test_a_crafted_description_with_a_valid_digest_is_a_checkpoint_error(structure):
    metadata = {"format": "minidl.v2", "minidl.structure": structure,
                "minidl.structure.sha256": hashlib.sha256(structure.encode()).hexdigest()}
    with pytest.raises(mdl.CheckpointError):
        mdl.load(io.BytesIO(safetensors_file({}, metadata)))


def test_checkpoints_from_before_checksums_still_load():
    structure = json.dumps({"dict": [["w", {"tensor": "w"}], ["epoch", {"value": 2}]]})
    data = safetensors_file({"w": ("F32", [2], np.array([1, 2], "<f4").tobytes())},
                            {"format": "minidl.v1", "minidl.structure": structure})
    back = mdl.load(io.BytesIO(data))
    assert back["epoch"] == 2 and back["w"].tolist() == [1.0, 2.0]


def test_an_unknown_minidl_format_is_refused():
    with pytest.raises(mdl.CheckpointError, match="unknown minidl metadata .*'minidl.v9'"):
        mdl.load(io.BytesIO(safetensors_file({}, {"format": "minidl.v9", "minidl.structure": "{}"})))
