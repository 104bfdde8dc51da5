"""Replace a file atomically: the old content stays until the new one is complete and on disk.

The new content is written to a temporary file in the target's folder, named
``.NAME.minidl-tmp-HOST-PID-RANDOM`` so that anyone listing the folder sees what it
is, flushed to disk, then renamed over the target. A temporary file left by a save
that was killed (SIGKILL, power loss) is removed by the next save into that folder
once its process is gone (same host) or it is older than ``STALE_AFTER_SECONDS``.
"""
import contextlib
import os
import re
import secrets
import socket
import stat
import time
import warnings
from typing import BinaryIO, Iterator, Union

STALE_AFTER_SECONDS = 3600.0
_HOST = re.sub(r"[^A-Za-z0-9._]", "_", socket.gethostname()) or "host"
_TEMPORARY = re.compile(r"^\..+\.minidl-tmp-(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{8}$")


def resolve_target(path: Union[str, os.PathLike]) -> str:
    """The file a write to ``path`` must change: a symbolic link's final target, refused if a loop or a folder."""
    target = os.path.realpath(path)
    if os.path.islink(target):
        raise OSError(f"cannot write {os.fspath(path)}: its symbolic links form a loop")
    if os.path.isdir(target):
        raise IsADirectoryError(f"cannot write {os.fspath(path)}: it is a folder")
    return target


@contextlib.contextmanager
def atomic_write(path: Union[str, os.PathLike]) -> Iterator[BinaryIO]:
    """Open a binary file whose content replaces ``path`` when the ``with`` block ends without error.

    Writes through a symbolic link to its target (the link stays a link), and into a device or pipe
    (``/dev/null``) directly, since it cannot be replaced. A new file gets the
    usual permissions (0666 minus the umask); an existing file keeps its mode. If the block
    raises, or the write fails, ``path`` is untouched and the temporary file is removed.
    """
    target = resolve_target(path)
    if os.path.exists(target) and not os.path.isfile(target):
        with open(target, "wb") as f:  # a device or a pipe (/dev/null): written in place, as open() does;
            yield f                    # a rename would replace the device node with a file
        return
    folder, name = os.path.split(target)
    remove_stale_temporaries(folder)
    tmp = os.path.join(folder, f".{name}.minidl-tmp-{_HOST}-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as err:
        raise type(err)(err.errno, f"cannot write {os.fspath(path)}: cannot create a file in {folder}: "
                                   f"{err.strerror}") from err
    try:
        with os.fdopen(fd, "wb") as f:
            with contextlib.suppress(FileNotFoundError):
                os.chmod(f.fileno(), stat.S_IMODE(os.stat(target).st_mode))
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _sync_folder(folder)


def _sync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX needs the folder flushed too); not possible everywhere."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_stale_temporaries(folder: str) -> list[str]:
    """Remove the temporary files of dead saves in ``folder``; return their names."""
    removed = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            match = _TEMPORARY.match(entry.name)
            if match is None or not entry.is_file(follow_symlinks=False) or not _is_stale(entry, match):
                continue
            try:
                os.remove(entry.path)
                removed.append(entry.name)
            except FileNotFoundError:
                pass  # another save removed it first
            except OSError as err:
                warnings.warn(f"could not remove the stale temporary file {entry.path}: {err}", stacklevel=3)
    return removed


def _is_stale(entry: os.DirEntry, match: re.Match) -> bool:
    try:
        age = time.time() - entry.stat(follow_symlinks=False).st_mtime
    except FileNotFoundError:
        return False
    if age > STALE_AFTER_SECONDS:
        return True
    return match["host"] == _HOST and not _process_alive(int(match["pid"]))


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OverflowError:
        return False  # no process has a number this large
    except PermissionError:
        return True  # another user's process
    return True
