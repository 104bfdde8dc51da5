"""Run by tests/test_distributed.py under mpiexec: train a model with DDP on each rank's share of every batch.

usage: ddp_train.py MODEL OPTIMIZER STEPS PER_RANK_BATCH OUT_DIR
Each rank starts from its own random parameters (DDP must replace them with rank 0's) and saves
OUT_DIR/rank{r}.npz: the parameters right after wrapping ("initial/..."), and the wrapped model's
state dict after the last step ("final/...", keys as DDP's state_dict gives them).
"""
import pathlib
import sys

import numpy as np

import minidl.distributed as dist
from minidl.nn.parallel import DistributedDataParallel

from common import SEED, arrays, build_model, global_batches, make_optimizer, shard, train_step


def main(model_kind, optimizer_kind, steps, per_rank_batch, out_dir):
    dist.init_process_group("mpi")
    rank, ranks = dist.get_rank(), dist.get_world_size()
    model = DistributedDataParallel(build_model(model_kind, seed=SEED + rank))
    initial = arrays(model.module.named_parameters(), "initial/")
    optimizer = make_optimizer(model.parameters(), optimizer_kind)
    for batch in global_batches(steps, per_rank_batch * ranks):
        train_step(model, optimizer, *shard(batch, rank, ranks))
    np.savez(pathlib.Path(out_dir) / f"rank{rank}.npz", **initial, **arrays(model.state_dict().items(), "final/"))
    dist.destroy_process_group()


if __name__ == "__main__":
    kind, opt, steps, batch, out = sys.argv[1:]
    main(kind, opt, int(steps), int(batch), out)
