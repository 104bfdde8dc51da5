"""Shared test setup: one BLAS thread (results must not depend on the machine's thread count), Hypothesis
profiles (fresh examples on a developer's machine, a fixed set in CI), and a data folder cut off from the world."""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads OpenBLAS, here and in subprocesses

import numpy  # noqa: E402,F401  (loads OpenBLAS now, so that the limit below applies to it)
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(1, user_api="blas")  # also when the environment asked for more threads

settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def isolated_data(monkeypatch, tmp_path):
    """No $MINIDL_DATA, a private cache, no system folders, and the network unreachable; returns tmp_path."""
    from minidl.data import datasets

    monkeypatch.delenv("MINIDL_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name, source in datasets.SOURCES.items():
        monkeypatch.setitem(datasets.SOURCES, name, datasets.Source(
            ("http://127.0.0.1:9/unreachable/",), source.gz_md5, source.raw_md5, ()))

    def no_network(*args, **kwargs):
        raise OSError("tests never touch the network")
    monkeypatch.setattr(datasets.urllib.request, "urlopen", no_network)
    return tmp_path


@pytest.fixture
def unchecked_mnist(monkeypatch, isolated_data):
    """MNIST files accepted without their published checksums (tiny test files cannot have them); returns tmp_path."""
    from minidl.data import datasets

    source = datasets.SOURCES["mnist"]
    monkeypatch.setitem(datasets.SOURCES, "mnist", datasets.Source(source.mirrors, {}, {}, source.system_dirs))
    return isolated_data
