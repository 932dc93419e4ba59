"""Tests of caslite.nearrepeat: numba kernels against the dense numpy twins in tests/naive.py.

Hand-computed cases pin the Bowers, Johnson & Pease (2004) weights; leakage tests change
events at and after the origin and assert that nothing changes.
"""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np
import pytest
from shapely.geometry import Polygon, box

import caslite.nearrepeat as nr
import naive
from caslite._kernels import nearrepeat as kernels
from caslite.events import Events
from caslite.grid import Grid
from caslite.nearrepeat import (
    BowersSpace,
    BowersTime,
    ExponentialSpace,
    ExponentialTime,
    GaussianSpace,
    score_at,
    score_forecast,
    score_history,
)
from caslite.shifts import ShiftSchedule

CRS = "EPSG:28992"
TZ = "Europe/Amsterdam"
DAY = 86_400
WEEK = 7 * DAY
S = 125.0
T0 = 1_704_067_200  # 2024-01-01 00:00 UTC
RTOL, ATOL = 1e-9, 1e-12

SPACES = {
    "exp-150-400": lambda form: ExponentialSpace(scale=150.0, radius=400.0, form=form),
    "exp-60-200": lambda form: ExponentialSpace(scale=60.0, radius=200.0, form=form),
    "gauss-100-300": lambda form: GaussianSpace(sigma=100.0, radius=300.0, form=form),
    "gauss-250-600": lambda form: GaussianSpace(sigma=250.0, radius=600.0, form=form),
    "bowers": lambda form: BowersSpace(form=form),
    "bowers-unit-100-250": lambda form: BowersSpace(unit=100.0, radius=250.0, form=form),
}
TIMES = {
    "exp-7-28": ExponentialTime(scale_days=7.0, window_days=28.0),
    "exp-2-inf": ExponentialTime(scale_days=2.0, window_days=np.inf),
    "bowers": BowersTime(),
    "bowers-3-10": BowersTime(window_days=10.0, step_days=3.0),
}


def make_grid(n_cols=14, n_rows=11, x0=1000.0, y0=2000.0, area=None) -> Grid:
    if area is None:
        area = box(x0, y0, x0 + n_cols * S, y0 + n_rows * S)
    return Grid.from_area(area, cell_size=S, crs=CRS)


def random_events(grid, n, rng, span_days=120, margin=500.0):
    """Events uniform over the grid's raster plus a margin, at whole seconds."""
    n_rows, n_cols = grid.shape
    x = rng.uniform(grid.x0 - margin, grid.x0 + n_cols * S + margin, n)
    y = rng.uniform(grid.y0 - margin, grid.y0 + n_rows * S + margin, n)
    t = np.sort(rng.integers(T0, T0 + span_days * DAY, n))
    return t, x, y


def as_events(t, x, y) -> Events:
    return Events(t, x, y, crs=CRS, tz=TZ)


@pytest.fixture(scope="module")
def grid():
    return make_grid()


@pytest.fixture(scope="module")
def masked_grid():
    # An L-shaped area: a 10 x 8 raster with the upper-right block of cells inactive.
    x0, y0 = 0.0, 0.0
    area = Polygon(
        [(x0, y0), (x0 + 10 * S, y0), (x0 + 10 * S, y0 + 4 * S), (x0 + 5 * S, y0 + 4 * S),
         (x0 + 5 * S, y0 + 8 * S), (x0, y0 + 8 * S)]
    )  # fmt: skip
    g = make_grid(area=area)
    assert g.n_cells < g.shape[0] * g.shape[1]
    return g


# ---------------------------------------------------------------------- the twin itself
def test_naive_twin_hand_case(grid):
    # One event at a cell centre, scored 9 days later: Bowers weights 1 and 1/2.
    c = 20
    t, x, y = np.array([T0]), grid.x[[c]], grid.y[[c]]
    out = naive.score(t, x, y, grid, [T0 + 9 * DAY], BowersSpace(), BowersTime())
    assert out[0, c] == pytest.approx(0.5)


# ---------------------------------------------------------------------- kernels vs twin
@pytest.mark.parametrize("form", ["continuous", "grid"])
@pytest.mark.parametrize("space_name", list(SPACES))
def test_footprints_match_dense_weights(grid, space_name, form):
    rng = np.random.default_rng(1)
    t, x, y = random_events(grid, 200, rng)
    space = SPACES[space_name](form)
    n_rows, n_cols = grid.shape
    geometry = (grid.x0, grid.y0, S, n_rows, n_cols, grid._raster_to_cell)
    codes = space._codes(S)
    sizes = kernels._footprint_sizes(x, y, *geometry, grid.x, grid.y, *codes)
    ptr = np.concatenate([[0], np.cumsum(sizes)])
    cells, weights = kernels._footprints(x, y, ptr, *geometry, grid.x, grid.y, *codes)
    dense = np.zeros((len(x), grid.n_cells))
    for i in range(len(x)):
        sl = slice(ptr[i], ptr[i + 1])
        assert len(np.unique(cells[sl])) == ptr[i + 1] - ptr[i]  # each cell once
        dense[i, cells[sl]] = weights[sl]
    expected = naive.footprint_matrix(x, y, grid, space)
    np.testing.assert_allclose(dense, expected, rtol=RTOL, atol=ATOL)
    # every cell within the radius is in the footprint, even where the weight is tiny
    assert sizes.sum() == np.count_nonzero(naive.distances(x, y, grid, form) <= space.radius)


@pytest.mark.parametrize("mode", ["forecast", "history"])
@pytest.mark.parametrize("time_name", list(TIMES))
@pytest.mark.parametrize("form", ["continuous", "grid"])
@pytest.mark.parametrize("space_name", list(SPACES))
def test_scores_match_twin(grid, space_name, form, time_name, mode):
    rng = np.random.default_rng(zlib.crc32(f"{space_name}/{form}/{time_name}/{mode}".encode()))
    t, x, y = random_events(grid, 150, rng)
    space, time = SPACES[space_name](form), TIMES[time_name]
    events = as_events(t, x, y)
    # instants at random seconds (not only block starts), some exactly at event times
    starts = np.sort(np.concatenate([rng.integers(T0, T0 + 130 * DAY, 25), t[::30]]))
    methods = ["direct", "auto"] + (["recursive"] if nr._recursive_ok(time) else [])
    for method in methods:
        if mode == "forecast":
            origin = int(starts[0])
            got = score_forecast(
                events, grid, starts, space=space, time=time, origin=origin, method=method
            )
            expected = naive.score(t, x, y, grid, starts, space, time, before=origin)
        else:
            got = score_history(events, grid, starts, space=space, time=time, method=method)
            expected = naive.score(t, x, y, grid, starts, space, time)
        assert got.shape == (len(starts), grid.n_cells)
        assert got.dtype == np.float64 and got.flags.c_contiguous
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL, err_msg=method)


