"""Thread settings for test runs with parallel workers (pytest-xdist, ``-n auto`` in CI).

This file sits at the top of the checkout so that it covers every test path: the test files,
the doctests of ``src/caslite`` and the notebooks, which nbmake runs in a separate Jupyter
kernel process per notebook.

Each worker process sets, before any test imports scikit-learn, numpy's BLAS or numba:

- ``OMP_NUM_THREADS=1``: one OpenMP thread for scikit-learn's tree growing and one BLAS
  thread. The notebook kernels inherit the worker's environment, so this reaches them too
  (limits applied with ``threadpoolctl`` inside a worker process do not). With two workers
  on two cores, a fit on two OpenMP threads busy-waits for a core at every one of its many
  short parallel regions: on a loaded two-core machine the quick-start notebook's forecast
  had used 213 s of CPU, unfinished, against 22 s on one thread.
- ``OMP_WAIT_POLICY=passive``: threads of numba's parallel kernels sleep instead of spinning
  while they wait. numba keeps its own thread count (``NUMBA_NUM_THREADS``, not
  ``OMP_NUM_THREADS``), so the tests that vary it with ``numba.set_num_threads`` still can.

A value already set in the environment is kept. Without workers (``-n 0``) nothing is set.

The longest items run first, whole files at a time (so that a file's module-scoped fixtures
are still built once per worker): the notebooks, then the files with a test marked ``slow``,
then the rest in their usual order. With ``--dist worksteal`` a worker that is done takes
queued tests from the other one, so long items started early do not leave one worker busy
alone at the end of the run.
"""

from __future__ import annotations

import os

WORKER_THREAD_SETTINGS = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "passive"}


def pytest_configure(config):
    """Set the thread settings in a pytest-xdist worker (see the module docstring)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    for name, value in WORKER_THREAD_SETTINGS.items():
        os.environ.setdefault(name, value)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)  # pools of libraries loaded before this hook, if any


def pytest_collection_modifyitems(config, items):
    """Order the items longest first by file: notebooks, files with slow tests, the rest."""
    files_with_slow = {item.path for item in items if item.get_closest_marker("slow")}

    def rank(item):
        if item.path.suffix == ".ipynb":
            return 0
        return 1 if item.path in files_with_slow else 2

    items.sort(key=rank)  # stable: the usual order within each rank
