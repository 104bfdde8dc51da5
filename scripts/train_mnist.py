#!/usr/bin/env python
"""Train a zoo model on MNIST, Fashion-MNIST or digits with minidl, PyTorch-example style.

    python scripts/train_mnist.py                          # MNIST, or bundled digits when offline
    python scripts/train_mnist.py --dataset fashion-mnist --model lenet5 --epochs 5
    python scripts/train_mnist.py --checkpoint-dir runs/mlp --resume
    mpiexec -n 2 python scripts/train_mnist.py --distributed --dataset fashion-mnist --model lenet5

Each epoch prints one line (train loss, test loss, test accuracy, seconds). With --checkpoint-dir,
last.safetensors (model, optimizer, history and the run's settings) is written after every epoch
and best.safetensors whenever the test accuracy is the best so far; ``--resume`` continues from
last.safetensors exactly: same epoch, same optimizer state, same data order. A non-finite loss
stops the run (exit 1) before anything non-finite is saved; Ctrl-C or SIGTERM stop it cleanly
(exit 130 or 143) and print the command that resumes it. Bad flags: one line and exit 2.
"""
import math
import os
import shlex
import signal
import sys
import time

if __name__ == "__main__":  # while importing there is nothing to lose: a signal ends the script, no traceback
    for _signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(_signum, lambda signum, frame: sys.exit(128 + signum))

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), HERE]

import minidl as mdl  # noqa: E402
from minidl import backends, data, nn, optim, zoo  # noqa: E402
import train_args  # noqa: E402
from train_args import UsageError  # noqa: E402
from train_files import RunFailed, check_finite, plot, read_checkpoint, save, write_json  # noqa: E402
from train_ranks import Ranks  # noqa: E402
from train_signals import Interrupted, StopRequests  # noqa: E402

OPTIMIZERS = {
    "sgd": lambda params, a: optim.SGD(params, lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay),
    "adam": lambda params, a: optim.Adam(params, lr=a.lr, weight_decay=a.weight_decay),
    "adamw": lambda params, a: optim.AdamW(params, lr=a.lr, weight_decay=a.weight_decay),
    "rmsprop": lambda params, a: optim.RMSprop(params, lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay),
}
SYNC_EVERY = 20  # steps between reads of the loss (a device sync; with --distributed, one small all-reduce)


class OtherRankFailed(Exception):
    """Another rank failed (it printed why); this rank ends with the same exit code."""

    def __init__(self, rank, exit_code):
        super().__init__(f"rank {rank} failed")
        self.exit_code = exit_code


ENDINGS = (UsageError, RunFailed, Interrupted, OtherRankFailed)  # the ways a run ends on purpose


def fail(message, code=2):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def agree(ranks, stop, step, *args, signals=True):
    """``step(*args)`` on every rank; if it failed on any rank, or a stop signal came to any, all ranks raise.

    With several ranks a rank must never end alone (the others would wait for it forever), so each
    point where one rank could fail or see a signal is followed by this exchange. ``signals=False``:
    a stop signal does not end the run here (it has nothing left to stop).
    """
    error, result = None, None
    try:
        result = step(*args)
    except (UsageError, RunFailed) as err:
        error = err
    codes, (signalled,) = ranks.share(error.exit_code if error else 0, [stop.signum is not None])
    if error is not None:
        error.rank = ranks.rank  # printed by rank 0, or by this rank if rank 0 did not fail as well
        error.show = ranks.is_main or not codes[0]
        raise error
    failed = [r for r, code in enumerate(codes) if code]
    if failed:
        raise OtherRankFailed(failed[0], int(codes[failed[0]]))
    if signalled and signals:
        raise Interrupted(stop.signum or signal.SIGINT)
    return result