@pytest.mark.parametrize("form", ["continuous", "grid"])
@pytest.mark.parametrize("time_name", list(TIMES))
def test_masked_grid_matches_twin(masked_grid, form, time_name):
    rng = np.random.default_rng(7)
    t, x, y = random_events(masked_grid, 200, rng)
    starts = np.sort(rng.integers(T0, T0 + 130 * DAY, 30))
    space, time = BowersSpace(form=form), TIMES[time_name]
    got = score_history(as_events(t, x, y), masked_grid, starts, space=space, time=time)
    assert got.shape == (30, masked_grid.n_cells)
    expected = naive.score(t, x, y, masked_grid, starts, space, time)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def test_recursive_across_gaps_longer_than_window(grid):
    # Instants far apart: every event enters and leaves between two instants.
    rng = np.random.default_rng(3)
    t, x, y = random_events(grid, 300, rng, span_days=200)
    starts = np.sort(rng.integers(T0, T0 + 210 * DAY, 12))
    starts = np.concatenate([starts, starts[-1:], starts[-1:] + 1])  # repeated + 1 s later
    time = ExponentialTime(scale_days=0.5, window_days=3.0)
    space = ExponentialSpace(scale=100.0, radius=350.0)
    expected = naive.score(t, x, y, grid, starts, space, time)
    for method in ["recursive", "direct"]:
        got = score_at(t, x, y, grid, starts, space=space, time=time, method=method)
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)
    # cells with nothing in range are exactly zero, never a rounding residue
    got = score_at(t, x, y, grid, starts, space=space, time=time, method="recursive")
    assert np.all(got[expected == 0] == 0.0)
    assert np.all(got >= 0)


