"""minidl.distributed, DistributedDataParallel and DistributedSampler.

Whatever needs a process group runs under ``mpiexec -n 2`` (the one next to this Python, where
the mpich wheel puts it: tests/distributed/launch.py) on the helper scripts in tests/distributed/,
which save what each rank saw; the assertions and the one-process references are here.
"""
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import minidl as mdl
import minidl.distributed as dist
from minidl.data.sampler import DistributedSampler
from minidl.nn.parallel import DistributedDataParallel
from minidl.nn.parallel.reducer import assign_buckets


def helper(name):
    path = pathlib.Path(__file__).resolve().parent / "distributed" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"distributed_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


common, launch = helper("common"), helper("launch")
mpiexec, per_rank, ROOT = launch.mpiexec, launch.per_rank, launch.ROOT
RANKS = 2
requires_mpi = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None,
                                  reason='mpi4py is not installed (pip install "minidl[mpi]")')
requires_gpu = pytest.mark.skipif(not mdl.cuda.is_available(),
                                  reason="needs CuPy and a CUDA GPU (one per rank for NCCL); this machine has none")


@pytest.fixture(scope="module")
def run_once(tmp_path_factory):
    """``run_once(script, *args)``: what each rank saved; a helper runs once per module however many tests read it."""
    done = {}

    def run(script, *args, load="json"):
        key = (script, *args)
        if key not in done:
            done[key] = per_rank(RANKS, script, *args, out_dir=tmp_path_factory.mktemp(script[:-3]), load=load)
        return done[key]
    return run


# -- collectives on 2 ranks ----------------------------------------------------------------

@pytest.fixture(scope="module")
def collectives(run_once):
    return run_once("collectives.py")


@requires_mpi
def test_every_rank_knows_its_rank_and_the_world_size(collectives):
    assert [r["rank"] for r in collectives] == [0, 1]
    assert all(r["size"] == 2 and r["initialized"] and r["backend"] == "mpi" for r in collectives)
    assert [r["local_rank"] for r in collectives] == [0, 1]  # one machine here


@requires_mpi
@pytest.mark.parametrize("op, expected", [
    ("sum", [3.0, 6.0, 9.0]), ("SUM", [3.0, 6.0, 9.0]), ("avg", [1.5, 3.0, 4.5]), ("mean", [1.5, 3.0, 4.5]),
    ("product", [2.0, 8.0, 18.0]), ("min", [1.0, 2.0, 3.0]), ("max", [2.0, 4.0, 6.0])])
def test_all_reduce_gives_every_rank_the_reduction(collectives, op, expected):
    # rank r contributes [1, 2, 3] * (r + 1)
    assert all(r[f"op:{op}"] == expected for r in collectives)


def test_reduce_op_names_are_pytorchs():
    assert dist.ReduceOp.SUM == "sum" and dist.ReduceOp.AVG == "avg"
    assert {dist.ReduceOp.PRODUCT, dist.ReduceOp.MIN, dist.ReduceOp.MAX} == {"product", "min", "max"}


@requires_mpi
def test_all_reduce_keeps_the_dtype(collectives):
    assert all(r["float64 sum"] == [3.0, 6.0, 9.0] and r["int64 sum"] == [3, 6, 9] for r in collectives)


@requires_mpi
def test_all_reduce_of_booleans_is_logical_or(collectives):
    assert all(r["bool sum"] == [True, False, True] for r in collectives)


@requires_mpi
def test_all_reduce_writes_into_the_tensor_itself(collectives):
    assert all(r["in place"] for r in collectives)


@requires_mpi
def test_async_all_reduce_returns_work_to_wait_on(collectives):
    assert all(r["async returns a Work"] == "Work" and r["async result"] == [3.0, 6.0, 9.0] for r in collectives)


@requires_mpi
def test_all_reduce_of_a_strided_view_writes_through_to_its_base(collectives):
    # a (2, 3) grid times (rank + 1), reduced through its transpose
    assert all(r["strided view"] == [[0.0, 3.0, 6.0], [9.0, 12.0, 15.0]] for r in collectives)


@requires_mpi
def test_all_reduce_of_a_0d_tensor(collectives):
    assert all(r["0-d"] == 18.0 for r in collectives)