def load_data(args, ranks, resuming):
    """Train and test splits; falls back to digits (with one clear message) when the dataset is unavailable.

    With several ranks the fallback is agreed: if any rank lacks the dataset, all train on digits.
    """
    try:
        splits = [data.load_dataset(args.dataset, split, args.data_dir, download=not args.no_download)
                  for split in ("train", "test")]
        problem = None
    except (data.DatasetUnavailableError, data.ChecksumError, data.IDXError) as err:
        splits, problem = None, err
    flags, _ = ranks.share(problem is not None, [])
    missing = [r for r, flag in enumerate(flags) if flag]
    if not missing:
        return splits
    where = "" if ranks.size == 1 else f" on rank {missing[0]}"
    if args.no_fallback or args.dataset == "digits" or resuming:
        reason = "" if problem is None else f"{problem}\n"
        raise UsageError(f"{args.dataset} is not available{where}. {reason}Pass --data-dir with the IDX files"
                         + ("." if resuming else " or choose another --dataset."))
    if ranks.is_main:
        reason = f" ({problem})" if problem else ""
        print(f"note: {args.dataset} is not available{where}{reason}.\n      Use --data-dir DIR with its IDX "
              f"files, or --dataset fashion-mnist / digits; --no-fallback makes this an error.\n"
              f"      Training on the bundled digits dataset instead.", file=sys.stderr)
    args.dataset = "digits"
    return [data.load_dataset("digits", split) for split in ("train", "test")]


class GradCheckpointed(nn.Module):
    """A Sequential that, while training with gradients, keeps only sqrt(depth) activations and recomputes the rest."""

    def __init__(self, seq):
        super().__init__()
        self.seq = seq
        self.segments = max(1, round(math.sqrt(len(seq))))

    def forward(self, x):
        if self.training and mdl.is_grad_enabled():
            return nn.checkpoint_sequential(self.seq, self.segments, x)
        return self.seq(x)


def check_grad_checkpoint(model_name):
    """--grad-checkpoint runs a model's children one after another: only a plain nn.Sequential is that model."""
    model = zoo.create(model_name)
    if not isinstance(model, nn.Sequential) or type(model).forward is not nn.Sequential.forward:
        raise UsageError(f"--grad-checkpoint needs a model that is an nn.Sequential running its children in "
                         f"order; {model_name} is a {type(model).__name__} with its own forward")


def make_scheduler(optimizer, args, epoch):
    """The schedule as of ``epoch``, from the closed form of --lr-schedule with base lr --lr (so overrides apply)."""
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] = args.lr
    if args.lr_schedule == "none":
        return None
    if args.lr_schedule == "step":
        scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    else:
        scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    if epoch:
        scheduler.step(epoch)
    return scheduler


def set_hyperparameters(optimizer, args):
    """After loading an optimizer's state: the run's momentum and weight decay (the saved ones, or the overrides)."""
    for group in optimizer.param_groups:
        group["weight_decay"] = args.weight_decay
        if args.momentum is not None:
            group["momentum"] = args.momentum


def train_epoch(model, loader, optimizer, loss_fn, args, epoch, ranks, stop):
    """One pass over this rank's share of the data; returns the mean loss over all ranks.

    Every SYNC_EVERY steps (and at the last) the loss is read from the device and summed over
    the ranks, together with whether any rank received a stop signal: so a non-finite loss or a
    Ctrl-C stops every rank at the same step.
    """
    model.train()
    from tqdm.auto import tqdm
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{args.epochs}", unit="batch", leave=False,
               disable=True if args.quiet or not ranks.is_main else None,  # None: no bar unless stderr is a terminal
               dynamic_ncols=True)
    total, seen, start = 0.0, 0, time.perf_counter()
    pending, pending_n = None, 0
    for step, (x, y) in enumerate(bar, 1):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        batch_loss = loss.detach() * len(y)
        pending = batch_loss if pending is None else pending + batch_loss  # stays on the device
        pending_n += len(y)
        if ranks.size == 1:
            stop.check()  # one process stops at the next step; several ranks at the next exchange
        if step % SYNC_EVERY and step != len(loader):
            continue
        loss_sum, n, signalled = ranks.sum([pending.item(), pending_n, stop.signum is not None])
        total, seen = total + loss_sum, seen + n
        pending, pending_n = None, 0
        if not math.isfinite(total):
            raise RunFailed(f"the training loss became {total} in epoch {epoch + 1} (by step {step}); the run "
                            "diverged, so it stops here without saving. Try a smaller --lr")
        if signalled:
            raise Interrupted(stop.signum or signal.SIGINT)
        bar.set_postfix(loss=f"{total / seen:.4f}", samples_per_s=f"{seen / (time.perf_counter() - start):.0f}")
    return total / seen


