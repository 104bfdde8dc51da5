#!/usr/bin/env python
"""minidl and PyTorch, each next to the floor (hand-written NumPy backprop) in a process of its own.

    python scripts/bench.py                 # CPU: a markdown table on stdout
    python scripts/bench.py --device cuda   # minidl and PyTorch on the GPU, the floor in CuPy
    python scripts/bench.py --json bench.json --quick

Two worker processes: one times minidl and the floor, the other PyTorch and its own copy of the
floor, so no framework's threads run in a process that times another (PyTorch's OpenMP threads
keep spinning after each call and slow whatever runs next). In each, the implementations run a
block of steps in turn, round after round, alternating which goes first; a ratio is the median
over rounds of one implementation's time divided by the floor's measured in the same process, on
realistic inputs (Fashion-MNIST images where installed, see benchmarks/workloads.py). LeNet-5 has
no floor: both workers time it, and the table gives both times with the two floors' agreement. The
large chain has a second floor that frees its saved inputs as it goes, as the frameworks free theirs
(with the first floor's 4 GB kept alive, the large chain needs about 9 GB at its peak).
"""
import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path[:0] = [ROOT, os.path.join(ROOT, "benchmarks")]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=15, help="interleaved rounds per workload")
    p.add_argument("--quick", action="store_true", help="few rounds and steps: a smoke run")
    p.add_argument("--json", default=None, help="also write the results to this file")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if installed")
    p.add_argument("--worker", choices=["minidl", "torch"], help=argparse.SUPPRESS)  # a child process
    return p.parse_args()


