"""scripts/train_mnist.py under misuse: bad flags, unwritable outputs, resume rules, divergence, signals.

Runs in-process on the bundled digits (a few tenths of a second per epoch); what needs a real
signal and an exit code runs the script in a subprocess.
"""
import importlib.util
import os
import pathlib
import re
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import minidl as mdl
from minidl import nn, zoo
from minidl.zoo import registry

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train_mnist.py"
spec = importlib.util.spec_from_file_location("train_mnist", SCRIPT)
train_mnist = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train_mnist)

DIGITS = ["--quiet", "--dataset", "digits"]


def run(*args):
    return train_mnist.main([*DIGITS, *map(str, args)])


def exit_of(capsys, *args):
    """(exit code, stderr) of a run expected to stop with SystemExit."""
    with pytest.raises(SystemExit) as stopped:
        train_mnist.main([*DIGITS, *map(str, args)])
    return stopped.value.code, capsys.readouterr().err


@pytest.fixture
def no_data(monkeypatch):
    """Loading data fails the test: what is checked here must be checked before."""
    def refuse(*args, **kwargs):
        raise AssertionError("the data was loaded before the flags were checked")
    monkeypatch.setattr(train_mnist.data, "load_dataset", refuse)


# -- flags are checked before anything is loaded --------------------------------------------

@pytest.mark.parametrize("flags, named", [
    (["--epochs", "0"], "--epochs"), (["--epochs", "-1"], "--epochs"), (["--batch-size", "0"], "--batch-size"),
    (["--seed", "-1"], "--seed"), (["--lr", "-1"], "--lr"), (["--lr", "nan"], "--lr"), (["--lr", "inf"], "--lr"),
    (["--lr", "0"], "--lr"), (["--momentum", "5"], "--momentum"), (["--momentum", "1"], "--momentum"),
    (["--momentum", "-0.1"], "--momentum"), (["--weight-decay", "nan"], "--weight-decay"),
    (["--weight-decay", "-1"], "--weight-decay"), (["--epochs", "two"], "--epochs"),
    (["--data-dir", "/nonexistent/minidl"], "--data-dir"), (["--resume"], "--checkpoint-dir"),
    (["--optimizer", "adam", "--momentum", "0.5"], "--momentum"), (["--model", "nope"], "--model")])
def test_a_bad_flag_is_one_line_and_exit_2(capsys, no_data, flags, named):
    code, err = exit_of(capsys, *flags)
    assert code == 2 and err.startswith("error: ") and named in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("flag", ["--checkpoint-dir", "--metrics-json", "--save-weights", "--plot"])
def test_an_unwritable_output_fails_before_training(capsys, no_data, tmp_path, flag):
    pytest.importorskip("matplotlib")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, err = exit_of(capsys, flag, blocker / "inside" / "out")
    assert code == 2 and err.startswith(f"error: {flag}") and str(blocker) in err and "Traceback" not in err


def test_an_output_folder_is_created_and_left_clean(capsys, no_data, tmp_path, monkeypatch):
    monkeypatch.setattr(train_mnist, "Run", None)  # stop right after the checks
    with pytest.raises(TypeError):
        run("--checkpoint-dir", tmp_path / "new" / "runs", "--metrics-json", tmp_path / "m" / "m.json")
    assert os.listdir(tmp_path / "new" / "runs") == [] and os.listdir(tmp_path / "m") == []