def evaluate(model, loader, loss_fn, ranks):
    """Mean loss and accuracy over the whole test set (each rank's share, summed over ranks), without recording."""
    model.eval()
    loss_sum, correct, n = 0.0, 0, 0
    with mdl.no_grad():
        for x, y in loader:
            logits = model(x)
            loss_sum += loss_fn(logits, y).item() * len(y)
            correct += int((logits.argmax(dim=1) == y).astype("int64").sum().item())
            n += len(y)
    loss_sum, correct, n = ranks.sum([loss_sum, correct, n])
    return loss_sum / n, correct / n


def resume_command(args, ranks):
    """The command line that continues this run from its last checkpoint."""
    script = os.path.relpath(os.path.abspath(__file__))
    if script.startswith(".."):
        script = os.path.abspath(__file__)
    argv = [a for a in args.argv if a != "--resume"]
    launcher = ["mpiexec", "-n", str(ranks.size)] if ranks.distributed else []
    return shlex.join([*launcher, "python", script, *argv, "--resume"])


class Run:
    """One training run: its settings, model, data and checkpoints, built from the parsed flags."""

    def __init__(self, args, ranks, stop):
        self.args, self.ranks, self.stop = args, ranks, stop
        self.epoch, self.history = None, []
        self.last = train_args.checkpoint_name(args) if args.checkpoint_dir else None
        self.best = train_args.checkpoint_name(args, "best.safetensors") if args.checkpoint_dir else None
        state, overridden = agree(ranks, stop, self.settle)
        epochs, _ = ranks.share(state["epoch"] if state else -1, [])
        if len(set(epochs)) > 1:
            raise UsageError(f"the ranks see different checkpoints in {args.checkpoint_dir} (epochs "
                             f"{[int(e) if e >= 0 else None for e in epochs]} by rank): --checkpoint-dir must be one "
                             "folder that every rank reads (a shared file system)")
        self.train_set, self.test_set = load_data(args, ranks, resuming=state is not None)
        if not (len(self.train_set) and len(self.test_set)):
            raise UsageError(f"{args.dataset} has {len(self.train_set)} training and {len(self.test_set)} test "
                             "samples; both splits need at least one")
        if state is None:
            train_args.resolve(args)  # after a fallback to digits, digits' defaults
        self.first_epoch = state["epoch"] if state else 0
        if self.first_epoch > args.epochs:
            raise UsageError(f"the checkpoint has already trained {self.first_epoch} epochs, more than --epochs "
                             f"{args.epochs}; give --epochs above {self.first_epoch} to train further")
        self.history = list(state["history"]) if state else []
        mdl.manual_seed(args.seed)
        self.model = zoo.create(args.model, input_shape=self.train_set.input_shape,
                                num_classes=len(self.train_set.classes))
        self.model.to(args.dtype).to(args.device)
        self.optimizer = OPTIMIZERS[args.optimizer](self.model.parameters(), args)
        if state:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            set_hyperparameters(self.optimizer, args)
        self.scheduler = make_scheduler(self.optimizer, args, self.first_epoch)
        self.trained = ranks.wrap(GradCheckpointed(self.model) if args.grad_checkpoint else self.model)
        loader_options = dict(device=args.device, dtype=args.dtype)
        self.train_loader = ranks.train_loader(self.train_set, args.batch_size, args.seed, **loader_options)
        self.test_loader = ranks.test_loader(self.test_set, **loader_options)
        self.loss_fn = nn.CrossEntropyLoss()
        self.banner(state, overridden)

    def settle(self):
        """What this rank can check before loading data: the device, the checkpoint to resume, the settings."""
        a = self.args
        if self.ranks.distributed and a.device == "cuda":
            a.device = f"cuda:{self.ranks.local_rank}"  # one GPU per rank
        try:
            self.backend, a.device = backends.resolve(a.device)
        except (backends.DeviceUnavailableError, ValueError) as err:
            raise UsageError(str(err)) from None
        if self.last and not a.resume and os.path.exists(self.last):
            raise UsageError(f"{self.last} exists: add --resume to continue that run, or choose another "
                             "--checkpoint-dir (a new run would overwrite it)")
        state = read_checkpoint(a, a.device) if a.resume else None
        overridden = train_args.resolve(a, state["settings"] if state else None)  # model and dataset now known
        if a.grad_checkpoint:
            check_grad_checkpoint(a.model)
        return state, overridden

    def banner(self, state, overridden):
        a = self.args
        n_params = sum(p.numel() for p in self.model.parameters())
        ranks = f" | {self.ranks.size} ranks" if self.ranks.distributed else ""
        momentum = f", momentum {a.momentum:g}" if a.momentum is not None else ""
        decay = f", weight decay {a.weight_decay:g}" if a.weight_decay else ""
        schedule = f", {a.lr_schedule} schedule" if a.lr_schedule != "none" else ""
        self.say(f"minidl {mdl.__version__} | {a.model} ({n_params:,} parameters) | {a.dataset}: "
                 f"{len(self.train_set):,} train / {len(self.test_set):,} test | device {a.device}{ranks} | "
                 f"{a.optimizer} lr {a.lr:g}{momentum}{decay}{schedule}, batch {a.batch_size}, {a.epochs} epochs")
        if state:
            self.say(f"resumed from {self.last} after epoch {self.first_epoch}")
            if state.get("world_size", 1) != self.ranks.size:
                self.say(f"  note: the checkpoint was written by a run on {state.get('world_size', 1)} process(es) "
                         f"and this one has {self.ranks.size}: the data order and the global batch differ from it")
            if self.first_epoch == a.epochs:
                self.say(f"  nothing left to train: the checkpoint has all {a.epochs} epochs")
            for name, saved in overridden.items():
                self.say(f"  --{name.replace('_', '-')} {getattr(a, name)} from the command line overrides the "
                         f"checkpoint's {saved}")
        elif a.resume:
            self.say(f"note: no checkpoint at {self.last} to resume from; starting from epoch 1", sys.stderr)

    def say(self, text, file=None):
        if self.ranks.is_main:
            print(text, file=file or sys.stdout, flush=True)

    def train(self):
        """Train the remaining epochs; returns the history of all epochs."""
        a, start = self.args, time.perf_counter()
        self.stop.deferred = True
        for epoch in range(self.first_epoch, a.epochs):
            self.epoch = epoch
            mdl.manual_seed(a.seed * 10_007 + epoch)  # dropout masks depend on (seed, epoch) only: resumable
            self.train_loader.set_epoch(epoch)
            started = time.perf_counter()
            train_loss = train_epoch(self.trained, self.train_loader, self.optimizer, self.loss_fn, a, epoch,
                                     self.ranks, self.stop)
            self.backend.synchronize(a.device)
            seconds = time.perf_counter() - started
            test_loss, test_acc = evaluate(self.trained, self.test_loader, self.loss_fn, self.ranks)
            if not math.isfinite(test_loss):
                raise RunFailed(f"the test loss became {test_loss} after epoch {epoch + 1}; the run diverged, so it "
                                "stops here without saving. Try a smaller --lr")
            self.history.append({"epoch": epoch + 1, "train_loss": train_loss, "test_loss": test_loss,
                                 "test_accuracy": test_acc, "seconds": seconds,
                                 "samples_per_s": len(self.train_set) / seconds})
            self.say(f"epoch {epoch + 1:>2}/{a.epochs}  train loss {train_loss:.4f}  test loss {test_loss:.4f}  "
                     f"test acc {test_acc:.4f}  {seconds:.2f}s")
            if self.scheduler is not None:
                self.scheduler.step()
            agree(self.ranks, self.stop, self.write_epoch, epoch + 1)
        self.epoch = None
        agree(self.ranks, self.stop, self.write_final, signals=False)
        best = max(self.history, key=lambda h: h["test_accuracy"])
        self.say(f"done: test accuracy {self.history[-1]['test_accuracy']:.4f} (best {best['test_accuracy']:.4f} "
                 f"at epoch {best['epoch']}), {time.perf_counter() - start:.2f}s this run")
        return self.history

    def write_epoch(self, epoch):
        """Rank 0: the checkpoints (last, and best if it is) and the metrics of the epoch just finished."""
        a = self.args
        if not self.ranks.is_main:
            return
        if self.last:
            check_finite(self.model)
            state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "epoch": epoch,
                     "history": self.history, "settings": train_args.settings(a), "world_size": self.ranks.size}
            save(state, self.last, "checkpoint")
            if self.history[-1]["test_accuracy"] > max((h["test_accuracy"] for h in self.history[:-1]), default=-1):
                save(state, self.best, "checkpoint")
        if a.metrics_json:
            write_json(a.metrics_json, {"args": vars(a), "history": self.history})

    def write_final(self):
        """Rank 0: the curves and the final weights, once every epoch has been trained."""
        a, history = self.args, self.history
        if not self.ranks.is_main:
            return
        if a.plot:
            plot(a.plot, history)
        if a.save_weights:
            check_finite(self.model)
            save(self.model.state_dict(), a.save_weights, "--save-weights file")
            print(f"saved the final weights to {a.save_weights} (test accuracy {history[-1]['test_accuracy']:.4f})")

    def kept(self):
        """Which checkpoint the run leaves behind."""
        done = self.history[-1]["epoch"] if self.history else 0
        if not self.last:
            return "no checkpoint was written (no --checkpoint-dir)"
        if done:
            return f"the last checkpoint is {self.last} (after epoch {done})"
        return "no epoch has finished, so there is no checkpoint yet"

    def interrupted(self, err):
        """What the run has kept when the signal ``err`` stopped it, and the command that continues it."""
        if self.epoch is not None:
            where = f"during epoch {self.epoch + 1}/{self.args.epochs}"
        else:
            where = "after training" if self.history else "before training"
        if not self.last:
            return f"stopped by {err} {where}; {self.kept()}"
        return f"stopped by {err} {where}; {self.kept()}. Resume with:\n  {resume_command(self.args, self.ranks)}"


