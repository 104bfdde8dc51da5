"""The command line of scripts/train_mnist.py: its flags, their checks, and where each setting comes from.

Every flag is checked when it is parsed, before any data is loaded: a bad value is one line
``error: ...`` on stderr and exit code 2. A training setting not given on the command line
comes from the checkpoint being resumed, else from the model's ``zoo.training_defaults``.
"""
import argparse
import math
import os
import sys

from minidl import zoo

DATASETS = ("mnist", "fashion-mnist", "digits")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("none", "step", "cosine")
# The settings a checkpoint cannot change: resuming with another value is refused.
STRUCTURAL = ("model", "dataset", "optimizer", "lr_schedule", "dtype")
FALLBACK = {"model": "mlp", "dataset": "mnist", "dtype": "float32"}
# Settings a resumed run may change: given on the command line, they override the checkpoint's.
HYPERPARAMETERS = ("lr", "momentum", "weight_decay", "epochs", "batch_size", "seed")
# lr and momentum for an optimizer other than the model's own (whose zoo defaults are tuned for that one).
OPTIMIZER_DEFAULTS = {"sgd": {"lr": 0.1, "momentum": 0.9}, "adam": {"lr": 1e-3}, "adamw": {"lr": 1e-3},
                      "rmsprop": {"lr": 1e-3, "momentum": 0.0}}
MOMENTUM_OPTIMIZERS = ("sgd", "rmsprop")
SEED_DEFAULT = 0


class UsageError(Exception):
    """A flag or a combination of flags that cannot run; the script reports it as ``error: ...``, exit 2."""

    exit_code = 2