class Clock:
    """Times callables on one device, synchronising it before each reading of the clock."""

    def __init__(self, sync):
        self.sync = sync

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
    """Per implementation, the median over rounds of seconds per call; ``ratio`` of each to the floor.

    Each round runs every implementation for ``calls`` calls, the order alternating round by round,
    and each round's ratio compares times taken moments apart (the median of ratios, not the ratio of
    medians, so slow drift of the machine cancels).
    """
    setups = setups or {}
    for name, fn in impls.items():  # warm up: caches, allocator, BLAS threads
        clock.per_call(fn, max(1, calls // 4), setups.get(name))
    names, samples = list(impls), {name: [] for name in impls}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            samples[name].append(clock.per_call(impls[name], calls, setups.get(name)))
    result = {name: {"seconds": statistics.median(s)} for name, s in samples.items()}
    floors = [name for name in samples if name.startswith("floor")]  # "floor", and any variant of it
    for name, s in samples.items():
        for floor in floors:
            if name not in floors:
                ratio = statistics.median(a / b for a, b in zip(s, samples[floor]))
                result[name]["ratio" if floor == "floor" else f"ratio to {floor}"] = ratio
    return result


# -- one worker: a framework and the floor ---------------------------------------------------------

def worker(args):
    import numpy as np
    import workloads as w

    import minidl as mdl
    from minidl import backends
    backend, device = backends.resolve(args.device)
    xp = backend.xp
    if args.worker == "torch":
        import torch
        sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
        step_of, chain_of, lenet_of = w.TorchSeedStep, _torch_chain, w.torch_lenet_step
    else:
        sync = lambda: backend.synchronize(device)  # noqa: E731
        step_of, chain_of, lenet_of = w.MinidlSeedStep, lambda n, s, d: w.minidl_chain(n, s, d)[1], w.lenet_step
    clock, rounds = Clock(sync), 3 if args.quick else args.rounds
    out = {"inputs": w.input_description()}
    for batch, calls in ((32, 50), (128, 30), (1024, 5)):
        impls = {"floor": w.NumpySeedStep(batch, xp), args.worker: step_of(batch, device)}
        out[f"seed step, batch {batch}"] = interleaved(clock, impls, rounds, 3 if args.quick else calls)
    for label, shape, n_rounds in (("small", (16,), rounds), ("large", (1000, 1000), min(rounds, 5))):
        length = 200 if args.quick else 2000
        chain = w.NumpyChain(length, shape, xp)
        impls = {"floor": lambda _: chain.backward(), args.worker: lambda root: root.backward()}
        setups = {"floor": lambda: None, args.worker: lambda: chain_of(length, shape, device)}
        if label == "large":  # the floor keeps its saved inputs; a framework frees its record as it goes, and
            # the allocator's trimming of that memory is a cost of its own: a floor freeing likewise shows it
            impls["floor releasing"] = lambda fresh: fresh.backward(release=True)
            setups["floor releasing"] = lambda: w.NumpyChain(length, shape, xp)
        times = interleaved(clock, impls, n_rounds, 1, setups)
        for t in times.values():
            t["per_node"] = t["seconds"] / length
        out[f"chain backward, {label}"] = times
    lenet = lenet_of(128, device)
    floor = w.NumpySeedStep(128, xp)
    out["LeNet-5 step, batch 128"] = interleaved(clock, {"floor": floor, args.worker: lenet},
                                                  rounds, 3 if args.quick else 5)
    if args.worker == "minidl" and device == "cpu":
        out["memory"] = memory(args, w)
        out["checkpointing"] = checkpointing(args, w, clock, np, mdl)
    print(json.dumps(out))


def _torch_chain(length, shape, device):
    import numpy as np
    import torch
    import workloads as w
    x = torch.tensor(np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32), device=device,
                     requires_grad=True)
    y = x
    for i in range(length):
        y = torch.sin(y) if i % 2 == 0 else y * w.CHAIN_SCALE
    return y.sum()


def peak_step_memory(step):
    """Peak bytes traced (by tracemalloc) during one call of ``step``, after a warm-up call."""
    step()
    gc.collect()
    tracemalloc.start()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def memory(args, w):
    """Peak memory of one step (minidl / floor) and minidl's growth over many steps."""
    results = {}
    for batch in (32, 128, 1024):
        ours, floor = peak_step_memory(w.MinidlSeedStep(batch)), peak_step_memory(w.NumpySeedStep(batch))
        results[f"batch {batch}"] = {"minidl_bytes": ours, "floor_bytes": floor, "ratio": ours / floor}
    step, steps = w.MinidlSeedStep(32), 1000 if args.quick else 10_000
    tracemalloc.start()
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


def checkpointing(args, w, clock, np, mdl):
    """Deep MLP (32 x Linear(1024)+ReLU, batch 256): time per step and memory held for backward."""
    depth, width, batch = (8, 256, 64) if args.quick else (32, 1024, 256)
    model = w.deep_mlp(depth, width)
    x = mdl.tensor(np.random.default_rng(0).standard_normal((batch, width)).astype(np.float32))
    segments = round((2 * depth) ** 0.5)
    times = interleaved(clock, {"plain": lambda: w.checkpoint_step(model, x, 0),
                                "checkpointed": lambda: w.checkpoint_step(model, x, segments)},
                        max(3, args.rounds // 5), 2)
    result = {"depth": depth, "width": width, "batch": batch, "segments": segments}
    for name, n_segments in (("plain", 0), ("checkpointed", segments)):
        held, peak = w.held_for_backward(model, x, n_segments)
        result[name] = {"seconds": times[name]["seconds"], "held_bytes": held, "forward_peak_bytes": peak}
    return result


# -- the parent: run the workers, print the table -------------------------------------------------

def run_worker(kind, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--device", args.device,
           "--rounds", str(args.rounds)] + (["--quick"] if args.quick else [])
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: the {kind} worker failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(results):
    kinds = list(results)
    head = "| workload | " + " | ".join(f"{k} (x floor)" for k in kinds) + " |"
    lines = [head, "|---" * (len(kinds) + 1) + "|"]
    for workload in [k for k in results["minidl"] if k not in ("inputs", "memory", "checkpointing")]:
        cells = []
        for kind in kinds:
            t = results[kind][workload][kind]
            seconds = t.get("per_node", t["seconds"])
            unit, scale = ("us per node", 1e6) if "per_node" in t else ("ms", 1e3)
            ratios = [f"{t['ratio']:.2f}x"] if "ratio" in t and not workload.startswith("LeNet") else []
            if "ratio to floor releasing" in t:
                ratios.append(f"{t['ratio to floor releasing']:.2f}x a floor freeing as it goes")
            ratio = f" ({'; '.join(ratios)})" if ratios else ""
            cells.append(f"{seconds * scale:.3g} {unit}{ratio}")
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    args = parse_args()
    if args.worker:
        return worker(args)
    kinds = ["minidl"]
    if not args.no_torch:
        try:
            import importlib.util
            if importlib.util.find_spec("torch") is not None:
                kinds.append("torch")
        except ImportError:
            pass
    results = {kind: run_worker(kind, args) for kind in kinds}
    import numpy
    print(f"numpy {numpy.__version__}; {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"device {args.device}; {3 if args.quick else args.rounds} rounds; inputs: {results['minidl']['inputs']}\n")
    print(table(results))
    lenet = {k: results[k]["LeNet-5 step, batch 128"] for k in kinds}
    if "torch" in lenet:
        ours, theirs = lenet["minidl"]["minidl"]["seconds"], lenet["torch"]["torch"]["seconds"]
        drift = lenet["torch"]["floor"]["seconds"] / lenet["minidl"]["floor"]["seconds"]
        print(f"\nLeNet-5: minidl / PyTorch = {ours / theirs:.2f} (the two processes' floors differ by "
              f"{abs(drift - 1) * 100:.0f}%; the ratio of LeNet to floor is {lenet['minidl']['minidl']['ratio']:.2f} "
              f"for minidl and {lenet['torch']['torch']['ratio']:.2f} for PyTorch)")
    mem = results["minidl"].get("memory")
    if mem:
        print("\npeak memory of one training step (tracemalloc), minidl / floor:")
        for key, m in mem.items():
            if key != "growth":
                print(f"  {key}: {m['minidl_bytes'] / 2**20:.2f} MiB / {m['floor_bytes'] / 2**20:.2f} MiB "
                      f"= {m['ratio']:.2f}x")
        print(f"memory growth over {mem['growth']['steps']:,} minidl steps: {mem['growth']['bytes']:,} bytes")
        ck = results["minidl"]["checkpointing"]
        plain, cp = ck["plain"], ck["checkpointed"]
        print(f"\ncheckpoint_sequential, {ck['depth']} x (Linear({ck['width']}) + ReLU), batch {ck['batch']}, "
              f"{ck['segments']} segments:\n"
              f"  activations held for backward: {plain['held_bytes'] / 2**20:.1f} MiB plain, "
              f"{cp['held_bytes'] / 2**20:.1f} MiB checkpointed ({plain['held_bytes'] / cp['held_bytes']:.1f}x less)\n"
              f"  time per training step: {plain['seconds'] * 1e3:.0f} ms plain, {cp['seconds'] * 1e3:.0f} ms "
              f"checkpointed ({cp['seconds'] / plain['seconds']:.2f}x)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
