#!/usr/bin/env python
"""Data-parallel throughput on Fashion-MNIST: training samples/s, and the all-reduce time per step.

    OPENBLAS_NUM_THREADS=2 python scripts/ddp_throughput.py --model lenet5
    OPENBLAS_NUM_THREADS=1 mpiexec -n 2 python scripts/ddp_throughput.py --model lenet5 --distributed
    OPENBLAS_NUM_THREADS=1 mpiexec -n 2 python scripts/ddp_throughput.py --model lenet5 --distributed \
        --bucket-cap-mb 0.05

Each rank trains on its own batches of --batch-size (SGD, momentum 0.9). The same steps are timed
in alternating blocks two ways: DDP steps (gradients averaged across ranks) and local steps
(inside ``no_sync()``: the same work with no communication). Their difference is the all-reduce
time a step pays (what the overlap with backward did not hide). With the default bucket_cap_mb
these models have one bucket, reduced after backward (no overlap); a small --bucket-cap-mb splits
the gradients into several buckets whose all-reduces start during backward. The time of one
blocking all-reduce of all the gradients is reported too. Rank 0 prints one JSON line with the
machine's load average, since on a shared machine the numbers depend on it.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minidl as mdl  # noqa: E402
import minidl.nn.functional as F  # noqa: E402
from minidl import data, optim, zoo  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="lenet5", choices=zoo.list_models())
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--batch-size", type=int, default=128, help="per rank")
    p.add_argument("--steps", type=int, default=20, help="steps per timed block")
    p.add_argument("--blocks", type=int, default=5, help="alternating blocks of DDP and local steps")
    p.add_argument("--bucket-cap-mb", type=float, default=25.0)
    p.add_argument("--distributed", action="store_true", help="one of the ranks of mpiexec -n N")
    return p.parse_args()


def main():
    args = parse_args()
    dist, rank, ranks = None, 0, 1
    if args.distributed:
        import minidl.distributed as dist
        dist.init_process_group("mpi")
        rank, ranks = dist.get_rank(), dist.get_world_size()
    train = data.load_dataset("fashion-mnist", "train", args.data_dir, download=False)
    mdl.manual_seed(0)
    model = zoo.create(args.model, input_shape=train.input_shape, num_classes=len(train.classes))
    ddp = mdl.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=args.bucket_cap_mb) if dist else model
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = data.DataLoader(train, args.batch_size, shuffle=True, seed=rank, dtype="float32", drop_last=True)
    batches = iter(loader)

    def steps(n, communicate):
        nonlocal batches
        if dist:
            dist.barrier()
        start = time.perf_counter()
        for _ in range(n):
            try:
                x, y = next(batches)
            except StopIteration:
                batches = iter(loader)
                x, y = next(batches)
            optimizer.zero_grad()
            if communicate or not dist:
                F.cross_entropy(ddp(x), y).backward()
            else:
                with ddp.no_sync():
                    F.cross_entropy(ddp(x), y).backward()
            optimizer.step()
        return (time.perf_counter() - start) / n

    steps(5, True)  # warm up
    ddp_times, local_times = [], []
    for _ in range(args.blocks):
        ddp_times.append(steps(args.steps, True))
        local_times.append(steps(args.steps, False))
    step, local = statistics.median(ddp_times), statistics.median(local_times)
    result = {"model": args.model, "ranks": ranks, "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "?"),
              "batch_per_rank": args.batch_size, "samples_per_s": round(ranks * args.batch_size / step),
              "step_ms": round(1e3 * step, 2)}
    if dist:
        flat = mdl.zeros(sum(p.numel() for p in model.parameters()))
        timings = []
        for _ in range(20):
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(flat, dist.ReduceOp.AVG)
            timings.append(time.perf_counter() - start)
        result.update({"bucket_cap_mb": args.bucket_cap_mb, "buckets": len(ddp.reducer.buckets),
                       "local_step_ms": round(1e3 * local, 2), "allreduce_exposed_ms": round(1e3 * (step - local), 2),
                       "allreduce_blocking_ms": round(1e3 * statistics.median(timings), 2)})
    result["loadavg_1min"] = os.getloadavg()[0]
    if rank == 0:
        print(json.dumps(result), flush=True)
    if dist:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
