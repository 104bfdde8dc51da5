#!/usr/bin/env python
"""minidl next to the floor (hand-written NumPy backprop) and PyTorch, interleaved in one process.

    python scripts/bench.py                 # CPU, markdown table on stdout
    python scripts/bench.py --device cuda   # minidl and PyTorch on the GPU, the floor in CuPy
    python scripts/bench.py --json bench.json --quick

Every round runs each implementation for a block of steps, one after the other,
so a machine that speeds up or slows down affects all of them alike; the table
gives the median over rounds and the ratio to the floor measured in the same run.
"""
import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path[:0] = [ROOT, os.path.join(ROOT, "benchmarks")]

import numpy as np  # noqa: E402
import workloads as w  # noqa: E402

import minidl as mdl  # noqa: E402
from minidl import backends  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=15, help="a multiple of 3 rotates the order evenly")
    p.add_argument("--quick", action="store_true", help="fewer rounds and steps: a smoke run")
    p.add_argument("--json", default=None, help="also write the results to this file")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if installed")
    return p.parse_args()


def torch_or_none(args):
    if args.no_torch:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


class Clock:
    """Times callables on one device, synchronising it before each reading of the clock."""

    def __init__(self, device, torch):
        self.minidl_sync = lambda: backends.resolve(device)[0].synchronize(device)
        self.torch_sync = torch.cuda.synchronize if torch is not None and device.startswith("cuda") else None

    def sync(self):
        self.minidl_sync()
        if self.torch_sync:
            self.torch_sync()

    def per_call(self, fn, calls, setup=None):
        """Seconds per call of ``fn`` over ``calls`` calls (``setup`` runs untimed before each)."""
        total = 0.0
        for _ in range(calls):
            arg = setup() if setup else None
            self.sync()
            start = time.perf_counter()
            fn(arg) if setup else fn()
            self.sync()
            total += time.perf_counter() - start
        return total / calls


