"""Module and containers behave as PyTorch's: traversal order and memo, registration rules, state dicts, repr."""
import copy

import numpy as np
import pytest

import minidl as mdl
from minidl import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.norm = nn.BatchNorm2d(2)


def tree():
    """root -> (a: Block -> conv, norm), (b: Linear)"""
    root = nn.Sequential()
    root.add_module("a", Block())
    root.add_module("b", nn.Linear(2, 2))
    return root


# -- traversal ------------------------------------------------------------------------

def test_named_modules_is_preorder_with_dotted_names_and_prefix():
    names = [n for n, _ in tree().named_modules(prefix="model")]
    assert names == ["model", "model.a", "model.a.conv", "model.a.norm", "model.b"]


def test_a_shared_module_is_listed_once_unless_duplicates_are_asked_for():
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert [n for n, _ in seq.named_modules(remove_duplicate=False)] == ["", "0", "1", "2"]
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_parameters(remove_duplicate=False)] == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_named_modules_memo_skips_modules_already_seen():
    root = tree()
    memo = {root.b}
    assert [n for n, _ in root.named_modules(memo=memo)] == ["", "a", "a.conv", "a.norm"]


def test_state_dict_lists_a_shared_module_under_every_name_as_pytorch():
    shared = nn.Linear(2, 2)
    state = nn.Sequential(shared, shared).state_dict()
    assert list(state) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_apply_visits_children_before_their_parent_depth_first():
    order = []
    tree().apply(lambda m: order.append(type(m).__name__))
    assert order == ["Conv2d", "BatchNorm2d", "Block", "Linear", "Sequential"]


def test_apply_initialises_weights_as_in_pytorch_code():
    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.ones_(m.weight)
            nn.init.constant_(m.bias, 0.5)
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1)).apply(init_weights)
    assert model[2].weight.numpy().tolist() == [[1.0, 1.0]] and model[0].bias.numpy().tolist() == [0.5, 0.5]


def test_named_buffers_with_prefix_and_without_recursion():
    root = tree()
    assert [n for n, _ in root.named_buffers(prefix="m")] == [
        "m.a.norm.running_mean", "m.a.norm.running_var", "m.a.norm.num_batches_tracked"]
    assert list(root.named_buffers(recurse=False)) == []


def test_children_are_distinct_and_in_order():
    shared = nn.ReLU()
    seq = nn.Sequential(shared, nn.Tanh(), shared)
    assert [n for n, _ in seq.named_children()] == ["0", "1"]


def test_get_submodule_follows_dotted_paths():
    root = tree()
    assert root.get_submodule("a.norm") is root.a.norm and root.get_submodule("") is root
    with pytest.raises(AttributeError, match="no submodule 'missing'"):
        root.get_submodule("a.missing")


# -- registration -----------------------------------------------------------------------

def test_requires_grad_false_freezes_every_parameter():
    model = tree().requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    assert all(p.requires_grad for p in model.requires_grad_().parameters())


def test_add_module_registers_and_checks_names():
    m = nn.Module()
    m.add_module("fc", nn.Linear(1, 1))
    assert [n for n, _ in m.named_parameters()] == ["fc.weight", "fc.bias"]
    with pytest.raises(KeyError, match="'a.b'"):
        m.add_module("a.b", nn.ReLU())
    with pytest.raises(TypeError, match="not a Module"):
        m.add_module("x", 3)
    m.other = 1
    with pytest.raises(KeyError, match="already exists"):
        m.add_module("other", nn.ReLU())


def test_non_persistent_buffers_move_but_are_not_saved():
    m = nn.Module()
    m.register_buffer("kept", mdl.zeros(2))
    m.register_buffer("scratch", mdl.zeros(2), persistent=False)
    assert list(m.state_dict()) == ["kept"] and [n for n, _ in m.named_buffers()] == ["kept", "scratch"]
    m.double()
    assert m.scratch.dtype == np.float64


def test_assigning_to_a_buffer_name_keeps_it_a_buffer():
    bn = nn.BatchNorm1d(2)
    bn.running_mean = mdl.ones(2)
    assert bn.state_dict()["running_mean"].numpy().tolist() == [1.0, 1.0]


def test_assigning_a_plain_tensor_to_a_parameter_name_raises():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight'.*Parameter or None expected"):
        layer.weight = mdl.zeros(2, 2)


def test_load_state_dict_returns_pytorch_named_tuple():
    result = nn.Linear(2, 2).load_state_dict({"weight": mdl.zeros(2, 2)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == []


def test_deepcopy_gives_an_independent_model():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    twin = copy.deepcopy(model)
    twin[0].weight.data[...] = 0
    assert model[0].weight.numpy().any() and list(twin.state_dict()) == list(model.state_dict())


# -- containers --------------------------------------------------------------------------

def test_sequential_slices_keep_names_and_deletion_renumbers():
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Tanh())
    assert list(seq[1:]._modules) == ["1", "2"]
    del seq[0]
    assert list(seq._modules) == ["0", "1"] and isinstance(seq[0], nn.ReLU)
    seq.insert(0, nn.Sigmoid())
    assert [type(m).__name__ for m in seq] == ["Sigmoid", "ReLU", "Tanh"]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]


def test_sequential_from_an_ordered_dict_keeps_its_names():
    from collections import OrderedDict
    seq = nn.Sequential(OrderedDict(fc=nn.Linear(2, 3), act=nn.ReLU()))
    assert [n for n, _ in seq.named_parameters()] == ["fc.weight", "fc.bias"] and seq(mdl.zeros(1, 2)).shape == (1, 3)


def test_module_list_indexing_slicing_and_extend():
    layers = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    layers += [nn.ReLU()]
    assert len(layers) == 4 and isinstance(layers[-1], nn.ReLU)
    assert list(layers[1:3]._modules) == ["0", "1"]  # a sliced ModuleList is renumbered, as PyTorch
    layers[0] = nn.Tanh()
    assert isinstance(layers[0], nn.Tanh) and len(list(layers.parameters())) == 4


def test_module_dict_registers_by_key_and_behaves_as_a_dict():
    heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "box": nn.Linear(4, 2)})
    heads["aux"] = nn.Linear(4, 1)
    assert list(heads) == ["cls", "box", "aux"] and "box" in heads and len(heads) == 3
    assert [n for n, _ in heads.named_parameters()][:2] == ["cls.weight", "cls.bias"]
    assert isinstance(heads.pop("aux"), nn.Linear) and list(heads.keys()) == ["cls", "box"]
    heads.update([("cls", nn.Identity())])
    assert isinstance(heads["cls"], nn.Identity) and list(heads) == ["cls", "box"]


def test_module_list_repr_groups_identical_layers():
    layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()])
    assert repr(layers) == ("ModuleList(\n  (0-1): 2 x Linear(in_features=2, out_features=2, bias=True)\n"
                            "  (2): ReLU()\n)")


def test_nested_repr_indents_children():
    assert repr(tree()) == (
        "Sequential(\n"
        "  (a): Block(\n"
        "    (conv): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))\n"
        "    (norm): BatchNorm2d(2, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)\n"
        "  )\n"
        "  (b): Linear(in_features=2, out_features=2, bias=True)\n"
        ")")
