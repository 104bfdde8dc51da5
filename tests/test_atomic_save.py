"""Saving never loses the old file and leaves nothing behind: temporary files, kills, links, modes."""
import io
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

import minidl as mdl
from minidl import atomic_file

ROOT = pathlib.Path(__file__).resolve().parents[1]
TEMPORARY = re.compile(r"^\.net\.safetensors\.minidl-tmp-.+-\d+-[0-9a-f]{8}$")


def test_the_temporary_file_is_recognisable_and_removed_when_the_save_fails(tmp_path, monkeypatch):
    path = tmp_path / "net.safetensors"
    mdl.save({"w": mdl.ones(3)}, path)
    seen = []

    def failing_fsync(fd):
        seen.extend(os.listdir(tmp_path))
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        mdl.save({"w": mdl.zeros(3)}, path)
    monkeypatch.undo()
    assert any(TEMPORARY.match(name) for name in seen), seen
    assert os.listdir(tmp_path) == ["net.safetensors"]
    assert mdl.load(path)["w"].tolist() == [1.0, 1.0, 1.0]


KILLED_SAVE = """
import os, sys, time
import minidl as mdl
def stall(fd):
    print("writing", flush=True)
    time.sleep(60)
os.fsync = stall
mdl.save({"w": mdl.zeros(1000)}, sys.argv[1])
"""


def test_a_save_killed_midway_leaves_the_old_file_and_the_next_save_cleans_up(tmp_path):
    path = tmp_path / "net.safetensors"
    mdl.save({"w": mdl.ones(3)}, path)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(path)], stdout=subprocess.PIPE, env=env)
    try:
        assert child.stdout.readline() == b"writing\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    left = [name for name in os.listdir(tmp_path) if TEMPORARY.match(name)]
    assert len(left) == 1 and f"-{child.pid}-" in left[0]
    assert mdl.load(path)["w"].tolist() == [1.0, 1.0, 1.0]
    mdl.save({"w": mdl.full((2,), 2.0)}, tmp_path / "other.safetensors")
    assert sorted(os.listdir(tmp_path)) == ["net.safetensors", "other.safetensors"]


def fake_temporary(folder, host, pid, age):
    path = folder / f".net.safetensors.minidl-tmp-{host}-{pid}-{age:08x}"
    path.write_bytes(b"partial")
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_stale_temporaries_are_those_of_dead_processes_or_old(tmp_path):
    host = atomic_file._HOST
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    dead_pid = int(dead.stdout)
    alive = os.getppid()
    kept = [fake_temporary(tmp_path, host, alive, 10), fake_temporary(tmp_path, "elsewhere", dead_pid, 11)]
    removed = [fake_temporary(tmp_path, host, dead_pid, 12), fake_temporary(tmp_path, host, alive, 7200),
               fake_temporary(tmp_path, "elsewhere", alive, 7201)]
    (tmp_path / ".net.safetensors.tmp").write_bytes(b"not ours")  # not minidl's pattern: never touched
    assert sorted(atomic_file.remove_stale_temporaries(str(tmp_path))) == sorted(p.name for p in removed)
    assert all(p.exists() for p in kept) and (tmp_path / ".net.safetensors.tmp").exists()


def test_saving_through_a_symbolic_link_writes_its_target(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "net.safetensors"
    mdl.save({"w": mdl.ones(2)}, target)
    (tmp_path / "link1").symlink_to(target)
    (tmp_path / "link2").symlink_to(tmp_path / "link1")
    mdl.save({"w": mdl.zeros(2)}, tmp_path / "link2")
    assert (tmp_path / "link1").is_symlink() and (tmp_path / "link2").is_symlink()
    assert mdl.load(target)["w"].tolist() == [0.0, 0.0]
    assert sorted(os.listdir(tmp_path / "real")) == ["net.safetensors"]


def test_a_dangling_link_creates_its_target_and_a_loop_is_refused(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "new.safetensors")
    mdl.save({"w": mdl.ones(1)}, tmp_path / "dangling")
    assert (tmp_path / "dangling").is_symlink() and mdl.load(tmp_path / "new.safetensors")["w"].tolist() == [1.0]
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(OSError, match="loop"):
        mdl.save({"w": mdl.ones(1)}, tmp_path / "a")
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_get_the_usual_permissions(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        mdl.save({"w": mdl.ones(1)}, tmp_path / "net.safetensors")
    finally:
        os.umask(old)
    assert (tmp_path / "net.safetensors").stat().st_mode & 0o777 == mode


def test_an_existing_file_keeps_its_mode(tmp_path):
    path = tmp_path / "net.safetensors"
    mdl.save({"w": mdl.ones(1)}, path)
    path.chmod(0o640)
    mdl.save({"w": mdl.zeros(1)}, path)
    assert path.stat().st_mode & 0o777 == 0o640 and mdl.load(path)["w"].tolist() == [0.0]


def test_a_folder_as_target_is_refused_before_writing(tmp_path):
    (tmp_path / "net.safetensors").mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        mdl.save({"w": mdl.ones(1)}, tmp_path / "net.safetensors")
    assert os.listdir(tmp_path) == ["net.safetensors"]


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder no file can be created in: read-only mode, or for root (who ignores modes) the immutable flag."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("running as root where chattr cannot make a folder immutable")
    yield folder
    subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_read_only_folder_is_a_clear_error(read_only_folder):
    with pytest.raises(PermissionError, match="cannot create a file in"):
        mdl.save({"w": mdl.ones(1)}, read_only_folder / "net.safetensors")
    assert os.listdir(read_only_folder) == []


def test_a_named_pipe_receives_the_checkpoint(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)  # a pipe, like /dev/null, is not replaced
    try:
        mdl.save({"w": mdl.ones(3)}, fifo)
        received = reader.communicate(timeout=10)[0]
    finally:
        reader.kill()
    assert fifo.is_fifo() and mdl.load(io.BytesIO(received))["w"].tolist() == [1.0, 1.0, 1.0]
