"""scripts/train_mnist.py --distributed on real ranks (``mpiexec -n 2``, tests/distributed/launch.py) on digits.

Rank 0 alone prints and writes; the test accuracy over the shards equals a one-process
evaluation of the same weights; --resume continues exactly on N ranks; a failing rank or a
signal ends every rank (exit code and message), never a hang.
"""
import importlib.util
import json
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import minidl as mdl
from minidl import data, zoo

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train_mnist.py"
HELPERS = ROOT / "tests" / "distributed"


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_mnist = load("train_mnist", SCRIPT)
launch = load("distributed_launch", HELPERS / "launch.py")
RANKS = 2
DIGITS = ["--quiet", "--dataset", "digits", "--model", "lenet5"]
pytestmark = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None,
                                reason='mpi4py is not installed (pip install "minidl[mpi]")')


def train(*args, script=SCRIPT):
    """Run the script (or a helper that wraps it) on RANKS ranks with --distributed; the CompletedProcess."""
    return launch.mpiexec(RANKS, script, *args, "--distributed", timeout=120)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two epochs straight, and one epoch then --resume for the second, with dropout and gradient checkpointing,
    on 2 ranks."""
    folder = tmp_path_factory.mktemp("ddp")
    common = [*DIGITS, "--model", "mlp-deep", "--grad-checkpoint", "--lr-schedule", "step", "--lr", "0.1"]
    straight = train(*common, "--epochs", "2", "--checkpoint-dir", folder / "straight",
                     "--save-weights", folder / "w.safetensors", "--metrics-json", folder / "m.json")
    first = train(*common, "--epochs", "1", "--checkpoint-dir", folder / "resumed")
    resumed = train(*common, "--epochs", "2", "--checkpoint-dir", folder / "resumed", "--resume")
    plain = train(*[flag for flag in common if flag != "--grad-checkpoint"], "--epochs", "2",
                  "--metrics-json", folder / "plain.json")
    for result in (straight, first, resumed, plain):
        assert result.returncode == 0, result.stderr[-3000:]
    return folder, straight, resumed


def test_rank_0_alone_prints(runs):
    _, straight, _ = runs
    assert straight.stdout.count("minidl ") == 1 and "| 2 ranks |" in straight.stdout
    assert [line[:10] for line in straight.stdout.splitlines() if line.startswith("epoch")] == \
        ["epoch  1/2", "epoch  2/2"]
    assert straight.stdout.count("saved the final weights") == 1 and straight.stdout.count("done:") == 1


def test_the_test_accuracy_over_the_ranks_equals_a_one_process_evaluation(runs):
    folder, _, _ = runs
    history = json.loads((folder / "m.json").read_text())["history"]
    test = data.load_dataset("digits", "test")
    model = zoo.create("mlp-deep", input_shape=test.input_shape, num_classes=len(test.classes))
    model.load_state_dict(mdl.load(folder / "w.safetensors"))
    loss, accuracy = train_mnist.evaluate(model, data.DataLoader(test, 1000, dtype="float32"),
                                          mdl.nn.CrossEntropyLoss(), train_mnist.Ranks(False))
    assert accuracy == history[-1]["test_accuracy"] and accuracy > 0.5
    assert loss == pytest.approx(history[-1]["test_loss"], rel=1e-5)


def test_gradient_checkpointing_under_ddp_trains_as_without(runs):
    folder, _, _ = runs
    checkpointed, plain = (json.loads((folder / name).read_text())["history"] for name in ("m.json", "plain.json"))
    for a, b in zip(checkpointed, plain):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["test_accuracy"] == pytest.approx(b["test_accuracy"], abs=2.5 / 359)


def test_resume_on_two_ranks_continues_exactly(runs):
    folder, _, resumed = runs
    assert "resumed from" in resumed.stdout and "after epoch 1" in resumed.stdout
    straight, again = (mdl.load(folder / name / "last.safetensors") for name in ("straight", "resumed"))
    assert again["epoch"] == straight["epoch"] == 2 and again["settings"]["epochs"] == 2
    for name, value in straight["model"].items():
        np.testing.assert_array_equal(again["model"][name].numpy(), value.numpy(), err_msg=name)


def test_a_one_process_checkpoint_resumes_on_two_ranks(tmp_path):
    train_mnist.main([*DIGITS, "--epochs", "1", "--checkpoint-dir", str(tmp_path)])
    result = train(*DIGITS, "--epochs", "2", "--checkpoint-dir", tmp_path, "--resume")
    assert result.returncode == 0, result.stderr[-3000:]
    state = mdl.load(tmp_path / "last.safetensors")
    assert state["epoch"] == 2 and state["world_size"] == RANKS


def test_a_bad_flag_is_reported_once(tmp_path):
    result = train(*DIGITS, "--epochs", "0")
    assert result.returncode == 2 and result.stderr.count("error:") == 1 and "--epochs" in result.stderr


def test_an_unwritable_checkpoint_dir_of_rank_0_ends_every_rank(tmp_path):
    (tmp_path / "file").write_text("")
    result = train(*DIGITS, "--checkpoint-dir", tmp_path / "file" / "runs")
    assert result.returncode == 2 and "--checkpoint-dir" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("how, code, message", [
    ("data", 2, "digits is not available on rank 1"),
    ("write", 1, "No space left on device"),
    ("crash", None, "rank 1 fails on purpose in its third step")])
def test_a_failing_rank_ends_the_job_with_a_message(tmp_path, how, code, message):
    result = train(how, *DIGITS, "--epochs", "2", "--checkpoint-dir", tmp_path,
                   script=HELPERS / "train_script_failures.py")
    assert result.returncode != 0 and message in result.stderr, result.stderr[-3000:]
    if code is not None:  # a failure the ranks agree on; an unforeseen error aborts the job (MPI_Abort)
        assert result.returncode == code
    assert "done:" not in result.stdout


def test_ranks_that_see_different_checkpoints_refuse_to_resume(tmp_path):
    train_mnist.main([*DIGITS, "--epochs", "1", "--checkpoint-dir", str(tmp_path)])
    result = train("unshared", *DIGITS, "--epochs", "2", "--checkpoint-dir", tmp_path, "--resume",
                   script=HELPERS / "train_script_failures.py")
    assert result.returncode == 2 and "different checkpoints" in result.stderr and "[1, None]" in result.stderr


def test_sigint_stops_every_rank_with_the_resume_command(tmp_path):
    env = {**launch.os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen([str(launch.MPIEXEC), "-n", str(RANKS), sys.executable, str(SCRIPT), *DIGITS,
                             "--epochs", "500", "--checkpoint-dir", str(tmp_path), "--distributed"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "last.safetensors").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)  # mpiexec passes it on to every rank
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        launch.os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("the ranks did not stop after SIGINT (a hang)")
    assert proc.returncode == 130 and "Traceback" not in err, err
    done = mdl.load(tmp_path / "last.safetensors")["epoch"]
    assert f"(after epoch {done})" in err and err.count("stopped by SIGINT") == 1
    assert f"mpiexec -n {RANKS} python scripts/train_mnist.py" in err and err.rstrip().endswith("--resume")


def test_without_mpi4py_distributed_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.delitem(sys.modules, "minidl.distributed.mpi", raising=False)
    with pytest.raises(SystemExit) as stopped:
        train_mnist.main(["--distributed", "--dataset", "digits"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and 'pip install "minidl[mpi]"' in err and "Traceback" not in err