def interleaved(clock, impls, rounds, calls, setups=None):
    """Median seconds per call of each implementation, measured round-robin.

    The order rotates every round: a library whose threads keep spinning after
    its turn (PyTorch's, OpenBLAS's) then slows each of the others equally often.
    """
    setups = setups or {}
    for name, fn in impls.items():  # warm up: caches, allocator, BLAS threads
        clock.per_call(fn, max(1, calls // 4), setups.get(name))
    names = list(impls)
    samples = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            samples[name].append(clock.per_call(impls[name], calls, setups.get(name)))
    return {name: statistics.median(s) for name, s in samples.items()}


def seed_steps(args, clock, xp, torch, rounds):
    rows = []
    for batch, calls in ((32, 50), (128, 30), (1024, 5)):
        impls = {"hand-written": w.NumpySeedStep(batch, xp), "minidl": w.MinidlSeedStep(batch, args.device)}
        if torch is not None:
            impls["PyTorch"] = w.TorchSeedStep(batch, args.device)
        times = interleaved(clock, impls, rounds, calls if not args.quick else 3)
        rows.append((f"training step, 784-256-10, batch {batch}", times, "ms"))
    return rows


def chain_backward(args, clock, xp, torch, rounds):
    rows = []
    for label, shape, n_rounds in (("small", (16,), rounds), ("large", (1000, 1000), min(rounds, 5))):
        length = 2000 if not args.quick else 200
        chain = w.NumpyChain(length, shape, xp)
        impls = {"hand-written": lambda _: chain.backward(), "minidl": lambda out: out.backward()}
        setups = {"minidl": lambda: w.minidl_chain(length, shape, args.device)[1]}
        if torch is not None:
            impls["PyTorch"] = lambda out: out.backward()
            setups["PyTorch"] = lambda: _torch_chain(torch, length, shape, args.device)
        setups["hand-written"] = lambda: None
        times = interleaved(clock, impls, n_rounds, 1, setups)
        per_node = {name: t / length for name, t in times.items()}
        rows.append((f"backward of a {length}-op chain on {shape}, per op", per_node, "us"))
    return rows


def _torch_chain(torch, length, shape, device):
    x = torch.tensor(np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32), device=device,
                     requires_grad=True)
    y = x
    for i in range(length):
        y = torch.sin(y) if i % 2 == 0 else y * w.CHAIN_SCALE
    return y.sum()


def lenet(args, clock, torch, rounds):
    impls = {"minidl": w.lenet_step(128, args.device)}
    if torch is not None:
        impls["PyTorch"] = w.torch_lenet_step(128, args.device)
    return [("LeNet-5 training step, batch 128", interleaved(clock, impls, max(3, rounds // 3), 3), "ms")]


def peak_step_memory(step):
    """Peak bytes traced (by tracemalloc) during one call of ``step``, after a warm-up call."""
    step()
    gc.collect()
    tracemalloc.start()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def memory(args):
    """Peak memory of one step (minidl / hand-written) and minidl's growth over many steps."""
    results = {}
    for batch in (32, 128, 1024):
        ours = peak_step_memory(w.MinidlSeedStep(batch))
        floor = peak_step_memory(w.NumpySeedStep(batch))
        results[f"batch {batch}"] = {"minidl_bytes": ours, "hand_written_bytes": floor, "ratio": ours / floor}
    step, steps = w.MinidlSeedStep(32), 1000 if args.quick else 10_000
    tracemalloc.start()  # traced from the start, so the live state of the last step is counted both times
    for _ in range(100):
        step()
    gc.collect()
    before, _ = tracemalloc.get_traced_memory()
    for _ in range(steps):
        step()
    gc.collect()
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    results["growth"] = {"steps": steps, "bytes": after - before}
    return results


def checkpointing(args, clock):
    """Deep MLP (32 x Linear(1024)+ReLU, batch 256): time per step and memory held for backward."""
    depth, width, batch = (8, 256, 64) if args.quick else (32, 1024, 256)
    model = w.deep_mlp(depth, width).to(args.device)
    x = mdl.tensor(np.random.default_rng(0).standard_normal((batch, width)).astype(np.float32), device=args.device)
    segments = round((2 * depth) ** 0.5)

    times = interleaved(clock, {"plain": lambda: w.checkpoint_step(model, x, 0),
                                "checkpointed": lambda: w.checkpoint_step(model, x, segments)},
                        max(3, args.rounds // 5), 2)
    result = {"depth": depth, "width": width, "batch": batch, "segments": segments}
    for name, n_segments in (("plain", 0), ("checkpointed", segments)):
        held, peak = w.held_for_backward(model, x, n_segments)
        result[name] = {"seconds": times[name], "held_bytes": held, "forward_peak_bytes": peak}
    return result


def table(rows):
    names = ["hand-written", "minidl", "PyTorch"]
    present = [n for n in names if any(n in times for _, times, _ in rows)]
    lines = ["| workload | " + " | ".join(present) + " |", "|---" * (len(present) + 1) + "|"]
    for label, times, unit in rows:
        scale = 1e3 if unit == "ms" else 1e6
        base = times.get("hand-written")
        cells = []
        for name in present:
            if name not in times:
                cells.append("-")
                continue
            ratio = f" ({times[name] / base:.2f}x)" if base else ""
            cells.append(f"{times[name] * scale:.3g} {unit}{ratio}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    args = parse_args()
    try:
        backend, args.device = backends.resolve(args.device)
    except (backends.DeviceUnavailableError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    xp = backend.xp
    torch = torch_or_none(args)
    rounds = 3 if args.quick else args.rounds
    clock = Clock(args.device, torch)
    print(f"minidl {mdl.__version__}, numpy {np.__version__}"
          f"{', torch ' + torch.__version__ if torch else ''}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; device {args.device}; {rounds} rounds\n")
    rows = seed_steps(args, clock, xp, torch, rounds) + chain_backward(args, clock, xp, torch, rounds)
    rows += lenet(args, clock, torch, rounds)
    print(table(rows))
    results = {"device": args.device, "rows": [{"workload": r[0], "unit": r[2], "seconds": r[1]} for r in rows]}
    if args.device == "cpu":
        mem = memory(args)
        print("\npeak memory of one training step (tracemalloc), minidl / hand-written:")
        for key, m in mem.items():
            if key != "growth":
                print(f"  {key}: {m['minidl_bytes'] / 2**20:.2f} MiB / {m['hand_written_bytes'] / 2**20:.2f} MiB "
                      f"= {m['ratio']:.2f}x")
        print(f"memory growth over {mem['growth']['steps']:,} minidl steps: {mem['growth']['bytes']:,} bytes")
        ckpt = checkpointing(args, clock)
        plain, ck = ckpt["plain"], ckpt["checkpointed"]
        print(f"\ncheckpoint_sequential, {ckpt['depth']} x (Linear({ckpt['width']}) + ReLU), batch {ckpt['batch']}, "
              f"{ckpt['segments']} segments:\n"
              f"  activations held for backward: {plain['held_bytes'] / 2**20:.1f} MiB plain, "
              f"{ck['held_bytes'] / 2**20:.1f} MiB checkpointed ({plain['held_bytes'] / ck['held_bytes']:.1f}x less)\n"
              f"  time per training step: {plain['seconds'] * 1e3:.0f} ms plain, {ck['seconds'] * 1e3:.0f} ms "
              f"checkpointed ({ck['seconds'] / plain['seconds']:.2f}x)")
        results.update(memory=mem, checkpointing=ckpt)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
