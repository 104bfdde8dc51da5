"""Run by tests/test_distributed.py under mpiexec: exercise the collectives, save what each rank saw.

usage: collectives.py OUT_DIR   (writes OUT_DIR/rank{r}.json)
Rank r contributes values that depend on r, so each result shows which ranks' data reached it.
"""
import json
import pathlib
import sys
import time

import minidl as mdl
import minidl.distributed as dist

from common import error_of


def contribution(rank, **kw):
    return mdl.tensor([1.0, 2.0, 3.0], **kw) * (rank + 1)


def reduced(rank, op, **kw):
    t = contribution(rank, **kw)
    dist.all_reduce(t, op)
    return t.tolist()


def main(out_dir):
    dist.init_process_group("mpi")
    rank, size = dist.get_rank(), dist.get_world_size()
    results = {"rank": rank, "size": size, "initialized": dist.is_initialized(), "backend": dist.get_backend(),
               "local_rank": dist.get_node_local_rank()}
    for op in ("sum", "avg", "mean", "product", "min", "max", dist.ReduceOp.SUM, dist.ReduceOp.AVG, "SUM"):
        results[f"op:{op}"] = reduced(rank, op)
    results["float64 sum"] = reduced(rank, "sum", dtype="float64")
    results["int64 sum"] = reduced(rank, "sum", dtype="int64")
    flags = mdl.tensor([rank == 0, False, True])
    dist.all_reduce(flags)
    results["bool sum"] = flags.tolist()

    t = contribution(rank)
    same_object, same_array = t, t.data
    work = dist.all_reduce(t, async_op=True)
    results["async returns a Work"] = type(work).__name__
    work.wait()
    results["async result"] = t.tolist()
    results["in place"] = same_object is t and same_array is t.data

    grid = mdl.arange(6.0).reshape(2, 3) * (rank + 1)
    column_view = grid.T  # a strided view: reduced through a contiguous copy, written back into the grid
    dist.all_reduce(column_view)
    results["strided view"] = grid.tolist()
    total = contribution(rank).sum()  # a 0-d tensor
    dist.all_reduce(total)
    results["0-d"] = total.item()

    b = mdl.tensor([float(rank)] * 3)
    dist.broadcast(b, src=size - 1)
    results["broadcast from last"] = b.tolist()
    b = mdl.tensor([float(rank), 10.0 + rank])
    dist.broadcast(b)
    results["broadcast default src"] = b.tolist()

    if rank == size - 1:
        time.sleep(0.5)
    start = time.perf_counter()
    dist.barrier()
    results["seconds in barrier"] = time.perf_counter() - start

    w = mdl.tensor([1.0, 2.0], requires_grad=True)
    saved = w * 1.0
    y = (saved * saved).sum()  # multiply keeps `saved` for its gradient
    dist.all_reduce(saved.detach())  # a write into the memory backward needs
    results["backward after reducing a saved value"] = error_of(y.backward)
    results["recorded tensor"] = error_of(lambda: dist.all_reduce(w * 2.0))
    results["avg of integers"] = error_of(lambda: dist.all_reduce(mdl.tensor([1, 2]), "avg"))
    results["unknown op"] = error_of(lambda: dist.all_reduce(mdl.ones(2), "median"))
    results["bad src"] = error_of(lambda: dist.broadcast(mdl.ones(2), src=size))
    results["second init"] = error_of(dist.init_process_group)
    results["abort hook installed"] = sys.excepthook is not sys.__excepthook__

    dist.destroy_process_group()
    results["initialized after destroy"] = dist.is_initialized()
    results["abort hook after destroy"] = sys.excepthook is not sys.__excepthook__
    results["get_rank after destroy"] = error_of(dist.get_rank)
    pathlib.Path(out_dir, f"rank{rank}.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1])
