"""Run by tests/test_distributed.py under mpiexec on a machine with CUDA GPUs: collectives and DDP on the GPU.

usage: gpu_ranks.py BACKEND OUT_DIR   (BACKEND: "nccl", or "mpi" to stage GPU tensors through the host)
Rank r uses GPU r of its node (modulo the GPU count for "mpi"); writes OUT_DIR/rank{r}.npz.
"""
import pathlib
import sys

import numpy as np

import minidl as mdl
import minidl.distributed as dist
from minidl.nn.parallel import DistributedDataParallel

from common import SEED, arrays, build_model, global_batches, make_optimizer, shard, train_step


def main(backend, out_dir, steps=5, per_rank_batch=4):
    dist.init_process_group(backend)
    rank, ranks = dist.get_rank(), dist.get_world_size()
    device = f"cuda:{dist.get_node_local_rank() % mdl.cuda.device_count()}"
    results = {}
    t = mdl.tensor([1.0, 2.0, 3.0], device=device) * (rank + 1)
    dist.all_reduce(t)
    results["sum"] = t.numpy()
    t = mdl.tensor([1.0, 2.0, 3.0], device=device) * (rank + 1)
    dist.all_reduce(t, "avg")
    results["avg"] = t.numpy()
    t = mdl.full((3,), float(rank), device=device)
    dist.broadcast(t, src=ranks - 1)
    results["broadcast"] = t.numpy()
    model = DistributedDataParallel(build_model("mlp", seed=SEED + rank).to(device))
    optimizer = make_optimizer(model.parameters(), "momentum")
    for x, y in global_batches(steps, per_rank_batch * ranks):
        x, y = shard((x.to(device), y.to(device)), rank, ranks)
        train_step(model, optimizer, x, y)
    results.update(arrays(model.module.named_parameters(), "final/"))
    np.savez(pathlib.Path(out_dir) / f"rank{rank}.npz", **results)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
