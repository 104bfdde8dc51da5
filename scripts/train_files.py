"""What scripts/train_mnist.py reads and writes: checkpoints, metrics, curves and weights.

Reading a checkpoint to resume refuses what would silently go wrong (an unreadable file, one
without the run's settings, NaN or infinite values); a failed write is a RunFailed naming the
file. mdl.save writes atomically, so the previous file survives any failure.
"""
import json
import os

import minidl as mdl
from minidl.atomic_file import atomic_write
import train_args
from train_args import UsageError


class RunFailed(Exception):
    """The run cannot go on (a non-finite loss, a failed save); exit code 1."""

    exit_code = 1


def read_checkpoint(args, device):
    """The checkpoint to resume (None when there is none yet); refused if unreadable, settings-less or non-finite."""
    path = train_args.checkpoint_name(args)
    if not os.path.exists(path):
        return None
    try:
        state = mdl.load(path, device=device)
    except (mdl.CheckpointError, OSError) as err:
        best = train_args.checkpoint_name(args, "best.safetensors")
        hint = f"; {best} may be intact: copy it to {path} to resume from it" if os.path.exists(best) else ""
        raise UsageError(f"cannot resume: {err}{hint}") from None
    if not isinstance(state, dict) or "settings" not in state:
        raise UsageError(f"cannot resume from {path}: it holds no run settings (not written by this version of "
                         "train_mnist.py); start a new run in another --checkpoint-dir")
    for part in ("model", "optimizer"):
        for name, value in flat_tensors(state[part]):
            if not bool(mdl.isfinite(value).all().item()):
                raise UsageError(f"cannot resume from {path}: {part} tensor {name!r} holds NaN or infinite values "
                                 "(the run that wrote it diverged); start again with a smaller --lr")
    return state


def flat_tensors(obj, prefix=""):
    """``(dotted name, tensor)`` for each tensor inside nested dicts and lists."""
    if isinstance(obj, mdl.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from flat_tensors(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from flat_tensors(value, f"{prefix}.{i}" if prefix else str(i))


def check_finite(model):
    """Refuse to save a model with a NaN or infinite parameter."""
    for name, p in model.named_parameters():
        if not bool(mdl.isfinite(p.detach()).all().item()):
            raise RunFailed(f"parameter {name!r} holds NaN or infinite values; not saving it")


def save(obj, path, what):
    """``mdl.save`` (atomic), a failure being a RunFailed that names ``what`` was written."""
    try:
        mdl.save(obj, path)
    except OSError as err:
        raise RunFailed(f"could not write the {what} {path}: {err.strerror or err}; the previous file, if any, "
                        "is intact") from None


def write_json(path, obj):
    """Write ``obj`` as JSON atomically (as checkpoints are), so ``path`` is always whole."""
    try:
        with atomic_write(path) as f:
            f.write(json.dumps(obj, indent=2).encode())
    except OSError as err:
        raise RunFailed(f"could not write --metrics-json {path}: {err.strerror or err}") from None


def plot(path, history):
    """Loss and test-accuracy curves per epoch, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax_loss.plot(epochs, [h["test_loss"] for h in history], "o-", label="test")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_loss.legend()
    ax_acc.plot(epochs, [h["test_accuracy"] for h in history], "o-", color="tab:green")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="test accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
