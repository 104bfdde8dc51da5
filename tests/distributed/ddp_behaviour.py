"""Run by tests/test_distributed.py under mpiexec: DDP's behaviours beyond plain training, one scenario each.

usage: ddp_behaviour.py SCENARIO OUT_DIR   (writes OUT_DIR/rank{r}.json)
"""
import json
import pathlib
import sys

import minidl as mdl
import minidl.distributed as dist
import minidl.nn.functional as F
from minidl import nn
from minidl.nn.parallel import DistributedDataParallel

from common import build_model, error_of, global_batches, make_optimizer, shard, train_step


def grads(model):
    return {name: None if p.grad is None else p.grad.tolist() for name, p in model.module.named_parameters()}


def overlap(rank, ranks):
    """Which buckets are already being reduced when backward reaches the first layer's weight."""
    model = DistributedDataParallel(build_model("mlp"), bucket_cap_mb=100 / 2**20)  # about 100 bytes a bucket
    launched = []
    model.module[0].weight.register_hook(
        lambda g: launched.append([b.work is not None for b in model.reducer.buckets]))
    x, y = shard(global_batches(1, 4 * ranks)[0], rank, ranks)
    F.cross_entropy(model(x), y).backward()
    return {"launched when the first layer's gradient arrives": launched[0],
            "bucket parameters": [[model.reducer.names[p] for p in b.params] for b in model.reducer.buckets],
            "state_dict keys": list(model.state_dict())}


def no_sync(rank, ranks, steps=5, micro_batch=3):
    """Two micro-batches a step: the first inside no_sync, the second synchronised."""
    model = DistributedDataParallel(build_model("mlp"))
    optimizer = make_optimizer(model.parameters(), "momentum")
    local = None
    for batch in global_batches(steps, 2 * micro_batch * ranks):
        optimizer.zero_grad()
        first, second = (shard(batch, 2 * rank + i, 2 * ranks) for i in range(2))
        with model.no_sync():
            (F.cross_entropy(model(first[0]), first[1]) / 2).backward()
        local = local or grads(model)
        (F.cross_entropy(model(second[0]), second[1]) / 2).backward()
        optimizer.step()
    final = {name: p.tolist() for name, p in model.module.named_parameters()}
    return {"grads after the no_sync backward": local, "final": final}


class Heads(nn.Module):
    """``a`` is used on every rank, ``b`` only on rank 0, ``c`` never."""

    def __init__(self, rank):
        super().__init__()
        self.rank = rank
        self.a, self.b, self.c = nn.Linear(2, 1), nn.Linear(2, 1), nn.Linear(2, 1)

    def forward(self, x):
        out = self.a(x)
        return out + self.b(x) if self.rank == 0 else out


def unused(rank, ranks):
    x = mdl.tensor([[1.0, 2.0], [3.0, 5.0]])
    strict = DistributedDataParallel(Heads(rank))
    refused = error_of(lambda: strict(x).sum().backward())
    model = DistributedDataParallel(Heads(rank), find_unused_parameters=True)
    model(x).sum().backward()
    return {"without find_unused_parameters": refused, "grads": grads(model)}


def buffers(rank, ranks):
    """BatchNorm's running statistics after training (per rank), and after one evaluation forward."""
    model = DistributedDataParallel(build_model("batchnorm"))
    optimizer = make_optimizer(model.parameters(), "sgd")
    for batch in global_batches(3, 4 * ranks):
        train_step(model, optimizer, *shard(batch, rank, ranks))
    after_training = model.module[1].running_mean.tolist()
    model.eval()
    with mdl.no_grad():
        model(global_batches(1, 2, seed=5)[0][0])
    return {"after training": after_training, "after an evaluation forward": model.module[1].running_mean.tolist()}


def different_models(rank, ranks):
    kind = "mlp" if rank == 0 else "batchnorm"
    return {"wrap": error_of(lambda: DistributedDataParallel(build_model(kind)))}


def main(scenario, out_dir):
    dist.init_process_group("mpi")
    rank, ranks = dist.get_rank(), dist.get_world_size()
    results = globals()[scenario](rank, ranks)
    pathlib.Path(out_dir, f"rank{rank}.json").write_text(json.dumps(results))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