@pytest.mark.parametrize(
    "time",
    [BowersTime(), BowersTime(window_days=10.0, step_days=3.0), BowersTime(1.0, 0.25)],
    ids=["8-weeks", "3-day-steps", "quarter-days"],
)
def test_bowers_recursive_across_gaps_and_step_boundaries(grid, time):
    # Instants close together, far apart (an event enters, steps down and leaves between
    # two of them), repeated, and exactly on the step boundaries of events: the running
    # score must equal the twin, with exact zeros where nothing is in range.
    rng = np.random.default_rng(8)
    t, x, y = random_events(grid, 250, rng, span_days=200)
    step = int(time.step_days * DAY)
    on_steps = t[::25] + step * rng.integers(0, 10, len(t[::25]))
    starts = np.sort(
        np.concatenate([rng.integers(T0, T0 + 210 * DAY, 40), on_steps, on_steps[:3] + 1])
    )
    starts = np.concatenate([starts, starts[-1:]])  # a repeated instant
    space = ExponentialSpace(scale=100.0, radius=350.0)
    expected = naive.score(t, x, y, grid, starts, space, time)
    got = score_at(t, x, y, grid, starts, space=space, time=time, method="recursive")
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)
    assert np.all(got[expected == 0] == 0.0)
    assert np.all(got >= 0)
    cut = int(starts[len(starts) // 2])  # a forecast origin in the middle
    got = score_at(t, x, y, grid, starts, space=space, time=time, before=cut, method="recursive")
    np.testing.assert_allclose(
        got, naive.score(t, x, y, grid, starts, space, time, before=cut), rtol=RTOL, atol=ATOL
    )


@pytest.fixture
def raster_calls(monkeypatch):
    """Count the calls of the whole-number raster kernel (grid form x BowersTime)."""
    calls = []
    kernel = kernels._score_steps_raster

    def spy(*args):
        calls.append(args[0].size)
        return kernel(*args)

    monkeypatch.setattr(kernels, "_score_steps_raster", spy)
    return calls


@pytest.mark.parametrize(
    "space",
    [BowersSpace(form="grid"), BowersSpace(unit=100.0, radius=250.0, form="grid"),
     BowersSpace(unit=62.5, radius=1250.0, form="grid"), BowersSpace(radius=0.0, form="grid"),
     GaussianSpace(sigma=100.0, radius=300.0, form="grid")],
    ids=["bowers", "bowers-unit-100", "bowers-21-columns", "bowers-radius-0",
         "gauss-not-a-fraction"],
)  # fmt: skip
@pytest.mark.parametrize(
    "time",
    [BowersTime(), BowersTime(window_days=10.0, step_days=3.0), BowersTime(1.0, 0.25)],
    ids=["8-weeks", "3-day-steps", "quarter-days"],
)
@pytest.mark.parametrize("masked", [False, True], ids=["square", "masked"])
def test_grid_form_recursive_on_the_raster(grid, masked_grid, raster_calls, space, time, masked):
    # Grid-form weights that are fractions (Bowers) run on the raster in whole numbers
    # (stamps of 7 columns, 5, 21 (three groups of vector lanes) and 1); others (Gaussian)
    # on the footprints. Both must equal the twin, with exact zeros, across
    # instants close together, far apart, repeated and on step boundaries, with a cut, for
    # events inside, beside and far outside the raster.
    the_grid = masked_grid if masked else grid
    rng = np.random.default_rng(21)
    t, x, y = random_events(the_grid, 300, rng, span_days=200, margin=600.0)
    step = int(time.step_days * DAY)
    on_steps = t[::20] + step * rng.integers(0, 10, len(t[::20]))
    starts = np.sort(
        np.concatenate([rng.integers(T0, T0 + 210 * DAY, 40), on_steps, on_steps[:3] + 1])
    )
    starts = np.concatenate([starts, starts[-1:]])
    for cut in [None, int(starts[len(starts) // 2])]:
        expected = naive.score(t, x, y, the_grid, starts, space, time, before=cut)
        for dtype, rtol, atol in [(np.float64, RTOL, ATOL), (np.float32, 1e-6, 1e-7)]:
            got = score_at(t, x, y, the_grid, starts, space=space, time=time, before=cut,
                           method="recursive", dtype=dtype)  # fmt: skip
            assert got.dtype == dtype
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
            assert np.all(got[expected == 0] == 0.0)
    fraction = isinstance(space, BowersSpace)
    assert (len(raster_calls) > 0) == fraction


@pytest.fixture(params=["int32", "float64"])
def field(request, monkeypatch):
    """The raster field's dtype, forced: int32 (the default where the sums fit) or float64."""
    if request.param == "float64":
        monkeypatch.setattr(nr, "_INT32_LIMIT", 0)
    dtypes = []
    kernel = kernels._score_steps_raster

    def spy(*args):
        dtypes.append(args[6].dtype)  # the stamp's, the field's
        return kernel(*args)

    monkeypatch.setattr(kernels, "_score_steps_raster", spy)
    return request.param, dtypes


def test_raster_scores_are_the_exact_sum_rounded_once(field):
    # An independent reference in exact rational arithmetic: every score is the correctly
    # rounded value of the exact sum of the weights 1/(1+2k) * 1/(1+w). Rows of 11 cells:
    # eight quotients as one vector operation, three one by one. Fields of either dtype.
    from fractions import Fraction

    grid = make_grid(n_cols=11, n_rows=5, x0=0.0, y0=0.0)
    rng = np.random.default_rng(22)
    t, x, y = random_events(grid, 60, rng, span_days=70, margin=300.0)
    starts = np.sort(rng.integers(T0 + 20 * DAY, T0 + 80 * DAY, 7))
    got = score_at(t, x, y, grid, starts, space=BowersSpace(form="grid"), time=BowersTime(),
                   method="recursive")  # fmt: skip
    assert field[1] == [np.dtype(field[0])]
    col = np.floor((x - grid.x0) / S).astype(int)
    row = np.floor((y - grid.y0) / S).astype(int)
    for b, s in enumerate(starts):
        for c in range(grid.n_cells):
            total = Fraction(0)
            for i in range(len(t)):
                ring = max(abs(int(grid.cell_row[c]) - row[i]), abs(int(grid.cell_col[c]) - col[i]))
                lag = int(s) - int(t[i])
                if ring <= 3 and 0 < lag <= 56 * DAY:
                    total += Fraction(1, 1 + 2 * ring) * Fraction(1, 1 + lag // WEEK)
            assert got[b, c] == float(total)


@pytest.mark.parametrize(
    "space",
    [BowersSpace(form="grid"), BowersSpace(unit=100.0, radius=250.0, form="grid"),
     BowersSpace(unit=62.5, radius=1250.0, form="grid"), BowersSpace(radius=0.0, form="grid")],
    ids=["bowers", "bowers-unit-100", "bowers-21-columns", "bowers-radius-0"],
)  # fmt: skip
@pytest.mark.parametrize("masked", [False, True], ids=["square", "masked"])
def test_raster_fields_of_int32_and_float64_give_the_same_bits(
    grid, masked_grid, monkeypatch, space, masked
):
    # Both fields hold the exact whole-number sums, so their scores are bit for bit equal,
    # as history (entering events too) and as a forecast, in float64 and float32 output.
    the_grid = masked_grid if masked else grid
    rng = np.random.default_rng(24)
    t, x, y = random_events(the_grid, 400, rng, span_days=150, margin=600.0)
    t[100:140] = t[100]  # many events at one instant
    x[200:260], y[200:260] = x[200], y[200]  # and at one place
    t.sort()
    starts = np.sort(rng.integers(T0, T0 + 160 * DAY, 30))
    kw = {"space": space, "time": BowersTime(), "method": "recursive"}
    for before in [None, int(starts[10])]:
        for dtype in [np.float64, np.float32]:
            small = score_at(t, x, y, the_grid, starts, before=before, dtype=dtype, **kw)
            with monkeypatch.context() as patch:
                patch.setattr(nr, "_INT32_LIMIT", 0)
                wide = score_at(t, x, y, the_grid, starts, before=before, dtype=dtype, **kw)
            np.testing.assert_array_equal(small, wide)


def test_raster_field_is_int32_only_while_the_busiest_square_fits(field):
    # n events at one place and instant: every score is n * 1/(1+2k) * 1/(1+w), exactly,
    # on either side of the largest n for int32 (2 * n * 105 * 2520 < 2**31: n <= 4057),
    # and where an int32 field would overflow (n * 105 * 2520 >= 2**31).
    from fractions import Fraction

    grid = make_grid(n_cols=9, n_rows=9, x0=0.0, y0=0.0)
    kw = {"space": BowersSpace(form="grid"), "time": BowersTime(), "method": "recursive"}
    starts = T0 + np.array([DAY, WEEK + DAY])
    for n in [4057, 4058, 9000]:
        t = np.full(n, T0)
        x = y = np.full(n, 4.5 * S)
        got = score_at(t, x, y, grid, starts, **kw)
        for b, w in enumerate([0, 1]):
            for ring in range(4):
                value = float(Fraction(n, (1 + 2 * ring) * (1 + w)))
                cell = grid.cell_of(np.array([(4.5 + ring) * S]), np.array([4.5 * S]))[0]
                assert got[b, cell] == value
        # int32 up to 4057 unless float64 is forced; float64 beyond
        fits = n <= 4057 and field[0] == "int32"
        assert field[1][-1] == np.dtype(np.int32 if fits else np.float64)


def test_busiest_square_counts_the_events_of_the_fullest_square():
    # against counting every square of a random raster of events directly
    rng = np.random.default_rng(25)
    for half, n_lines, stride in [(0, 5, 64), (1, 6, 64), (3, 12, 128), (5, 17, 128)]:
        width = 2 * half + 1
        line = rng.integers(0, n_lines, 300)
        column = rng.integers(0, stride - 2 * half, 300)  # the end of every line empty
        column[:40] = column[0]
        line[:40] = line[0]  # a crowded place
        spot = np.where(rng.random(300) < 0.1, -1, line * stride + column)
        counts = np.zeros((n_lines + 2 * width, stride + 2 * width), dtype=int)
        np.add.at(counts, (line[spot >= 0] + width, column[spot >= 0] + width), 1)
        expected = max(
            counts[r : r + width, c : c + width].sum()
            for r in range(n_lines + width) for c in range(stride + width)
        )  # fmt: skip
        assert kernels._busiest_square(spot, n_lines, stride, half) == expected


def test_raster_path_is_chosen_for_a_dense_forecast(grid, raster_calls):
    # method="auto" picks the raster for many blocks of the Bowers grid weights, and the
    # direct scatter for a single instant
    rng = np.random.default_rng(23)
    t, x, y = random_events(grid, 2_000, rng, span_days=60)
    origin = T0 + 60 * DAY
    starts = origin + 4 * 3600 * np.arange(84)
    kw = {"space": BowersSpace(form="grid"), "time": BowersTime(), "before": origin}
    many = score_at(t, x, y, grid, starts, **kw)
    assert len(raster_calls) == 1
    one = score_at(t, x, y, grid, starts[:1], **kw)
    assert len(raster_calls) == 1
    np.testing.assert_allclose(one, many[:1], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(many, naive.score(t, x, y, grid, starts, kw["space"],
                                                 kw["time"], before=origin),
                               rtol=RTOL, atol=ATOL)  # fmt: skip


def test_step_starts_honour_the_float_test():
    # The shortest lag that reaches each step is found with the kernel's own float test.
    for step, window in [(7 * DAY, 56 * DAY), (0.1 * DAY, 1.0 * DAY), (3.3, 40.0)]:
        n_steps = int(np.floor(window / step)) + 1
        starts = nr._step_starts(step, window, n_steps)
        for j in range(1, n_steps):
            lag = int(starts[j])
            assert np.floor(float(lag) / step) >= j > np.floor(float(lag - 1) / step)
        assert float(starts[n_steps]) > window >= float(starts[n_steps] - 1)


def test_add_scaled_is_the_vector_form_of_a_scaled_add():
    # The raster kernel's stamp operation on eight values at once equals numpy's
    # ``target[i:i + 8] += scale * source[j:j + 8]`` bit for bit (float64: the product and
    # the sum rounded separately; int32: exact), at any offsets, for an integer scale, and
    # touches nothing else.
    import numba

    @numba.njit
    def add(target, i, source, j, scale):
        kernels._add_scaled(target, i, source, j, scale)

    rng = np.random.default_rng(8)
    for _ in range(50):
        target = rng.normal(size=40) * 10.0 ** rng.integers(-3, 12)
        source = np.floor(rng.normal(size=30) * 1e6)
        i, j = int(rng.integers(0, 33)), int(rng.integers(0, 23))
        scale = int(rng.normal() * 10.0 ** rng.integers(0, 9))
        expected = target.copy()
        expected[i : i + kernels.LANES] += float(scale) * source[j : j + kernels.LANES]
        add(target, i, source, j, scale)
        np.testing.assert_array_equal(target, expected)
        # int32: whole numbers whose products and sums fit
        target = rng.integers(-(2**20), 2**20, 40).astype(np.int32)
        source = rng.integers(-(2**9), 2**9, 30).astype(np.int32)
        scale = int(rng.integers(-(2**9), 2**9))
        expected = target.copy()
        expected[i : i + kernels.LANES] += scale * source[j : j + kernels.LANES]
        add(target, i, source, j, scale)
        np.testing.assert_array_equal(target, expected)


def test_add_stamp_is_rows_of_scaled_adds():
    # A stamp of one group of lanes, its rows written out: row dy of the stamp is added to
    # target[i + dy * stride:][:8] as numpy's ``+= scale * row``, bit for bit (float64 and
    # int32 fields), for every number of rows the kernel uses, and nothing else is touched.
    import numba

    @numba.njit
    def stamp(target, i, stride, rows, scale, size):
        kernels._add_one_group_stamp(target, i, stride, rows, scale, size)

    rng = np.random.default_rng(9)
    lanes = kernels.LANES
    for size in [1, 3, 5, 7]:
        for dtype in [np.float64, np.int32]:
            for _ in range(10):
                stride = int(rng.integers(lanes, 20))
                if dtype == np.float64:
                    target = rng.normal(size=7 * stride + 30) * 10.0 ** rng.integers(-3, 12)
                else:
                    target = rng.integers(-(2**20), 2**20, 7 * stride + 30).astype(dtype)
                rows = rng.integers(0, 2**9, (size, lanes)).astype(dtype)
                i = int(rng.integers(0, 30))
                scale = int(rng.integers(-(2**9), 2**9))
                expected = target.copy()
                for dy in range(size):
                    at = i + dy * stride
                    expected[at : at + lanes] += (dtype(scale) * rows[dy]).astype(dtype)
                stamp(target, i, stride, rows.ravel(), scale, size)
                np.testing.assert_array_equal(target, expected)


def test_lanes_first_orders_the_cells_of_a_word_lane_by_lane():
    # cell 8 g + l of a word (lane l of group g) is bit 8 l + g: ascending bits visit lane
    # 0 of every group, then lane 1, ...; every cell has its own bit
    bits = [kernels._lanes_first(word * 64 + cell) for word in [0, 3] for cell in range(64)]
    assert bits[:64] == bits[64:] and sorted(bits[:64]) == list(range(64))
    order = sorted(range(64), key=lambda cell: bits[cell])
    assert order[:9] == [0, 8, 16, 24, 32, 40, 48, 56, 1] and order[-1] == 63


def test_divide_without_division_is_correctly_rounded():
    # The raster kernel's quotient (a product and two fma corrections) equals IEEE
    # division, the correctly rounded reference, for whole numbers up to 2**53 over the
    # denominators the kernel uses (ring x step weights) and others: odd, even, prime.
    rng = np.random.default_rng(53)
    denominators = [105 * 2520, 3, 7, 2520, 33075, 1_048_575, 999_983, 2**20 + 1]
    for d in map(float, denominators):
        x = np.concatenate(
            [
                np.floor(rng.random(4_000) * 2.0 ** rng.integers(1, 54, 4_000)),
                d * rng.integers(0, 2**20, 500) + rng.integers(-1, 2, 500),  # near multiples
                [0.0, 1.0, d, 2.0**53 - 1, 2.0**52, 2.0**52 + 1],
            ]
        )
        x = x[(x >= 0) & (x < 2.0**53)]
        got = np.array([kernels._divide(v, d, 1.0 / d) for v in x])
        np.testing.assert_array_equal(got, x / d)


def test_quotients_are_the_vector_form_of_the_division():
    # The raster kernel's output operation on eight values at once equals IEEE division
    # ``source[j:j + 8] / d`` bit for bit (float32 targets: that quotient rounded to float32),
    # at any offsets, and touches nothing else.
    import numba

    @numba.njit
    def divide(target, i, source, j, d):
        kernels._quotients(target, i, source, j, d, 1.0 / d)

    rng = np.random.default_rng(54)
    for d in map(float, [105 * 2520, 3, 7, 33075, 999_983, 2**20 + 1]):
        for dtype in [np.float64, np.float32]:
            for _ in range(20):
                source = np.floor(rng.random(30) * 2.0 ** rng.integers(1, 54, 30))
                source[rng.integers(0, 30, 5)] = d * rng.integers(0, 2**20, 5)
                target = rng.normal(size=40).astype(dtype)
                i, j = int(rng.integers(0, 33)), int(rng.integers(0, 23))
                expected = target.copy()
                expected[i : i + kernels.LANES] = (source[j : j + kernels.LANES] / d).astype(dtype)
                divide(target, i, source, j, d)
                np.testing.assert_array_equal(target, expected)


def test_chunked_footprints_give_the_same_scores(grid, monkeypatch):
    rng = np.random.default_rng(4)
    t, x, y = random_events(grid, 120, rng)
    starts = np.sort(rng.integers(T0, T0 + 130 * DAY, 20))
    space, expected = GaussianSpace(sigma=200.0, radius=700.0), {}
    for name, time in [("exp", TIMES["exp-7-28"]), ("bowers", TIMES["bowers"])]:
        expected[name] = naive.score(t, x, y, grid, starts, space, time)
    monkeypatch.setattr(nr, "_MAX_FOOTPRINT", 50)
    for name, time in [("exp", TIMES["exp-7-28"]), ("bowers", TIMES["bowers"])]:
        for method in ["direct", "recursive"]:
            got = score_at(t, x, y, grid, starts, space=space, time=time, method=method)
            np.testing.assert_allclose(got, expected[name], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("method", ["direct", "recursive"])
def test_float32_output(grid, method):
    rng = np.random.default_rng(5)
    t, x, y = random_events(grid, 100, rng)
    starts = np.sort(rng.integers(T0, T0 + 130 * DAY, 10))
    kw = {"space": BowersSpace(), "time": TIMES["exp-7-28"], "method": method}
    got = score_at(t, x, y, grid, starts, dtype=np.float32, **kw)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    expected = naive.score(t, x, y, grid, starts, kw["space"], kw["time"])
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------- hand-computed cases
@pytest.mark.parametrize("form", ["continuous", "grid"])
def test_bowers_weights_by_hand(form):
    # Event at the centre of one cell, scored 1 week and 2 days later (w = 1 whole week).
    grid = make_grid(n_cols=7, n_rows=7, x0=0.0, y0=0.0)
    centre = grid.cell_of(np.array([3.5 * S]), np.array([3.5 * S]))[0]
    t, x, y = np.array([T0]), grid.x[[centre]], grid.y[[centre]]
    out = score_at(
        t, x, y, grid, [T0 + WEEK + 2 * DAY], space=BowersSpace(form=form), time=BowersTime()
    )[0]

    def at(dc, dr):
        return out[grid.cell_of(np.array([(3.5 + dc) * S]), np.array([(3.5 + dr) * S]))[0]]

    assert at(0, 0) == pytest.approx(1.0 * 0.5)
    assert at(1, 0) == pytest.approx(1 / (1 + 2) * 1 / (1 + 1))  # neighbour: 2 half-cells
    assert at(0, -3) == pytest.approx(1 / (1 + 6) * 0.5)  # 375 m <= 400 m
    if form == "grid":
        assert at(1, 1) == pytest.approx(1 / 3 * 0.5)  # Chebyshev: diagonal is 1 cell
        assert at(3, 3) == pytest.approx(1 / 7 * 0.5)
    else:
        assert at(1, 1) == pytest.approx(1 / (1 + np.sqrt(2) * 2) * 0.5)
        assert at(3, 3) == 0.0  # 530 m > 400 m
    # beyond 8 weeks nothing counts; exactly 8 weeks still does (w = 8)
    space = BowersSpace(form=form)
    far = score_at(t, x, y, grid, [T0 + 56 * DAY, T0 + 56 * DAY + 1], space=space,
                   time=BowersTime())  # fmt: skip
    assert far[0, centre] == pytest.approx(1 / 9)
    assert far[1, centre] == 0.0


def test_grid_form_uses_the_event_cell_not_its_position():
    grid = make_grid(n_cols=5, n_rows=1, x0=0.0, y0=0.0)
    space = BowersSpace(form="grid")
    # anywhere inside cell 0 (including its lower-left edge) gives the same scores
    xs = np.array([0.0, 1.0, 124.999])
    outs = [score_at([T0], [xv], [60.0], grid, [T0 + DAY], space=space, time=BowersTime())
            for xv in xs]  # fmt: skip
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])
    np.testing.assert_allclose(outs[0][0], [1, 1 / 3, 1 / 5, 1 / 7, 0.0])
    # an event on the edge x = 125 belongs to cell 1
    out = score_at([T0], [125.0], [60.0], grid, [T0 + DAY], space=space, time=BowersTime())
    np.testing.assert_allclose(out[0], [1 / 3, 1, 1 / 3, 1 / 5, 1 / 7])


@pytest.mark.parametrize("form", ["continuous", "grid"])
def test_events_on_cell_edges_and_corners(grid, form):
    n_rows, n_cols = grid.shape
    ks = np.arange(-1, n_cols + 2)
    x = np.concatenate([grid.x0 + ks * S, grid.x0 + ks * S + 0.5 * S])
    y = np.concatenate([grid.y0 + (ks % (n_rows + 1)) * S, np.full(len(ks), grid.y0 + 2 * S)])
    t = np.full(len(x), T0)
    starts = [T0 + 1, T0 + 3 * DAY]
    for space in [BowersSpace(form=form), ExponentialSpace(100.0, 250.0, form=form)]:
        got = score_at(t, x, y, grid, starts, space=space, time=BowersTime())
        expected = naive.score(t, x, y, grid, starts, space, BowersTime())
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def test_radius_is_inclusive():
    grid = make_grid(n_cols=3, n_rows=1, x0=0.0, y0=0.0)
    # event at the centre of cell 0; cell 2's centre is exactly 250 m away
    args = ([T0], [62.5], [62.5], grid, [T0 + DAY])
    on = score_at(*args, space=ExponentialSpace(100.0, 250.0), time=BowersTime())
    off = score_at(*args, space=ExponentialSpace(100.0, 249.999), time=BowersTime())
    assert on[0, 2] == pytest.approx(np.exp(-2.5))
    assert off[0, 2] == 0.0
    grid_on = score_at(*args, space=ExponentialSpace(100.0, 250.0, form="grid"), time=BowersTime())
    assert grid_on[0, 2] == pytest.approx(np.exp(-2.5))
    zero = score_at(*args, space=BowersSpace(radius=0.0, form="grid"), time=BowersTime())
    np.testing.assert_allclose(zero[0], [1.0, 0.0, 0.0])


def test_events_outside_the_grid():
    grid = make_grid(n_cols=4, n_rows=2, x0=0.0, y0=0.0)
    time = BowersTime()
    # 100 m left of the raster, level with row 0: 162.5 m from the centre of cell (0, 0)
    args = ([T0], [-100.0], [62.5], grid, [T0 + DAY])
    near = score_at(*args, space=ExponentialSpace(100.0, 200.0), time=time)[0]
    assert near[grid.cell_of(np.array([62.5]), np.array([62.5]))[0]] == pytest.approx(
        np.exp(-1.625)
    )
    assert np.count_nonzero(near) == 1  # the cell above is sqrt(162.5^2 + 125^2) = 205 m away
    wider = score_at(*args, space=ExponentialSpace(100.0, 210.0), time=time)[0]
    assert np.count_nonzero(wider) == 2
    far = score_at(*args, space=ExponentialSpace(100.0, 160.0), time=time)
    assert not far.any()
    # grid form: the event's virtual cell is column -1, one cell from column 0
    virtual = score_at(*args, space=BowersSpace(form="grid"), time=time)[0]
    np.testing.assert_allclose(virtual.reshape(2, 4)[0], [1 / 3, 1 / 5, 1 / 7, 0.0])
    # very far away: nothing, and no overflow in the window arithmetic
    assert not score_at([T0], [-1e15], [1e15], grid, [T0 + DAY], space=BowersSpace(),
                        time=time).any()  # fmt: skip


@pytest.mark.parametrize("form", ["continuous", "grid"])
def test_one_cell_grid(form):
    grid = make_grid(n_cols=1, n_rows=1, x0=0.0, y0=0.0)
    assert grid.n_cells == 1
    rng = np.random.default_rng(8)
    t, x, y = random_events(grid, 50, rng, margin=300.0)
    starts = np.sort(rng.integers(T0, T0 + 130 * DAY, 15))
    for time in TIMES.values():
        space = GaussianSpace(100.0, 300.0, form=form)
        got = score_at(t, x, y, grid, starts, space=space, time=time)
        assert got.shape == (15, 1)
        np.testing.assert_allclose(got, naive.score(t, x, y, grid, starts, space, time),
                                   rtol=RTOL, atol=ATOL)  # fmt: skip


def test_all_events_at_one_point_and_time(grid):
    n = 37
    c = 30
    t, x, y = np.full(n, T0), np.full(n, grid.x[c]), np.full(n, grid.y[c])
    space, time = GaussianSpace(150.0, 400.0), ExponentialTime(5.0, 30.0)
    starts = [T0 - 1, T0, T0 + 1, T0 + 2 * DAY]
    for method in ["direct", "recursive"]:
        got = score_at(t, x, y, grid, starts, space=space, time=time, method=method)
        np.testing.assert_allclose(got, naive.score(t, x, y, grid, starts, space, time),
                                   rtol=RTOL, atol=ATOL)  # fmt: skip
        assert got[0].max() == got[1].max() == 0.0
        assert got[3, c] == pytest.approx(n * np.exp(-2 / 5))


def test_event_at_a_block_start_counts_only_for_later_blocks():
    grid = make_grid(n_cols=2, n_rows=2, x0=0.0, y0=0.0)
    blocks = ShiftSchedule.every(4, tz=TZ).blocks("2024-03-01", "2024-03-02")
    t = [int(blocks.start[2])]
    events = as_events(t, [60.0], [60.0])
    for method in ["direct", "recursive"]:
        out = score_history(events, grid, blocks, space=BowersSpace(),
                            time=ExponentialTime(1.0, 7.0), method=method)  # fmt: skip
        assert out[2].max() == 0.0
        assert out[3, 0] > 0
    out = score_history(events, grid, blocks, space=BowersSpace(), time=BowersTime())
    np.testing.assert_array_equal(out[:, 0] > 0, [False, False, False, True, True, True])


def test_no_events(grid):
    empty = np.array([], dtype=np.int64)
    out = score_at(empty, [], [], grid, [T0, T0 + DAY], space=BowersSpace(), time=BowersTime())
    assert out.shape == (2, grid.n_cells) and not out.any()
    events = as_events(empty, [], [])
    blocks = ShiftSchedule.every(4, tz=TZ).horizon("2024-03-01", "1D")
    out = score_forecast(events, grid, blocks, space=BowersSpace(), time=BowersTime())
    assert out.shape == (6, grid.n_cells) and not out.any()
    # and no blocks
    out = score_history(events, grid, np.array([], np.int64), space=BowersSpace(),
                        time=BowersTime())  # fmt: skip
    assert out.shape == (0, grid.n_cells)


def test_real_blocks_forecast_example():
    grid = make_grid(n_cols=8, n_rows=8, x0=0.0, y0=0.0)
    schedule = ShiftSchedule.every(4, tz=TZ)
    blocks = schedule.horizon("2024-03-25", "14D")  # spans the 31 March DST change
    rng = np.random.default_rng(9)
    t = np.sort(rng.integers(int(blocks.start[0]) - 70 * DAY, int(blocks.start[0]), 80))
    x, y = rng.uniform(-200, 1200, 80), rng.uniform(-200, 1200, 80)
    space, time = BowersSpace(form="grid"), BowersTime()
    out = score_forecast(as_events(t, x, y), grid, blocks, space=space, time=time)
    assert out.shape == (84, grid.n_cells)
    np.testing.assert_allclose(out, naive.score(t, x, y, grid, blocks.start, space, time),
                               rtol=RTOL, atol=ATOL)  # fmt: skip
    # scores only decay (or stay) over a horizon: no new events enter
    assert np.all(np.diff(out, axis=0) <= 1e-15)


# ---------------------------------------------------------------------- leakage
@pytest.mark.parametrize("time_name", ["exp-7-28", "bowers"])
def test_forecast_ignores_events_at_or_after_the_origin(grid, time_name):
    rng = np.random.default_rng(10)
    t, x, y = random_events(grid, 200, rng, span_days=60)
    blocks = ShiftSchedule.every(4, tz=TZ).horizon(int(T0 + 40 * DAY), "14D")
    origin = int(blocks.start[0])
    kw = {"space": BowersSpace(), "time": TIMES[time_name]}
    before = score_forecast(as_events(t, x, y), grid, blocks, **kw)
    # change every event at or after the origin, and add more, one exactly at the origin
    late = t >= origin
    assert late.any()
    x2, y2 = x.copy(), y.copy()
    x2[late], y2[late] = grid.x[0], grid.y[0]
    t3 = np.concatenate([t, [origin, origin, origin + 5 * DAY]])
    x3 = np.concatenate([x2, grid.x[[1, 2, 3]]])
    y3 = np.concatenate([y2, grid.y[[1, 2, 3]]])
    methods = ["auto", "direct"] + (["recursive"] if nr._recursive_ok(kw["time"]) else [])
    for method in methods:
        before_m = score_forecast(as_events(t, x, y), grid, blocks, method=method, **kw)
        after = score_forecast(as_events(t3, x3, y3), grid, blocks, method=method, **kw)
        np.testing.assert_array_equal(after, before_m)  # bit for bit: never read
    # an earlier explicit origin sees fewer events; the default origin is the first start
    early = score_forecast(as_events(t, x, y), grid, blocks, origin=origin - 10 * DAY, **kw)
    assert early.sum() < before.sum()
    same = score_forecast(as_events(t, x, y), grid, blocks, origin=origin, **kw)
    np.testing.assert_array_equal(same, before)


def test_history_block_ignores_events_at_or_after_its_start(grid):
    rng = np.random.default_rng(11)
    t, x, y = random_events(grid, 200, rng, span_days=60)
    starts = np.sort(rng.integers(T0, T0 + 60 * DAY, 20))
    kw = {"space": GaussianSpace(120.0, 360.0), "time": TIMES["exp-7-28"]}
    full = score_history(as_events(t, x, y), grid, starts, **kw)
    for b in [0, 7, 19]:
        keep = t < starts[b]
        part = score_history(as_events(t[keep], x[keep], y[keep]), grid, starts, **kw)
        np.testing.assert_allclose(part[b], full[b], rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------------- kernel specs
def test_kernel_specs_are_frozen_values():
    space = ExponentialSpace(scale=100, radius=300)
    assert space.scale == 100.0 and isinstance(space.scale, float)
    assert space == ExponentialSpace(100.0, 300.0) and hash(space) == hash(
        ExponentialSpace(100.0, 300.0)
    )
    assert space != ExponentialSpace(100.0, 300.0, form="grid")
    with pytest.raises(dataclasses.FrozenInstanceError):
        space.scale = 5.0
    assert BowersSpace() == BowersSpace(unit=None, radius=400.0, form="continuous")
    assert BowersTime() == BowersTime(window_days=56.0, step_days=7.0)
    assert "GaussianSpace(sigma=1.0" in repr(GaussianSpace(1, 3))


def test_weight_methods():
    np.testing.assert_allclose(
        ExponentialSpace(100.0, 250.0).weight([0, 100, 250, 251]), [1, np.exp(-1), np.exp(-2.5), 0]
    )
    np.testing.assert_allclose(GaussianSpace(100.0, 300.0).weight([200.0]), [np.exp(-2.0)])
    np.testing.assert_allclose(BowersSpace(unit=50.0).weight([100.0, 450.0]), [1 / 3, 0.0])
    with pytest.raises(ValueError, match="needs cell_size"):
        BowersSpace().weight([1.0])
    np.testing.assert_allclose(
        ExponentialTime(2.0, 10.0).weight([-1, 0, 2, 10, 10.5]), [0, 0, np.exp(-1), np.exp(-5), 0]
    )
    np.testing.assert_allclose(BowersTime().weight([6.99, 7.0, 13.99, 14.0]), [1, 0.5, 0.5, 1 / 3])


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ExponentialSpace(0.0, 100.0), r"ExponentialSpace scale must be positive"),
        (lambda: ExponentialSpace(-1.0, 100.0), r"scale must be positive and finite, got -1.0"),
        (lambda: ExponentialSpace(10.0, np.inf), r"radius must be non-negative and finite"),
        (lambda: ExponentialSpace(10.0, -5.0), r"radius must be non-negative"),
        (lambda: GaussianSpace(np.nan, 100.0), r"GaussianSpace sigma must be positive"),
        (lambda: BowersSpace(unit=0.0), r"BowersSpace unit must be positive"),
        (lambda: BowersSpace(form="hops"), r"form='hops' is not one of \['continuous', 'grid'\]"),
        (lambda: ExponentialTime(0.0, 10.0), r"ExponentialTime scale_days must be positive"),
        (lambda: ExponentialTime(1.0, 0.0), r"window_days must be positive, got 0.0"),
        (lambda: BowersTime(window_days=-56), r"BowersTime window_days must be positive"),
        (lambda: BowersTime(step_days=np.inf), r"step_days must be positive and finite"),
    ],
)
def test_kernel_spec_validation(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_kernel_spec_type_errors():
    with pytest.raises(TypeError, match="scale must be a number, got str '100'"):
        ExponentialSpace("100", 300.0)
    with pytest.raises(TypeError, match="must be a number, got bool"):
        BowersTime(window_days=True)


# ---------------------------------------------------------------------- input validation
def test_score_validation(grid):
    t, x, y = np.array([T0, T0 + DAY]), np.array([1100.0, 1200.0]), np.array([2100.0, 2100.0])
    kw = {"space": BowersSpace(), "time": BowersTime()}
    starts = np.array([T0 + 2 * DAY, T0 + 3 * DAY])
    with pytest.raises(ValueError, match="event times t must be in ascending order"):
        score_at(t[::-1], x, y, grid, starts, **kw)
    with pytest.raises(ValueError, match="times must be in ascending order"):
        score_at(t, x, y, grid, starts[::-1], **kw)
    with pytest.raises(TypeError, match="event times t must hold int64 UTC seconds"):
        score_at(t.astype(float), x, y, grid, starts, **kw)
    with pytest.raises(ValueError, match="one value per event; got lengths 2, 1, 2"):
        score_at(t, x[:1], y, grid, starts, **kw)
    with pytest.raises(ValueError, match="must be finite"):
        score_at(t, np.array([np.nan, 1.0]), y, grid, starts, **kw)
    with pytest.raises(TypeError, match="dtype must be float32 or float64, got int64"):
        score_at(t, x, y, grid, starts, dtype=np.int64, **kw)
    endless = {"space": BowersSpace(), "time": BowersTime(window_days=np.inf)}
    with pytest.raises(ValueError, match="method='recursive' needs ExponentialTime, or Bowers"):
        score_at(t, x, y, grid, starts, method="recursive", **endless)
    many = {"space": BowersSpace(), "time": BowersTime(window_days=700.0, step_days=1.0)}
    with pytest.raises(ValueError, match="at most 64 steps in its window"):
        score_at(t, x, y, grid, starts, method="recursive", **many)
    with pytest.raises(ValueError, match="method='fast' is not one of"):
        score_at(t, x, y, grid, starts, method="fast", **kw)
    with pytest.raises(TypeError, match="space must be ExponentialSpace, GaussianSpace or"):
        score_at(t, x, y, grid, starts, space=BowersTime(), time=BowersTime())
    with pytest.raises(TypeError, match="time must be ExponentialTime or BowersTime"):
        score_at(t, x, y, grid, starts, space=BowersSpace(), time=BowersSpace())
    with pytest.raises(TypeError, match="grid must be a caslite Grid"):
        score_at(t, x, y, "grid", starts, **kw)
    with pytest.raises(TypeError, match="before must be int64 UTC seconds"):
        score_at(t, x, y, grid, starts, before=1.5, **kw)


def test_mode_validation(grid):
    t, x, y = np.array([T0]), np.array([1100.0]), np.array([2100.0])
    kw = {"space": BowersSpace(), "time": BowersTime()}
    blocks = ShiftSchedule.every(4, tz=TZ).horizon("2024-01-10", "1D")
    with pytest.raises(ValueError, match="origin .* is after the start of the first block"):
        score_forecast(as_events(t, x, y), grid, blocks, origin="2024-01-10 02:00", **kw)
    with pytest.raises(TypeError, match="events must be caslite Events"):
        score_forecast((t, x, y), grid, blocks, **kw)
    with pytest.raises(TypeError, match="events must be caslite Events"):
        score_history((t, x, y), grid, blocks, **kw)
    other = Events(t, x, y, crs="EPSG:32631", tz=TZ)
    with pytest.raises(ValueError, match="CRS mismatch: events is in EPSG:32631"):
        score_forecast(other, grid, blocks, **kw)
    with pytest.raises(ValueError, match="CRS mismatch"):
        score_history(other, grid, blocks, **kw)
    with pytest.raises(ValueError, match="blocks is empty"):
        score_forecast(as_events(t, x, y), grid, np.array([], np.int64), **kw)
    # an origin given as local time, before the first block, is fine
    out = score_forecast(as_events(t, x, y), grid, blocks, origin="2024-01-09 22:00", **kw)
    assert out.shape == (6, grid.n_cells)


def test_uncertain_times_count_from_the_end_of_their_window():
    grid = Grid.from_area(box(0, 0, 500, 500), cell_size=125.0, crs="EPSG:28992")
    hour = 3600
    t = np.array([0, 10 * hour, 20 * hour], dtype=np.int64)
    t_end = np.array([30 * hour, 10 * hour, 26 * hour], dtype=np.int64)  # the first ends last
    x = np.array([60.0, 200.0, 420.0])
    y = np.array([60.0, 300.0, 100.0])
    events = Events(t, x, y, crs="EPSG:28992", tz="Europe/Amsterdam", t_end=t_end)
    starts = np.arange(0, 48 * hour, 4 * hour, dtype=np.int64)
    space, time = ExponentialSpace(scale=100.0, radius=300.0), ExponentialTime(1.0, 7.0)
    order = np.argsort(t_end, kind="stable")
    by_end = naive.score(t_end[order], x[order], y[order], grid, starts, space, time)
    np.testing.assert_allclose(
        score_history(events, grid, starts, space=space, time=time), by_end, rtol=1e-9
    )
    # Forecast from 28 h: the first event's window (ending at 30 h) is not known yet.
    origin = 28 * hour
    horizon = starts[starts >= origin]
    known = t_end < origin
    expected = naive.score(t_end[known], x[known], y[known], grid, horizon, space, time)
    np.testing.assert_allclose(
        score_forecast(events, grid, horizon, space=space, time=time, origin=origin),
        expected,
        rtol=1e-9,
    )