@requires_mpi
def test_broadcast_copies_the_source_ranks_tensor_everywhere(collectives):
    assert all(r["broadcast from last"] == [1.0, 1.0, 1.0] for r in collectives)
    assert all(r["broadcast default src"] == [0.0, 10.0] for r in collectives)


@requires_mpi
def test_barrier_holds_each_rank_until_the_last_arrives(collectives):
    # the last rank sleeps 0.5 s before the barrier
    assert collectives[0]["seconds in barrier"] > 0.4
    assert collectives[-1]["seconds in barrier"] < 0.4


@requires_mpi
def test_reducing_a_value_saved_for_backward_makes_backward_raise(collectives):
    kind, message = collectives[0]["backward after reducing a saved value"]
    assert kind == "RuntimeError" and "modified by an in-place operation" in message


@requires_mpi
def test_collective_on_a_recorded_tensor_is_refused(collectives):
    kind, message = collectives[0]["recorded tensor"]
    assert kind == "RuntimeError" and "not recorded for backward" in message and "detach()" in message


@requires_mpi
@pytest.mark.parametrize("case, kind, words", [
    ("avg of integers", "TypeError", "floating-point"), ("unknown op", "ValueError", "'median'"),
    ("bad src", "ValueError", "src=2"), ("second init", "RuntimeError", "already initialized")])
def test_misuse_raises_naming_the_problem(collectives, case, kind, words):
    assert collectives[0][case][0] == kind and words in collectives[0][case][1]


@requires_mpi
def test_destroy_process_group_ends_the_group_and_restores_the_excepthook(collectives):
    for r in collectives:
        assert r["abort hook installed"] and not r["abort hook after destroy"]
        assert not r["initialized after destroy"]
        assert r["get_rank after destroy"][0] == "ValueError"


# -- a rank that fails ends the job ----------------------------------------------------------

@requires_mpi
@pytest.mark.parametrize("where", ["collective", "backward"])
def test_a_rank_that_raises_ends_the_job_with_its_message_instead_of_hanging(where):
    result = mpiexec(RANKS, "raise_on_one_rank.py", where, timeout=30)
    assert result.returncode != 0
    assert "this rank fails on purpose" in result.stderr
    assert "rank 1 of 2 stopped on an uncaught ValueError; aborting all ranks" in result.stderr
    assert "not reached" not in result.stdout


# -- without MPI ------------------------------------------------------------------------------

def test_init_without_mpi4py_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "minidl.distributed.mpi", raising=False)
    with pytest.raises(ImportError, match=r'needs mpi4py.*pip install "minidl\[mpi\]"'):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


def test_importing_minidl_distributed_does_not_start_mpi():
    code = "import sys, minidl.distributed; print('mpi4py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@requires_mpi