class Parser(argparse.ArgumentParser):
    quiet = False  # set on every rank but the first of a distributed run: the same error is printed once

    def error(self, message):
        """argparse's errors as the script's other errors: one line on stderr, exit 2."""
        if not self.quiet:
            print(f"error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)

    def print_help(self, file=None):
        if not self.quiet:
            super().print_help(file)


def checked(convert, test, requirement):
    """An argparse ``type`` that converts with ``convert`` and accepts only values passing ``test``."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {convert.__name__}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text}")
        return value
    parse.__name__ = convert.__name__
    return parse


positive_int = checked(int, lambda v: v >= 1, "at least 1")
non_negative_int = checked(int, lambda v: v >= 0, "0 or more")
positive_float = checked(float, lambda v: math.isfinite(v) and v > 0, "a finite number above 0")
non_negative_float = checked(float, lambda v: math.isfinite(v) and v >= 0, "a finite number, 0 or more")
momentum_float = checked(float, lambda v: 0 <= v < 1, "in [0, 1)")


def defaults_table():
    """Each model's training defaults, one line per model and group of datasets sharing them (for --help)."""
    lines = ["training defaults (zoo.training_defaults; a flag given on the command line wins):"]
    for model in zoo.list_models():
        groups = {}
        for dataset in DATASETS:
            d = zoo.training_defaults(model, dataset)
            groups.setdefault(tuple(sorted(d.items())), []).append(dataset)
        for settings, datasets in groups.items():
            d = dict(settings)
            lines.append(f"  {model:<9} {', '.join(datasets):<22} {d['optimizer']} lr {d['lr']:g}, momentum "
                         f"{d['momentum']:g}, weight decay {d['weight_decay']:g}, schedule {d['lr_schedule']}, "
                         f"{d['epochs']} epochs, batch {d['batch_size']}")
    lines.append("  with another --optimizer than the model's: " + "; ".join(
        f"{name} " + ", ".join(f"{k} {v:g}" for k, v in d.items()) for name, d in OPTIMIZER_DEFAULTS.items()))
    return "\n".join(lines)


def build_parser(description=None):
    p = Parser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=defaults_table(),
               allow_abbrev=False)  # the script looks for --distributed before parsing: no abbreviations
    model_default = "the model's (see below)"
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--model", choices=zoo.list_models(), help="default: mlp (on --resume: the checkpoint's)")
    p.add_argument("--dataset", choices=DATASETS, help="default: mnist (on --resume: the checkpoint's)")
    p.add_argument("--epochs", type=positive_int, help=f"total epochs; default: {model_default}")
    p.add_argument("--batch-size", type=positive_int, help=f"per process (per rank with --distributed); "
                   f"default: {model_default}")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help=f"default: {model_default}")
    p.add_argument("--lr", type=positive_float, help=f"default: {model_default}")
    p.add_argument("--momentum", type=momentum_float, help=f"sgd and rmsprop only; default: {model_default}")
    p.add_argument("--weight-decay", type=non_negative_float, help=f"default: {model_default}")
    p.add_argument("--lr-schedule", choices=SCHEDULES, help="step: x0.7 every epoch (as PyTorch's MNIST example); "
                   f"cosine: anneal to 0 over --epochs; default: {model_default}")
    p.add_argument("--seed", type=non_negative_int, help=f"default: {SEED_DEFAULT}")
    p.add_argument("--data-dir", help="folder with the IDX files (searched before the cache); must exist")
    p.add_argument("--no-download", action="store_true", help="only use files already on this machine")
    p.add_argument("--no-fallback", action="store_true", help="fail instead of training on digits when "
                   "the dataset cannot be found or downloaded")
    p.add_argument("--checkpoint-dir", help="write last.safetensors (every epoch) and best.safetensors "
                   "(best test accuracy) here")
    p.add_argument("--resume", action="store_true", help="continue from last.safetensors in --checkpoint-dir")
    p.add_argument("--dtype", choices=("float32", "float64"), help="default: float32 (on --resume: the checkpoint's)")
    p.add_argument("--grad-checkpoint", action="store_true", help="recompute activations in backward "
                   "(checkpoint_sequential with sqrt(depth) segments; nn.Sequential models only)")
    p.add_argument("--metrics-json", help="write per-epoch metrics to this JSON file")
    p.add_argument("--plot", help="save loss/accuracy curves to this PNG (needs matplotlib)")
    p.add_argument("--save-weights", help="after training, write the final model's state_dict here (safetensors)")
    p.add_argument("--distributed", action="store_true", help="data-parallel over the ranks of "
                   "`mpiexec -n N python scripts/train_mnist.py --distributed ...` (needs mpi4py)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def parse_args(argv=None, quiet=False, description=None):
    """The parsed flags; settings left out are None (see ``resolve``). Also checks what needs no data.

    ``quiet``: argparse's own errors and --help print nothing (the other ranks of a distributed run).
    """
    parser = build_parser(description)
    parser.quiet = quiet
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.given = sorted(name for name in (*STRUCTURAL, *HYPERPARAMETERS) if getattr(args, name) is not None)
    launched = launcher_size()
    if launched > 1 and not args.distributed:
        raise UsageError(f"started as one of {launched} processes (mpiexec) without --distributed: each would train "
                         "alone and write the same files; add --distributed")
    if args.resume and not args.checkpoint_dir:
        raise UsageError("--resume needs --checkpoint-dir")
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        raise UsageError(f"--data-dir {args.data_dir}: no such folder")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError('--plot needs matplotlib: pip install "minidl[plot]"') from None
    return args


def launcher_size():
    """How many processes mpiexec started (MPICH's and Open MPI's variables; 1 when not under mpiexec)."""
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 1


def check_writable(args):
    """Create the folders of every output and write a probe file into each, so a bad path fails now, not later."""
    files = [(flag, path) for flag, path in (("--metrics-json", args.metrics_json), ("--plot", args.plot),
                                             ("--save-weights", args.save_weights)) if path]
    for flag, path in files:
        if os.path.isdir(path):
            raise UsageError(f"{flag} {path} is a folder; give a file name")
    folders = [("--checkpoint-dir", args.checkpoint_dir)] if args.checkpoint_dir else []
    for flag, folder in folders + [(flag, os.path.dirname(os.path.abspath(path))) for flag, path in files]:
        probe = os.path.join(folder, f".train_mnist-probe-{os.getpid()}")
        try:
            os.makedirs(folder, exist_ok=True)
            with open(probe, "w") as f:
                f.write("probe")
            os.remove(probe)
        except OSError as err:
            raise UsageError(f"{flag}: cannot write into {folder}: {err.strerror or err}") from None


def resolve(args, saved=None):
    """Fill every setting not given on the command line: from ``saved`` (the resumed checkpoint's settings),
    else from the model's zoo defaults (again after a fallback to another dataset: ``args.given`` is kept).

    Returns the hyperparameters given on the command line that differ from the checkpoint's
    (the banner names them). A structural setting given and different from the checkpoint's is a UsageError.
    """
    given = set(args.given)
    if saved is not None:
        differ = [f"--{name.replace('_', '-')} {saved[name]} (checkpoint) vs {getattr(args, name)} (command line)"
                  for name in STRUCTURAL if name in given and getattr(args, name) != saved[name]]
        if differ:
            raise UsageError(f"cannot resume {checkpoint_name(args)}: it was made with different settings: "
                             f"{'; '.join(differ)}. Start a new run in another --checkpoint-dir, or leave "
                             "these flags out to continue with the checkpoint's")
        overridden = {name: saved[name] for name in HYPERPARAMETERS
                      if name in given and getattr(args, name) != saved[name]}
        if saved["optimizer"] == "rmsprop" and not saved["momentum"] and "momentum" in overridden:
            raise UsageError("--momentum: a resumed RMSprop run cannot turn momentum on (its saved state has no "
                             "momentum buffer, as in PyTorch); start a new run to train with momentum")
        for name in (*STRUCTURAL, *HYPERPARAMETERS):
            if name not in given:
                setattr(args, name, saved[name])
        check_momentum(args, "momentum" in given)
        return overridden
    for name, value in FALLBACK.items():
        if name not in given and (name != "dataset" or args.dataset is None):  # keep a fallback's dataset
            setattr(args, name, value)
    model_defaults = zoo.training_defaults(args.model, args.dataset)
    if "optimizer" in given and args.optimizer != model_defaults["optimizer"]:
        model_defaults = {**model_defaults, "momentum": None, **OPTIMIZER_DEFAULTS[args.optimizer]}
    for name in ("optimizer", "lr_schedule", "lr", "momentum", "weight_decay", "epochs", "batch_size"):
        if name not in given:
            setattr(args, name, model_defaults[name])
    if "seed" not in given:
        args.seed = SEED_DEFAULT
    check_momentum(args, "momentum" in given)
    return {}


def check_momentum(args, given):
    """Momentum belongs to sgd and rmsprop: refused when given for another optimizer, else left as None."""
    if args.optimizer in MOMENTUM_OPTIMIZERS:
        return
    if given:
        raise UsageError(f"--momentum applies to {' and '.join(MOMENTUM_OPTIMIZERS)}, not {args.optimizer}")
    args.momentum = None


def settings(args):
    """The settings a checkpoint stores, so that a resumed run knows how it was made."""
    return {name: getattr(args, name) for name in (*STRUCTURAL, *HYPERPARAMETERS)}


def checkpoint_name(args, name="last.safetensors"):
    """The path of checkpoint ``name`` in --checkpoint-dir."""
    return os.path.join(args.checkpoint_dir, name)
