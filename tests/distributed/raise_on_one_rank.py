"""Run by tests/test_distributed.py under mpiexec: the last rank raises while the others wait for it.

usage: raise_on_one_rank.py WHERE   (WHERE: "collective" or "backward")
collective: the other ranks wait in all_reduce; backward: they wait for DDP's gradient reduction.
The job must end with a non-zero exit and the error's message, not hang.
"""
import sys

import minidl as mdl
import minidl.distributed as dist
import minidl.nn.functional as F
from minidl.nn.parallel import DistributedDataParallel

from common import build_model, global_batches


def main(where):
    dist.init_process_group("mpi")
    failing = dist.get_rank() == dist.get_world_size() - 1
    if where == "collective":
        if failing:
            raise ValueError("this rank fails on purpose before the all_reduce")
        dist.all_reduce(mdl.ones(3))
    else:
        model = DistributedDataParallel(build_model("mlp"))
        x, y = global_batches(1, 4)[0]
        if failing:
            raise ValueError("this rank fails on purpose before its backward pass")
        F.cross_entropy(model(x), y).backward()
    print("not reached on the ranks that wait", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