def test_plot_without_matplotlib_fails_before_training(capsys, no_data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    code, err = exit_of(capsys, "--plot", tmp_path / "curves.png")
    assert code == 2 and "--plot needs matplotlib" in err and "pip install" in err


def test_help_shows_the_real_defaults(capsys):
    with pytest.raises(SystemExit) as stopped:
        train_mnist.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert stopped.value.code == 0 and "None" not in out
    for model in zoo.list_models():
        d = zoo.training_defaults(model, "fashion-mnist")
        assert re.search(rf"{re.escape(model)} mnist, fashion-mnist {d['optimizer']} lr {d['lr']:g}, momentum "
                         rf"{d['momentum']:g}, .*?{d['epochs']} epochs, batch {d['batch_size']}", out), model
    assert "default: mlp" in out and "default: mnist" in out and "default: float32" in out


def test_settings_not_given_are_the_models_zoo_defaults():
    args = train_mnist.train_args.parse_args(["--model", "lenet5", "--dataset", "digits", "--epochs", "2"])
    train_mnist.train_args.resolve(args)
    expected = {**zoo.training_defaults("lenet5", "digits"), "epochs": 2}
    assert {k: getattr(args, k) for k in expected} == expected


def test_another_optimizer_takes_its_own_lr():
    args = train_mnist.train_args.parse_args(["--model", "mlp", "--optimizer", "adam"])
    train_mnist.train_args.resolve(args)
    assert args.lr == train_mnist.train_args.OPTIMIZER_DEFAULTS["adam"]["lr"] and args.momentum is None


def test_grad_checkpoint_refuses_a_model_that_is_not_a_plain_sequential(capsys, no_data, monkeypatch):
    class Residual(nn.Sequential):
        def forward(self, x):
            return x + super().forward(x)
    monkeypatch.setitem(registry._models, "residual", lambda **kw: Residual(nn.Flatten()))
    monkeypatch.setitem(registry._training_defaults, "residual", {"*": {}})
    code, err = exit_of(capsys, "--model", "residual", "--grad-checkpoint")
    assert code == 2 and "--grad-checkpoint" in err and "Residual" in err


# -- resume rules -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def adam_run(tmp_path_factory):
    """A finished 1-epoch lenet5 run with Adam and a step schedule on digits."""
    folder = tmp_path_factory.mktemp("adam")
    train_mnist.main([*DIGITS, "--model", "lenet5", "--optimizer", "adam", "--lr", "0.002", "--lr-schedule",
                      "step", "--epochs", "1", "--checkpoint-dir", str(folder)])
    return folder


@pytest.mark.parametrize("flag, value", [("--model", "mlp"), ("--dataset", "fashion-mnist"),
                                         ("--optimizer", "sgd"), ("--lr-schedule", "cosine"),
                                         ("--dtype", "float64")])
def test_resume_with_other_settings_is_refused_naming_them(capsys, adam_run, flag, value):
    before = (adam_run / "last.safetensors").read_bytes()
    with pytest.raises(SystemExit) as stopped:
        train_mnist.main(["--quiet", "--checkpoint-dir", str(adam_run), "--resume", "--epochs", "2", flag, value])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and flag in err and value in err and "Traceback" not in err
    assert (adam_run / "last.safetensors").read_bytes() == before


def test_resume_without_flags_continues_with_the_saved_settings(adam_run, tmp_path, capsys):
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "last.safetensors").write_bytes((adam_run / "last.safetensors").read_bytes())
    history = train_mnist.main(["--quiet", "--checkpoint-dir", str(folder), "--resume", "--epochs", "2"])
    assert [h["epoch"] for h in history] == [1, 2]
    state = mdl.load(folder / "last.safetensors")
    assert {k: state["settings"][k] for k in ("model", "dataset", "optimizer", "lr", "lr_schedule")} == {
        "model": "lenet5", "dataset": "digits", "optimizer": "adam", "lr": 0.002, "lr_schedule": "step"}
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.002 * 0.7 ** 2)  # the schedule went on


def test_hyperparameters_given_at_resume_override_and_the_banner_says_so(tmp_path, capsys):
    run("--model", "mlp", "--epochs", "1", "--lr", "0.05", "--checkpoint-dir", tmp_path)
    capsys.readouterr()
    run("--epochs", "2", "--lr", "0.2", "--momentum", "0.5", "--weight-decay", "0.001", "--checkpoint-dir", tmp_path,
        "--resume")
    out = capsys.readouterr().out
    for flag, new, old in (("--lr", "0.2", "0.05"), ("--momentum", "0.5", "0.9"), ("--weight-decay", "0.001", "0.0"),
                           ("--epochs", "2", "1")):
        assert f"{flag} {new} from the command line overrides the checkpoint's {old}" in out
    group = mdl.load(tmp_path / "last.safetensors")["optimizer"]["param_groups"][0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.2, 0.5, 0.001)  # what step() used


def test_resume_past_the_requested_epochs_is_refused(tmp_path, capsys):
    run("--epochs", "2", "--checkpoint-dir", tmp_path)
    code, err = exit_of(capsys, "--epochs", "1", "--checkpoint-dir", tmp_path, "--resume")
    assert code == 2 and "already trained 2 epochs" in err


def test_a_checkpoint_without_settings_is_refused(tmp_path, capsys):
    mdl.save({"model": {}, "optimizer": {}, "epoch": 1}, tmp_path / "last.safetensors")
    code, err = exit_of(capsys, "--checkpoint-dir", tmp_path, "--resume")
    assert code == 2 and "no run settings" in err


def test_a_corrupt_checkpoint_is_refused_pointing_at_best(tmp_path, capsys):
    run("--epochs", "1", "--checkpoint-dir", tmp_path)
    (tmp_path / "last.safetensors").write_bytes(b"garbage")
    code, err = exit_of(capsys, "--epochs", "2", "--checkpoint-dir", tmp_path, "--resume")
    assert code == 2 and "cannot resume" in err and "best.safetensors" in err and "Traceback" not in err


