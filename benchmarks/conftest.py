import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


@pytest.fixture
def timing(benchmark):
    """``benchmark``, and whether it really times (False under --benchmark-disable: run once, check results)."""
    return benchmark, not benchmark.disabled
