"""Fixtures shared by the test files (the repository's conftest.py runs the chapters for nbval)."""

import pytest
from warm_kernel import WarmKernel

from avc.paths import REPO_ROOT


@pytest.fixture(scope="session")
def warm_kernel():
    """One warm kernel per test worker: chapters run in its forked children (tests/warm_kernel.py)."""
    kernel = WarmKernel(REPO_ROOT)
    yield kernel
    kernel.close()