# -- never a non-finite checkpoint, never a false success -------------------------------------

def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_finite_checkpoint(tmp_path, capsys):
    run("--model", "mlp-deep", "--epochs", "1", "--checkpoint-dir", tmp_path)
    before = (tmp_path / "last.safetensors").read_bytes()
    with np.errstate(all="ignore"):
        code, err = exit_of(capsys, "--epochs", "3", "--lr", "1e20", "--checkpoint-dir", tmp_path, "--resume",
                            "--save-weights", tmp_path / "w.safetensors", "--metrics-json", tmp_path / "m.json")
    assert code == 1 and "loss became nan" in err and "Traceback" not in err
    assert f"the last checkpoint is {tmp_path / 'last.safetensors'} (after epoch 1)" in err
    assert (tmp_path / "last.safetensors").read_bytes() == before
    assert not (tmp_path / "w.safetensors").exists() and "done" not in capsys.readouterr().out


def test_non_finite_parameters_in_a_checkpoint_are_refused(tmp_path, capsys):
    run("--epochs", "1", "--checkpoint-dir", tmp_path)
    state = mdl.load(tmp_path / "last.safetensors")
    state["model"]["2.weight"].data[0, 0] = float("inf")
    mdl.save(state, tmp_path / "last.safetensors")
    code, err = exit_of(capsys, "--epochs", "2", "--checkpoint-dir", tmp_path, "--resume")
    assert code == 2 and "'2.weight'" in err and "NaN or infinite" in err


def test_last_and_best_checkpoints(tmp_path):
    history = run("--model", "mlp", "--epochs", "6", "--lr", "0.5", "--checkpoint-dir", tmp_path)
    last, best = (mdl.load(tmp_path / f"{name}.safetensors") for name in ("last", "best"))
    accuracies = [h["test_accuracy"] for h in history]
    assert last["epoch"] == 6 and best["epoch"] == 1 + int(np.argmax(accuracies))
    assert best["history"][-1]["test_accuracy"] == max(accuracies)


def test_save_weights_writes_the_final_model_and_its_accuracy(tmp_path, capsys):
    history = run("--model", "lenet5", "--epochs", "3", "--save-weights", tmp_path / "w" / "lenet5.safetensors")
    out = capsys.readouterr().out
    accuracy = history[-1]["test_accuracy"]
    assert f"saved the final weights to {tmp_path / 'w' / 'lenet5.safetensors'} (test accuracy {accuracy:.4f})" in out
    from minidl import data
    test = data.load_dataset("digits", "test")
    model = zoo.create("lenet5", input_shape=test.input_shape, num_classes=len(test.classes))
    model.load_state_dict(mdl.load(tmp_path / "w" / "lenet5.safetensors"))
    model.eval()
    with mdl.no_grad():
        predicted = model(mdl.tensor(test.inputs, dtype="float32")).argmax(dim=1).numpy()
    assert np.mean(predicted == test.targets) == accuracy


@pytest.mark.parametrize("model", zoo.list_models())
def test_every_zoo_model_takes_every_flag(model, tmp_path):
    pytest.importorskip("matplotlib")
    outputs = ["--checkpoint-dir", tmp_path, "--metrics-json", tmp_path / "m.json", "--plot", tmp_path / "c.png",
               "--save-weights", tmp_path / "w.safetensors", "--grad-checkpoint", "--lr-schedule", "cosine",
               "--batch-size", "64", "--model", model]
    run(*outputs, "--epochs", "1")
    history = run(*outputs, "--epochs", "2", "--resume")
    assert [h["epoch"] for h in history] == [1, 2]
    assert (tmp_path / "c.png").stat().st_size and (tmp_path / "w.safetensors").stat().st_size


# -- signals: a subprocess and a real signal ----------------------------------------------------