def main(argv=None):
    """Train as the flags say; returns the history (per-epoch metrics).

    Exit codes: 2 bad flags or a checkpoint that cannot be resumed, 1 a failed run (non-finite
    loss, a failed save), 130/143 stopped by SIGINT/SIGTERM.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    distributed = "--distributed" in argv
    with StopRequests() as stop:
        stop.deferred = distributed  # several ranks stop together, at the next point where they agree
        try:
            ranks = Ranks(distributed)
        except ImportError as err:
            fail(f"--distributed: {err}")
        stop.announce = ranks.is_main
        run = None
        try:
            args = agree(ranks, stop, train_args.parse_args, argv, not ranks.is_main, __doc__)
            agree(ranks, stop, lambda: ranks.is_main and train_args.check_writable(args))
            run = Run(args, ranks, stop)
            history = run.train()
        except ENDINGS as err:
            ranks.close()
            if getattr(err, "show", ranks.is_main) and not isinstance(err, OtherRankFailed):
                where = f"(rank {err.rank}) " if ranks.size > 1 and getattr(err, "rank", 0) else ""
                text = f"error: {where}{err}"
                if isinstance(err, RunFailed) and run:
                    text += f"\n{run.kept()}"
                if isinstance(err, Interrupted):
                    text = run.interrupted(err) if run else f"stopped by {err} before training; nothing was saved"
                print(text, file=sys.stderr, flush=True)
            sys.exit(err.exit_code)
        ranks.close()
        return history


if __name__ == "__main__":
    main()
