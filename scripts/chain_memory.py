#!/usr/bin/env python
"""Peak memory of forward + backward through a 50-step chain, minidl next to HIPS autograd and PyTorch.

    python scripts/chain_memory.py            # both chains, every framework that is installed
    python scripts/chain_memory.py --steps 50 --size 1000

Each (framework, chain) pair runs in a process of its own, so no framework's allocator or
threads affect another's number: the number is the rise of the process's peak resident set
(ru_maxrss) from just before the chain to the end of its backward pass. The chains are the ones
of issue "Core v2": ``y = y * 1.0001 + 1`` (no VJP reads an intermediate: a framework need hold
none) and ``y = tanh(y) + 1`` (tanh's VJP reads its output: every step's output is held).
"""
import argparse
import json
import os
import resource
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CHAINS = {"affine": "y * 1.0001 + 1", "tanh": "tanh(y) + 1"}
FRAMEWORKS = ("minidl", "autograd", "torch")


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def measure(framework, chain, steps, size):
    """Run one chain in this process; return (peak rise in MiB, mean of the gradient)."""
    import numpy as np
    x0 = np.random.default_rng(0).random((size, size), dtype=np.float32)
    if framework == "minidl":
        sys.path.insert(0, ROOT)
        import minidl as mdl
        x = mdl.tensor(x0, requires_grad=True)
        tanh = mdl.tanh
    elif framework == "torch":
        import torch
        torch.set_num_threads(1)
        x = torch.tensor(x0, requires_grad=True)
        tanh = torch.tanh
    else:
        import autograd
        import autograd.numpy as anp
        tanh = anp.tanh
    step = (lambda y: y * 1.0001 + 1) if chain == "affine" else (lambda y: tanh(y) + 1)

    def chained(y):
        for _ in range(steps):
            y = step(y)
        return y.sum()

    before = peak_mib()
    if framework == "autograd":
        grad = autograd.grad(chained)(x0)
    else:
        chained(x).backward()
        grad = x.grad.numpy()
    return peak_mib() - before, float(grad.mean())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--size", type=int, default=1000, help="the chain runs on a (size, size) float32 array")
    p.add_argument("--one", nargs=2, metavar=("FRAMEWORK", "CHAIN"), help=argparse.SUPPRESS)  # a child process
    args = p.parse_args()
    if args.one:
        print(json.dumps(measure(*args.one, args.steps, args.size)))
        return
    print(f"peak memory rise of forward + backward, {args.steps} steps on a ({args.size}, {args.size}) float32 "
          f"array ({args.size * args.size * 4 / 2**20:.1f} MiB), one process per cell\n")
    print("| chain | " + " | ".join(FRAMEWORKS) + " |\n|---|" + "---|" * len(FRAMEWORKS))
    for chain, text in CHAINS.items():
        cells, reference = [], None
        for framework in FRAMEWORKS:
            run = subprocess.run([sys.executable, __file__, "--one", framework, chain, "--steps", str(args.steps),
                                  "--size", str(args.size)], capture_output=True, text=True,
                                 env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
            if run.returncode != 0:
                missing = "ModuleNotFoundError" in run.stderr
                cells.append("not installed" if missing else f"failed: {run.stderr.strip().splitlines()[-1]}")
                continue
            rise, grad_mean = json.loads(run.stdout)
            reference = grad_mean if reference is None else reference
            agrees = abs(grad_mean - reference) <= 1e-4 * max(1.0, abs(reference))
            cells.append(f"{rise:.1f} MiB" + ("" if agrees else f" (a different gradient: mean {grad_mean:.6g})"))
        print(f"| `y = {text}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