def start(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(SCRIPT), *DIGITS, *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(proc, text, timeout=60):
    """Read the process's stdout until a line contains ``text``; return what was read."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        seen.append(line)
        if text in line:
            return "".join(seen)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    pytest.fail(f"{text!r} never appeared:\n{''.join(seen)}\n{proc.stderr.read()}")


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_cleanly_and_prints_the_resume_command(tmp_path, signum, code):
    proc = start("--model", "mlp", "--epochs", "500", "--checkpoint-dir", tmp_path)
    wait_for(proc, "epoch  2/500")
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err and f"stopped by {signal.Signals(signum).name} during epoch" in err
    done = mdl.load(tmp_path / "last.safetensors")["epoch"]
    assert done >= 2 and f"the last checkpoint is {tmp_path / 'last.safetensors'} (after epoch {done})" in err
    command = shlex.split(err.strip().splitlines()[-1])
    assert command[0] == "python" and command[-1] == "--resume"
    resumed = subprocess.Popen([sys.executable, *command[1:]], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wait_for(resumed, f"resumed from {tmp_path / 'last.safetensors'} after epoch {done}")
    wait_for(resumed, f"epoch {done + 1:>2}/500")
    resumed.send_signal(signal.SIGTERM)
    resumed.communicate(timeout=60)
    assert resumed.returncode == 143


def wait_until_script_handles_signals(proc, timeout=60):
    """Wait until the script has installed its own handlers, its first statements (they catch SIGTERM, which
    Python leaves alone: /proc's SigCgt mask shows it). Before that, a SIGINT lands in the interpreter's own
    start-up, whose KeyboardInterrupt no script can catch; a fixed sleep sometimes fell there under load."""
    status, deadline = pathlib.Path(f"/proc/{proc.pid}/status"), time.monotonic() + timeout
    if not status.exists():
        time.sleep(0.5)
        return
    while time.monotonic() < deadline:
        caught = next(int(line.split()[1], 16) for line in status.read_text().splitlines() if line.startswith("SigCgt"))
        if caught >> (signal.SIGTERM - 1) & 1:
            return
        time.sleep(0.005)
    raise AssertionError("the script never installed its signal handlers")


def test_a_signal_before_training_exits_without_traceback(tmp_path):
    proc = start("--model", "mlp", "--epochs", "1")
    wait_until_script_handles_signals(proc)  # then still importing or loading
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 130) and "Traceback" not in err
    if proc.returncode == 130:
        assert "done" not in out


@pytest.fixture
def signal_in_first_evaluation(monkeypatch):
    """SIGINT arrives while the first epoch is being evaluated (a real signal, to this process)."""
    evaluate = train_mnist.evaluate

    def evaluate_then_signal(*args):
        if not evaluate_then_signal.sent:
            evaluate_then_signal.sent = True
            os.kill(os.getpid(), signal.SIGINT)
        return evaluate(*args)
    evaluate_then_signal.sent = False
    monkeypatch.setattr(train_mnist, "evaluate", evaluate_then_signal)


def test_a_signal_during_evaluation_keeps_the_finished_epoch(signal_in_first_evaluation, tmp_path, capsys):
    code, err = exit_of(capsys, "--epochs", "3", "--checkpoint-dir", tmp_path)
    assert code == 130 and mdl.load(tmp_path / "last.safetensors")["epoch"] == 1
    assert "(after epoch 1)" in err and err.rstrip().endswith("--resume")


def test_a_signal_without_checkpoint_dir_says_nothing_was_kept(signal_in_first_evaluation, capsys):
    code, err = exit_of(capsys, "--epochs", "3")
    assert code == 130 and "no checkpoint was written" in err and "--resume" not in err


def test_a_new_run_never_overwrites_an_existing_checkpoint(tmp_path, capsys):
    run("--epochs", "1", "--checkpoint-dir", tmp_path)
    before = (tmp_path / "last.safetensors").read_bytes()
    code, err = exit_of(capsys, "--epochs", "1", "--checkpoint-dir", tmp_path)
    assert code == 2 and "--resume" in err and (tmp_path / "last.safetensors").read_bytes() == before


def test_flags_are_never_abbreviated(capsys, no_data):
    code, err = exit_of(capsys, "--distrib")  # --distributed is looked for before parsing
    assert code == 2 and "--distrib" in err


def test_several_processes_without_distributed_are_refused(capsys, no_data, monkeypatch):
    monkeypatch.setenv("PMI_SIZE", "2")  # as mpiexec -n 2 sets it
    code, err = exit_of(capsys, "--epochs", "1")
    assert code == 2 and "add --distributed" in err


def test_resumed_rmsprop_cannot_turn_momentum_on(tmp_path, capsys):
    run("--optimizer", "rmsprop", "--epochs", "1", "--checkpoint-dir", tmp_path)
    code, err = exit_of(capsys, "--epochs", "2", "--momentum", "0.5", "--checkpoint-dir", tmp_path, "--resume")
    assert code == 2 and "momentum buffer" in err and "Traceback" not in err


def test_a_failed_save_stops_the_run_with_exit_1(tmp_path, capsys, monkeypatch):
    def disk_full(obj, path):
        raise OSError(28, "No space left on device", str(path))
    monkeypatch.setattr(train_mnist.mdl, "save", disk_full)
    code, err = exit_of(capsys, "--epochs", "2", "--checkpoint-dir", tmp_path)
    assert code == 1 and "could not write the checkpoint" in err and "No space left on device" in err
    assert "Traceback" not in err and "done" not in capsys.readouterr().out
