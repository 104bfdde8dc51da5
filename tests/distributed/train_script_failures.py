"""Run by tests/test_train_script_distributed.py under mpiexec: scripts/train_mnist.py with one rank made to fail.

usage: train_script_failures.py HOW FLAGS...
HOW: "data"  rank 1 cannot read the dataset;
     "write" rank 0 cannot write its checkpoint (disk full);
     "crash" rank 1 raises an unforeseen error in its third training step;
     "unshared" rank 1 does not see the checkpoint to resume (a --checkpoint-dir not shared).
The job must end on every rank with a non-zero exit and a message, never hang.
"""
import errno
import importlib.util
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("train_mnist", ROOT / "scripts" / "train_mnist.py")
train_mnist = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train_mnist)
RANK = int(os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))  # MPICH / Open MPI


def unreadable_data(*args, **kwargs):
    raise train_mnist.data.IDXError("rank 1's copy of the dataset is corrupt (on purpose)")


def disk_full(obj, path):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


class CrashingLoss(train_mnist.nn.CrossEntropyLoss):
    calls = 0

    def forward(self, logits, targets):
        CrashingLoss.calls += 1
        if CrashingLoss.calls == 3:
            raise RuntimeError("rank 1 fails on purpose in its third step")
        return super().forward(logits, targets)


if __name__ == "__main__":
    how, flags = sys.argv[1], sys.argv[2:]
    if how == "data" and RANK == 1:
        train_mnist.data.load_dataset = unreadable_data
    elif how == "write" and RANK == 0:
        train_mnist.mdl.save = disk_full
    elif how == "crash" and RANK == 1:
        train_mnist.nn.CrossEntropyLoss = CrashingLoss
    elif how == "unshared" and RANK == 1:
        train_mnist.read_checkpoint = lambda args, device: None
    train_mnist.main(flags)