def test_a_script_started_without_mpiexec_is_a_group_of_one():
    script = ROOT / "tests" / "distributed" / "init_backend.py"
    out = subprocess.run([sys.executable, str(script), "mpi"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert json.loads(out.stdout) == {"error": None, "backend": "mpi", "rank": 0, "world_size": 1}, out.stderr


def test_unknown_backend_is_refused_before_anything_starts():
    with pytest.raises(ValueError, match=r"unknown backend 'gloo'; minidl has \['mpi', 'nccl'\]"):
        dist.init_process_group("gloo")


@pytest.mark.parametrize("call", [dist.get_rank, dist.get_world_size, dist.barrier,
                                  lambda: dist.all_reduce(mdl.ones(2))])
def test_using_the_group_before_init_says_to_call_init_process_group(call):
    with pytest.raises(ValueError, match="call minidl.distributed.init_process_group"):
        call()


def test_ddp_before_init_says_to_call_init_process_group():
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedDataParallel(common.build_model("mlp"))


@pytest.mark.parametrize("library, pattern, home", [
    ("mpi4py", r"^\s*(import|from)\s+mpi4py\b", "minidl/distributed/mpi.py"),
    # NCCL's bindings ship inside CuPy: the cupy backend hands them to the nccl group, as it hands out arrays
    ("NCCL", r"^\s*(import|from)\s+cupy\.cuda\.nccl\b|^\s*from\s+cupy\.cuda\s+import\s+nccl\b",
     "minidl/backends/cupy_backend.py")])
def test_each_communication_library_is_imported_in_one_place(library, pattern, home):
    pattern = re.compile(pattern, re.MULTILINE)
    importers = [path.relative_to(ROOT).as_posix() for path in (ROOT / "minidl").rglob("*.py")
                 if pattern.search(path.read_text())]
    assert importers == [home], (library, importers)


# -- DistributedDataParallel: the same training as one process with the whole batch -----------

def one_process_training(model_kind, optimizer_kind, steps, global_batch, step=common.train_step):
    model = common.build_model(model_kind)
    optimizer = common.make_optimizer(model.parameters(), optimizer_kind)
    for x, y in common.global_batches(steps, global_batch):
        step(model, optimizer, x, y)
    return {name: t.numpy() for name, t in model.state_dict().items()}


def ddp_training(run_once, model_kind, optimizer_kind, steps, per_rank_batch):
    return run_once("ddp_train.py", model_kind, optimizer_kind, steps, per_rank_batch, load="npz")


def assert_same_parameters(ranks_state, reference, names):
    for r, state in enumerate(ranks_state):
        for name in names:
            np.testing.assert_allclose(state[f"final/module.{name}"], reference[name], rtol=1e-5, atol=1e-6,
                                       err_msg=f"rank {r}, {name}")


@requires_mpi
@pytest.mark.parametrize("optimizer_kind", ["sgd", "momentum"])
def test_ddp_on_2_ranks_matches_one_process_with_the_whole_batch(run_once, optimizer_kind):
    ranks_state = ddp_training(run_once, "mlp", optimizer_kind, steps=20, per_rank_batch=4)
    reference = one_process_training("mlp", optimizer_kind, steps=20, global_batch=8)
    assert_same_parameters(ranks_state, reference, reference)
    start = one_process_training("mlp", optimizer_kind, steps=0, global_batch=8)
    assert all(np.abs(reference[n] - start[n]).max() > 1e-3 for n in reference)  # training moved every parameter


@requires_mpi
def test_ddp_starts_every_rank_from_rank_0s_parameters(run_once):
    ranks_state = ddp_training(run_once, "mlp", "sgd", steps=20, per_rank_batch=4)
    rank0_model = common.build_model("mlp")  # the other ranks built theirs from other seeds
    for r, state in enumerate(ranks_state):
        for name, p in rank0_model.named_parameters():
            np.testing.assert_array_equal(state[f"initial/{name}"], p.numpy(), err_msg=f"rank {r}, {name}")


def per_rank_batchnorm_step(model, optimizer, x, y):
    """One DDP step of 2 ranks, in one process: BatchNorm normalises each rank's half with its own statistics,
    the gradients are averaged, and the running statistics are rank 0's (DDP broadcasts rank 0's buffers)."""
    optimizer.zero_grad()
    before = [b.numpy().copy() for b in model.buffers()]
    loss = 0
    for rank in reversed(range(RANKS)):  # rank 0 last: its update of the running statistics is the one kept
        for b, value in zip(model.buffers(), before):
            b.data[...] = value
        x_rank, y_rank = common.shard((x, y), rank, RANKS)
        loss = loss + mdl.cross_entropy(model(x_rank), y_rank) / RANKS
    loss.backward()
    optimizer.step()


@requires_mpi
def test_ddp_with_batchnorm_matches_one_process_normalising_each_ranks_share_apart(run_once):
    ranks_state = ddp_training(run_once, "batchnorm", "momentum", steps=20, per_rank_batch=4)
    reference = one_process_training("batchnorm", "momentum", 20, 8, step=per_rank_batchnorm_step)
    assert_same_parameters(ranks_state, reference, [n for n, _ in common.build_model("batchnorm").named_parameters()])
    for name in ("1.running_mean", "1.running_var", "1.num_batches_tracked"):  # rank 0's statistics
        np.testing.assert_allclose(ranks_state[0][f"final/module.{name}"], reference[name], rtol=1e-5, atol=1e-6)


@requires_mpi
def test_ddp_batchnorm_statistics_are_per_rank_not_over_the_whole_batch(run_once):
    ranks_state = ddp_training(run_once, "batchnorm", "momentum", steps=20, per_rank_batch=4)
    whole_batch = one_process_training("batchnorm", "momentum", steps=20, global_batch=8)
    assert np.abs(ranks_state[0]["final/module.0.weight"] - whole_batch["0.weight"]).max() > 1e-4


# -- DistributedDataParallel: the rest of its behaviour -------------------------------------------

def behaviour(run_once, scenario):
    return run_once("ddp_behaviour.py", scenario)


@requires_mpi
def test_ddp_starts_a_buckets_all_reduce_while_backward_is_still_running(run_once):
    ranks = behaviour(run_once, "overlap")
    # buckets in reverse parameter order, about 100 bytes each: the last layer's gradients arrive first
    assert ranks[0]["bucket parameters"] == [["4.bias", "4.weight"], ["2.bias", "2.weight"], ["0.bias", "0.weight"]]
    assert all(r["launched when the first layer's gradient arrives"] == [True, True, False] for r in ranks)


@requires_mpi
def test_ddp_state_dict_keys_have_pytorchs_module_prefix(run_once):
    keys = behaviour(run_once, "overlap")[0]["state_dict keys"]
    assert keys == [f"module.{i}.{kind}" for i in (0, 2, 4) for kind in ("weight", "bias")]


@requires_mpi
def test_no_sync_accumulates_locally_then_the_next_backward_averages_everything(run_once):
    ranks = behaviour(run_once, "no_sync")
    first = [r["grads after the no_sync backward"]["0.weight"] for r in ranks]
    model = common.build_model("mlp")  # rank 0's first micro-batch of step 0, alone
    x, y = common.shard(common.global_batches(5, 2 * 3 * RANKS)[0], 0, 2 * RANKS)
    (mdl.cross_entropy(model(x), y) / 2).backward()
    np.testing.assert_allclose(first[0], model[0].weight.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert not np.allclose(first[0], first[1])  # nothing was averaged inside no_sync
    reference = one_process_training("mlp", "momentum", steps=5, global_batch=2 * 3 * RANKS)
    for r in ranks:
        for name, value in r["final"].items():
            np.testing.assert_allclose(value, reference[name], rtol=1e-5, atol=1e-6, err_msg=name)


@requires_mpi
def test_ddp_names_parameters_that_got_no_gradient(run_once):
    ranks = behaviour(run_once, "unused")
    for r in ranks:
        kind, message = r["without find_unused_parameters"]
        assert kind == "RuntimeError" and "c.weight" in message and "find_unused_parameters=True" in message


@requires_mpi
def test_find_unused_parameters_averages_with_zeros_and_leaves_unused_ones_alone(run_once):
    # out = a(x) + b(x) on rank 0, a(x) on rank 1; c is never used; x = [[1, 2], [3, 5]], loss = out.sum()
    for r in behaviour(run_once, "unused"):
        assert r["grads"]["a.weight"] == [[4.0, 7.0]] and r["grads"]["a.bias"] == [2.0]
        assert r["grads"]["b.weight"] == [[2.0, 3.5]] and r["grads"]["b.bias"] == [1.0]  # (rank 0's + 0) / 2
        assert r["grads"]["c.weight"] is None and r["grads"]["c.bias"] is None


@requires_mpi
def test_ddp_evaluates_every_rank_with_rank_0s_running_statistics(run_once):
    ranks = behaviour(run_once, "buffers")
    assert not np.allclose(ranks[0]["after training"], ranks[1]["after training"])  # each rank's own batches
    assert ranks[1]["after an evaluation forward"] == ranks[0]["after training"]


@requires_mpi
def test_ddp_refuses_ranks_that_built_different_models(run_once):
    for r in behaviour(run_once, "different_models"):
        assert r["wrap"][0] == "RuntimeError" and "the module differs between ranks" in r["wrap"][1]


# -- gradient buckets -------------------------------------------------------------------------

def bucket_names(buckets, names):
    return [[names[id(p)] for p in b.params] for b in buckets]


def test_buckets_follow_the_order_gradients_arrive_and_close_at_the_cap():
    params = [mdl.zeros(n, requires_grad=True) for n in (100, 100, 300, 50)]  # 400, 400, 1200, 200 bytes
    names = {id(p): f"p{i}" for i, p in enumerate(params)}
    buckets = assign_buckets(params[::-1], cap_bytes=1000, first_cap_bytes=150)
    assert bucket_names(buckets, names) == [["p3"], ["p2"], ["p1", "p0"]]
    assert [b.flat.numel() for b in buckets] == [50, 300, 200]


def test_buckets_never_mix_dtypes():
    params = [mdl.zeros(4, requires_grad=True), mdl.zeros(4, dtype="float64", requires_grad=True),
              mdl.zeros(4, requires_grad=True)]
    names = {id(p): f"p{i}" for i, p in enumerate(params)}
    buckets = assign_buckets(params, cap_bytes=10**6)
    assert bucket_names(buckets, names) == [["p0", "p2"], ["p1"]]
    assert [b.flat.dtype for b in buckets] == [mdl.float32, mdl.float64]


# -- GPUs (NCCL, and MPI staging through the host) --------------------------------------------

@requires_mpi
@requires_gpu
@pytest.mark.parametrize("backend", ["nccl", "mpi"])
def test_collectives_and_ddp_on_gpus(tmp_path, backend):
    ranks = min(RANKS, mdl.cuda.device_count()) if backend == "nccl" else RANKS
    results = per_rank(ranks, "gpu_ranks.py", backend, out_dir=tmp_path, load="npz")
    factors = sum(range(1, ranks + 1))
    reference = one_process_training("mlp", "momentum", steps=5, global_batch=4 * ranks)
    for r in results:
        np.testing.assert_allclose(r["sum"], np.array([1.0, 2.0, 3.0]) * factors)
        np.testing.assert_allclose(r["avg"], np.array([1.0, 2.0, 3.0]) * factors / ranks)
        np.testing.assert_array_equal(r["broadcast"], [ranks - 1.0] * 3)
        for name, value in reference.items():
            np.testing.assert_allclose(r[f"final/{name}"], value, rtol=1e-4, atol=1e-5, err_msg=name)


@requires_mpi
@pytest.mark.skipif(mdl.cuda.is_available(), reason="CuPy and a GPU are present here")
def test_nccl_without_a_gpu_says_what_is_missing():
    result = mpiexec(1, "init_backend.py", "nccl")
    kind, message = json.loads(result.stdout)["error"]
    assert kind == "DeviceUnavailableError" and "init_process_group('nccl')" in message
    assert "backend='mpi'" in message


# -- DistributedSampler -----------------------------------------------------------------------

def shards(n, replicas, **kw):
    return [list(DistributedSampler(range(n), num_replicas=replicas, rank=r, **kw)) for r in range(replicas)]


def test_sampler_shards_cover_the_dataset_padded_with_its_first_indices():
    parts = shards(10, 3, shuffle=False)
    assert parts == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
    assert [len(DistributedSampler(range(10), 3, r)) for r in range(3)] == [4, 4, 4]


def test_sampler_pads_a_dataset_smaller_than_the_ranks_by_repeating_it():
    assert shards(2, 5, shuffle=False) == [[0], [1], [0], [1], [0]]


def test_sampler_drop_last_drops_the_tail_instead():
    parts = shards(10, 3, shuffle=False, drop_last=True)
    assert parts == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]


def test_sampler_ranks_share_one_permutation_per_epoch():
    parts = shards(11, 2, seed=3)
    padded = sorted(parts[0] + parts[1])
    assert len(set(padded)) == 11 and len(padded) == 12  # every index, one repeated to even the shards
    assert parts != shards(11, 2, shuffle=False)


def test_sampler_set_epoch_changes_the_order_repeatably():
    sampler = DistributedSampler(range(20), num_replicas=2, rank=1, seed=7)
    first = list(sampler)
    assert list(sampler) == first  # without set_epoch, every epoch repeats the first's order
    sampler.set_epoch(1)
    assert list(sampler) != first
    sampler.set_epoch(0)
    assert list(sampler) == first


def test_sampler_seed_changes_the_permutation():
    assert shards(20, 2, seed=0) != shards(20, 2, seed=1)


@pytest.mark.parametrize("n, replicas, drop_last", [(10, 3, False), (10, 3, True), (2, 5, False), (12, 4, True)])
def test_sampler_matches_pytorch_without_shuffle(n, replicas, drop_last):
    torch_data = pytest.importorskip("torch.utils.data", reason="PyTorch is not installed")
    for rank in range(replicas):
        theirs = torch_data.DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False,
                                               drop_last=drop_last)
        ours = DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_sampler_rejects_a_rank_outside_the_group():
    with pytest.raises(ValueError, match=r"invalid rank 3; it should be in \[0, 2\]"):
        DistributedSampler(range(10), num_replicas=3, rank=3)


def test_sampler_without_a_group_or_explicit_ranks_says_to_initialize():
    with pytest.raises(ValueError, match="init_process_group"):
        DistributedSampler(range(10))
