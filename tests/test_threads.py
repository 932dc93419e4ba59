"""Thread choice of the parallel kernels (caslite._kernels.threads_for).

Small workloads run on the calling thread; large ones on every numba thread. Either way the
results are those of the plain-numpy twins in tests/naive.py.
"""

from __future__ import annotations

import threading

import numba
import numpy as np
import pytest
from shapely.geometry import box

import caslite._kernels as kernels
import naive
from caslite.grid import Grid
from caslite.knox import knox_counts
from caslite.nearrepeat import BowersSpace, BowersTime, ExponentialSpace, ExponentialTime, score_at

DAY = 86_400


def test_small_work_runs_on_one_thread_and_restores_the_count():
    before = numba.get_num_threads()
    with kernels.threads_for(10):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with kernels.threads_for(kernels.SERIAL_WORK):
        assert numba.get_num_threads() == before


def test_thread_count_is_restored_after_an_error():
    before = numba.get_num_threads()
    with pytest.raises(RuntimeError, match="boom"), kernels.threads_for(10):
        raise RuntimeError("boom")
    assert numba.get_num_threads() == before


def test_choice_is_local_to_the_calling_thread():
    seen = []
    with kernels.threads_for(10):
        other = threading.Thread(target=lambda: seen.append(numba.get_num_threads()))
        other.start()
        other.join()
    assert seen == [numba.config.NUMBA_NUM_THREADS]


@pytest.fixture(params=["serial", "parallel"])
def thread_mode(request, monkeypatch):
    # serial: every workload counts as small; parallel: none does.
    monkeypatch.setattr(kernels, "SERIAL_WORK", np.inf if request.param == "serial" else 0)
    return request.param


@pytest.mark.parametrize(
    "space, time",
    [
        (BowersSpace(form="grid"), BowersTime()),
        (
            ExponentialSpace(scale=150.0, radius=500.0),
            ExponentialTime(scale_days=7.0, window_days=28.0),
        ),
    ],
)
def test_scores_equal_the_twin_on_one_thread_and_on_all(thread_mode, space, time):
    rng = np.random.default_rng(5)
    grid = Grid.from_area(box(0, 0, 2000, 1500), cell_size=125.0, crs="EPSG:28992")
    n = 300
    t = np.sort(rng.integers(0, 60 * DAY, n)).astype(np.int64)
    x = rng.uniform(0, 2000, n)
    y = rng.uniform(0, 1500, n)
    times = np.arange(30 * DAY, 62 * DAY, DAY // 2, dtype=np.int64)
    got = score_at(t, x, y, grid, times, space=space, time=time, method="direct")
    expected = naive.score(t, x, y, grid, times, space, time)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_knox_counts_equal_the_twin_on_one_thread_and_on_all(thread_mode):
    rng = np.random.default_rng(6)
    n = 400
    t = rng.integers(0, 120 * DAY, n).astype(np.int64)
    x = rng.uniform(0, 3000, n)
    y = rng.uniform(0, 3000, n)
    bands = dict(distance_bands=(0, 100, 200, 400), time_bands_days=(0, 7, 14, 28))
    got = knox_counts(t, x, y, same_location=True, **bands)
    expected = naive.knox_counts(t, x, y, bands["distance_bands"], bands["time_bands_days"], True)
    np.testing.assert_array_equal(got, expected)
