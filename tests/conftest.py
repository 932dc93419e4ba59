"""Settings shared by every test file.

The suite runs on every core through pytest-xdist (``-n auto``): one worker process per
core. Each worker then limits the OpenMP and BLAS thread pools of the libraries it calls
(scikit-learn's tree growing, numpy's BLAS) to one thread, so that the workers do not
oversubscribe the cores: on a busy 2-core machine, idle OpenMP threads spin-waiting for a
core made scikit-learn's small fits several times slower. numba's parallel kernels keep
their own thread count (``numba.set_num_threads``, which some tests vary on purpose); run
without workers (``-n 0``), nothing is limited.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def one_library_thread_per_worker():
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield
