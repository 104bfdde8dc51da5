"""How tests/test_distributed.py starts the helper scripts of this folder under mpiexec and reads what each rank saved.

``mpiexec`` is the one next to the running Python (where the mpich wheel installs it), so the
test run and the ranks use one environment.
"""
import json
import os
import pathlib
import signal
import subprocess
import sys

import numpy as np
import pytest

HELPERS = pathlib.Path(__file__).resolve().parent
ROOT = HELPERS.parents[1]
MPIEXEC = pathlib.Path(sys.executable).parent / "mpiexec"


def mpiexec(ranks, script, *args, timeout=60):
    """Run a helper script on ``ranks`` processes; a job that outlives ``timeout`` is killed and fails the test."""
    assert MPIEXEC.exists(), (f"mpi4py is installed but there is no mpiexec next to {sys.executable}; "
                              'install an MPI implementation there: pip install "minidl[mpi]"')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [str(MPIEXEC), "-n", str(ranks), sys.executable, str(HELPERS / script), *map(str, args)]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(command[3:])} on {ranks} ranks still ran after {timeout} s (a hang)\n{err[-3000:]}")
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def per_rank(ranks, script, *args, out_dir, load="json"):
    """Run ``script``, which writes ``out_dir/rank{r}.json`` (or ``.npz``); return what each rank wrote."""
    result = mpiexec(ranks, script, *args, out_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    if load == "json":
        return [json.loads((out_dir / f"rank{r}.json").read_text()) for r in range(ranks)]
    return [dict(np.load(out_dir / f"rank{r}.npz")) for r in range(ranks)]
