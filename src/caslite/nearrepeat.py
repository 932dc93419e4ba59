r"""Near-repeat scores: space-time kernels summed over past events, per grid cell and block.

Burglaries cluster in space and time: after a break-in, the house and its neighbours run a
raised risk for a few weeks ("near repeats"). The near-repeat score of active cell ``c`` at
instant ``s`` is

.. math:: S_c(s) = \sum_{i:\, t_i < s} k_{space}(d_{ic})\, k_{time}(s - t_i),

over events ``i`` within the kernel's spatial ``radius`` and temporal ``window``. Only strictly
earlier events count.

Kernel families (combine any space kernel with any time kernel):

- space: :class:`ExponentialSpace`, :class:`GaussianSpace`, :class:`BowersSpace`, each with
  ``form="continuous"`` (distance from the event to the cell centre; the default) or
  ``form="grid"`` (Chebyshev distance in whole cells between the event's cell and the cell,
  times the cell size, as in the prospective hot-spot literature);
- time: :class:`ExponentialTime`, :class:`BowersTime`.

``BowersSpace(form="grid")`` with ``BowersTime()`` gives the prospective hot-spot weights of
Bowers, Johnson & Pease (2004), ``1/(1+d) * 1/(1+w)`` with ``d`` in half-cell widths and ``w``
in whole weeks, within 400 m and 8 weeks.

Events with an uncertain time (a window ``t .. t_end``) count from the end of their window,
the earliest moment they can have been known.

Two modes:

- :func:`score_forecast`: every block of a horizon scored from the events before the forecast
  origin (no event at or after the origin is ever read);
- :func:`score_history`: every block scored from the events before its own start (features
  for training).

:func:`score_at` does the same on plain arrays.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from caslite._forms import plain
from caslite._kernels import nearrepeat as _k
from caslite._kernels import threads_for
from caslite._time import DAY, to_utc_seconds
from caslite._validation import check_same_crs

__all__ = [
    "BowersSpace",
    "BowersTime",
    "ExponentialSpace",
    "ExponentialTime",
    "GaussianSpace",
    "score_at",
    "score_forecast",
    "score_history",
]

_FORMS = ("continuous", "grid")
_METHODS = ("auto", "direct", "recursive")
# Weight steps of a BowersTime window beyond which method="recursive" is refused.
_MAX_STEPS = 64
# Whole numbers of the raster field below this are kept in int32 (see _score_raster).
_INT32_LIMIT = 2**31
# Footprint entries (cell id + weight, 16 bytes each) held at once; events are processed in
# chunks of time-sorted events beyond this (about 256 MB).
_MAX_FOOTPRINT = 1 << 24


def _number(name: str, value, *, zero_ok: bool = False, inf_ok: bool = False) -> float:
    """Return ``value`` as a float, refusing non-numbers, NaN and out-of-range values."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}.")
    value = float(value)
    bound = "non-negative" if zero_ok else "positive"
    finite = "" if inf_ok else " and finite"
    if math.isnan(value) or value < 0 or (value == 0 and not zero_ok):
        raise ValueError(f"{name} must be {bound}{finite}, got {value!r}.")
    if math.isinf(value) and not inf_ok:
        raise ValueError(f"{name} must be {bound}{finite}, got {value!r}.")
    return value


def _check_form(form) -> str:
    if form not in _FORMS:
        raise ValueError(
            f"form={form!r} is not one of {list(_FORMS)}: 'continuous' measures from the event "
            "to the cell centre, 'grid' counts whole cells between the two cells."
        )
    return form


class _KernelForm:
    """The JSON form of a kernel, its parameters (shared by the kernel bases, private)."""

    def to_dict(self) -> dict:
        """Return the kernel's parameters as plain values, the form :meth:`from_dict` reads.

        Returns
        -------
        dict
            One entry per parameter (dataclass field), in order.

        Examples
        --------
        >>> kernel = ExponentialSpace(scale=100.0, radius=300.0)
        >>> kernel.to_dict()
        {'scale': 100.0, 'radius': 300.0, 'form': 'continuous'}
        >>> ExponentialSpace.from_dict(kernel.to_dict()) == kernel
        True
        """
        name = type(self).__name__
        return {
            field.name: plain(getattr(self, field.name), f"{name}.{field.name}")
            for field in dataclasses.fields(self)
        }

    @classmethod
    def from_dict(cls, form: dict):
        """Rebuild a kernel from the form of :meth:`to_dict`; its parameters are checked.

        Raises
        ------
        TypeError
            If ``form`` is not a dict.
        ValueError
            If it names a parameter the kernel does not have, or a value the kernel refuses.
        """
        if not isinstance(form, dict):
            raise TypeError(f"a {cls.__name__} form must be a dict, got {type(form).__name__}.")
        known = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(form) - set(known))
        if unknown:
            raise ValueError(
                f"{cls.__name__} has no parameters {unknown}; its parameters are {known}."
            )
        return cls(**form)


class _SpaceKernel(_KernelForm):
    """Shared behaviour of the spatial kernels (private base)."""

    _kind: int

    def _param(self, cell_size: float) -> float:
        raise NotImplementedError

    def _codes(self, cell_size: float) -> tuple[int, float, float, bool]:
        return self._kind, self._param(cell_size), self.radius, self.form == "grid"

    def weight(self, distance, cell_size=None) -> np.ndarray:
        """Evaluate the kernel at distances in metres, zero beyond ``radius``.

        Parameters
        ----------
        distance : array-like of float
            Distances in metres (in the grid form: whole cells times the cell size).
        cell_size : float, optional
            Cell width in metres; needed only by :class:`BowersSpace` without ``unit``.

        Returns
        -------
        ndarray of float64
        """
        d = np.asarray(distance, dtype=np.float64)
        if cell_size is None and isinstance(self, BowersSpace) and self.unit is None:
            raise ValueError("BowersSpace(unit=None) needs cell_size= (unit = half a cell).")
        param = self._param(float(cell_size) if cell_size is not None else 1.0)
        scalar = getattr(_k._space_weight, "py_func", _k._space_weight)  # no compilation
        w = np.vectorize(lambda v: scalar(self._kind, param, v), otypes=[np.float64])(d)
        return np.where(d <= self.radius, w, 0.0).astype(np.float64)


@dataclass(frozen=True)
class ExponentialSpace(_SpaceKernel):
    """Exponential spatial decay ``exp(-d / scale)``, zero beyond ``radius``.

    Parameters
    ----------
    scale : float
        Decay length in metres (the weight falls by a factor e every ``scale`` metres).
    radius : float
        Truncation radius in metres: events farther than this from the cell (``d > radius``)
        get weight 0.
    form : {"continuous", "grid"}, default "continuous"
        ``d`` from the event to the cell centre, or in whole cells (Chebyshev) between the
        event's cell and the cell, times the cell size.

    Examples
    --------
    >>> kernel = ExponentialSpace(scale=200.0, radius=500.0)
    >>> kernel.weight([0.0, 200.0, 600.0]).round(4).tolist()
    [1.0, 0.3679, 0.0]
    """

    scale: float
    radius: float
    form: str = "continuous"
    _kind = _k.SPACE_EXPONENTIAL

    def __post_init__(self):
        object.__setattr__(self, "scale", _number("ExponentialSpace scale", self.scale))
        object.__setattr__(
            self, "radius", _number("ExponentialSpace radius", self.radius, zero_ok=True)
        )
        object.__setattr__(self, "form", _check_form(self.form))

    def _param(self, cell_size):
        return self.scale


@dataclass(frozen=True)
class GaussianSpace(_SpaceKernel):
    """Gaussian spatial decay ``exp(-d**2 / (2 sigma**2))``, zero beyond ``radius``.

    Parameters
    ----------
    sigma : float
        Bandwidth in metres.
    radius : float
        Truncation radius in metres (``d > radius`` gets weight 0), e.g. ``3 * sigma``.
    form : {"continuous", "grid"}, default "continuous"
        See :class:`ExponentialSpace`.

    Examples
    --------
    >>> GaussianSpace(sigma=100.0, radius=300.0).weight([0.0, 100.0]).round(4).tolist()
    [1.0, 0.6065]
    """

    sigma: float
    radius: float
    form: str = "continuous"
    _kind = _k.SPACE_GAUSSIAN

    def __post_init__(self):
        object.__setattr__(self, "sigma", _number("GaussianSpace sigma", self.sigma))
        object.__setattr__(
            self, "radius", _number("GaussianSpace radius", self.radius, zero_ok=True)
        )
        object.__setattr__(self, "form", _check_form(self.form))

    def _param(self, cell_size):
        return self.sigma


@dataclass(frozen=True)
class BowersSpace(_SpaceKernel):
    """Inverse-distance weight ``1 / (1 + d / unit)`` of Bowers, Johnson & Pease (2004).

    Parameters
    ----------
    unit : float, optional
        Distance unit in metres; default half the cell width of the grid being scored, so
        that ``d / unit`` is the distance "in half-cell widths" of the original method.
    radius : float, default 400.0
        Truncation radius in metres (``d > radius`` gets weight 0).
    form : {"continuous", "grid"}, default "continuous"
        See :class:`ExponentialSpace`. ``form="grid"`` reproduces the original prospective
        hot-spot weights: the neighbouring cell (also diagonally) is 1 cell = 2 half-cells
        away, weight 1/3.

    Examples
    --------
    >>> kernel = BowersSpace(form="grid")
    >>> kernel.weight([0.0, 125.0, 375.0, 500.0], cell_size=125.0).round(4).tolist()
    [1.0, 0.3333, 0.1429, 0.0]
    """

    unit: float | None = None
    radius: float = 400.0
    form: str = "continuous"
    _kind = _k.SPACE_BOWERS

    def __post_init__(self):
        if self.unit is not None:
            object.__setattr__(self, "unit", _number("BowersSpace unit", self.unit))
        object.__setattr__(self, "radius", _number("BowersSpace radius", self.radius, zero_ok=True))
        object.__setattr__(self, "form", _check_form(self.form))

    def _param(self, cell_size):
        return cell_size / 2.0 if self.unit is None else self.unit


class _TimeKernel(_KernelForm):
    """Shared behaviour of the temporal kernels (private base)."""

    _kind: int
    window_days: float

    def _param_seconds(self) -> float:
        raise NotImplementedError

    def _codes(self) -> tuple[int, float, float]:
        return self._kind, self._param_seconds(), self.window_days * float(DAY)

    def weight(self, lag_days) -> np.ndarray:
        """Evaluate the kernel at time lags in days: zero unless ``0 < lag <= window_days``.

        Parameters
        ----------
        lag_days : array-like of float
            Time from the event to the scored instant, in days.

        Returns
        -------
        ndarray of float64
        """
        lag = np.asarray(lag_days, dtype=np.float64) * float(DAY)
        param = self._param_seconds()
        scalar = getattr(_k._time_weight, "py_func", _k._time_weight)  # no compilation
        w = np.vectorize(lambda v: scalar(self._kind, param, v), otypes=[np.float64])(lag)
        window = self.window_days * float(DAY)
        return np.where((lag > 0) & (lag <= window), w, 0.0).astype(np.float64)


@dataclass(frozen=True)
class ExponentialTime(_TimeKernel):
    """Exponential time decay ``exp(-lag / scale)``, zero when ``lag > window``.

    Parameters
    ----------
    scale_days : float
        Decay time in days.
    window_days : float
        Window in days: events more than this long before the scored instant get weight 0.
        May be ``numpy.inf`` (no truncation).

    Notes
    -----
    This kernel allows the recursive update ``score(s') = score(s) exp(-(s' - s) / scale) +
    new - expired`` (``method="recursive"``).

    Examples
    --------
    >>> ExponentialTime(scale_days=7.0, window_days=28.0).weight([0.0, 7.0, 30.0]).round(4).tolist()
    [0.0, 0.3679, 0.0]
    """

    scale_days: float
    window_days: float
    _kind = _k.TIME_EXPONENTIAL

    def __post_init__(self):
        object.__setattr__(
            self, "scale_days", _number("ExponentialTime scale_days", self.scale_days)
        )
        object.__setattr__(
            self,
            "window_days",
            _number("ExponentialTime window_days", self.window_days, inf_ok=True),
        )

    def _param_seconds(self):
        return self.scale_days * float(DAY)


@dataclass(frozen=True)
class BowersTime(_TimeKernel):
    """Weight ``1 / (1 + w)`` with ``w`` the lag in whole weeks, Bowers, Johnson & Pease (2004).

    Parameters
    ----------
    window_days : float, default 56.0
        Window in days (8 weeks): events more than this long before the scored instant get
        weight 0.
    step_days : float, default 7.0
        Length of the time step: ``w = floor(lag / step_days)``.

    Examples
    --------
    >>> BowersTime().weight([0.5, 7.0, 9.0, 56.0, 57.0]).round(4).tolist()
    [1.0, 0.5, 0.5, 0.1111, 0.0]
    """

    window_days: float = 56.0
    step_days: float = 7.0
    _kind = _k.TIME_BOWERS

    def __post_init__(self):
        object.__setattr__(
            self, "window_days", _number("BowersTime window_days", self.window_days, inf_ok=True)
        )
        object.__setattr__(self, "step_days", _number("BowersTime step_days", self.step_days))

    def _param_seconds(self):
        return self.step_days * float(DAY)


# ---------------------------------------------------------------------- validation helpers
def _check_kernels(space, time) -> None:
    if not isinstance(space, _SpaceKernel):
        raise TypeError(
            "space must be ExponentialSpace, GaussianSpace or BowersSpace, got "
            f"{type(space).__name__}."
        )
    if not isinstance(time, _TimeKernel):
        raise TypeError(f"time must be ExponentialTime or BowersTime, got {type(time).__name__}.")


def _check_grid(grid) -> None:
    from caslite.grid import Grid

    if not isinstance(grid, Grid):
        raise TypeError(
            f"grid must be a caslite Grid (e.g. Grid.from_area(...)), got {type(grid).__name__}."
        )


def _check_dtype(dtype) -> np.dtype:
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}.") from None
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}.")
    return dtype


def _as_seconds(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold int64 UTC seconds, got dtype {arr.dtype}.")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}.")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if len(arr) > 1 and not (arr[1:] >= arr[:-1]).all():
        first = int(np.flatnonzero(np.diff(arr) < 0)[0]) + 1
        raise ValueError(
            f"{name} must be in ascending order; value {first} ({arr[first]}) is earlier than "
            f"the one before it. Sort with np.argsort(..., kind='stable') first."
        )
    return arr


def _check_finite(x, y) -> None:
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("event coordinates x and y must be finite (no NaN or Inf).")


def _block_starts(blocks) -> np.ndarray:
    """Start instants of ``blocks`` (a Blocks, or int64 UTC seconds)."""
    from caslite.shifts import Blocks

    starts = blocks.start if isinstance(blocks, Blocks) else blocks
    return _as_seconds(starts, "block starts")


def _check_events(events, grid):
    from caslite.events import Events

    if not isinstance(events, Events):
        raise TypeError(
            f"events must be caslite Events (see Events.from_frame), got {type(events).__name__};"
            " use score_at for plain arrays."
        )
    _check_grid(grid)
    check_same_crs(events.crs, grid.crs, "events", "the grid")


def _known_times(events):
    """Return ``(t, x, y)`` with each event timed when it became known, sorted by that time.

    An exact time is its own; an uncertain one (a window) is counted from the end of its
    window, the earliest moment it can have been reported, so no score sees an event before
    it could have been known.
    """
    if not events.has_windows:  # remembered by the events: not read again on every call
        return events.t, events.x, events.y
    order = np.argsort(events.t_end, kind="stable")
    return events.t_end[order], events.x[order], events.y[order]


# ---------------------------------------------------------------------- scoring
def score_at(
    t,
    x,
    y,
    grid,
    times,
    *,
    space,
    time,
    before=None,
    method="auto",
    dtype=np.float64,
) -> np.ndarray:
    """Near-repeat scores of every active cell at given instants, from plain arrays.

    Parameters
    ----------
    t : array-like of int
        Event instants, int64 UTC seconds, ascending.
    x, y : array-like of float
        Event coordinates in metres, in the CRS of ``grid``. Events outside the grid still
        count for cells within the radius.
    grid : caslite.grid.Grid
        The cells to score.
    times : array-like of int
        Instants to score at (int64 UTC seconds, ascending), e.g. block starts.
    space : ExponentialSpace, GaussianSpace or BowersSpace
        Spatial kernel.
    time : ExponentialTime or BowersTime
        Temporal kernel.
    before : int, optional
        Only events with ``t < before`` count (a forecast origin); default no limit beyond
        ``t < times[b]``.
    method : {"auto", "direct", "recursive"}, default "auto"
        "direct" sums each instant's events independently (parallel over instants);
        "recursive" updates a running score from one instant to the next (sequential), for
        :class:`ExponentialTime` (decay, new and expired events) and for :class:`BowersTime`
        with a finite window of at most 64 steps (only the events whose weight stepped
        down, entered or left; for grid-form space weights that are fractions, such as
        ``BowersSpace(form="grid")``, in whole numbers on the raster: each score is then its
        exact sum rounded once). Both give the same scores up to rounding; "auto" picks the
        faster.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        Output dtype. Each score is summed in float64 and then stored (when events are
        processed in chunks, the chunks' sums are added in the output dtype).

    Returns
    -------
    ndarray of shape (len(times), grid.n_cells)
        ``out[b, c]`` is the score of cell ``c`` at ``times[b]``.

    Notes
    -----
    The spatial weights of each event (its "footprint": the cells within the radius) are
    computed once, so time and memory grow with events times cells per footprint; very large
    radii are processed in chunks of events.

    Examples
    --------
    >>> import numpy as np
    >>> from caslite.grid import Grid
    >>> from shapely.geometry import box
    >>> grid = Grid.from_area(box(0, 0, 375, 375), cell_size=125.0, crs="EPSG:28992")
    >>> week = 7 * 86_400
    >>> t = np.array([0]); x = np.array([62.5]); y = np.array([62.5])  # centre of a corner
    >>> out = score_at(t, x, y, grid, [week + 2 * 86_400], space=BowersSpace(form="grid"),
    ...                time=BowersTime())
    >>> out.round(4).reshape(3, 3).tolist()  # 1/(1+2 half-cells) * 1/(1+1 week) next door
    [[0.5, 0.1667, 0.1], [0.1667, 0.1667, 0.1], [0.1, 0.1, 0.1]]
    """
    return _score(t, x, y, grid, times, space=space, time=time, before=before, method=method,
                  dtype=dtype, events_checked=False)  # fmt: skip


def _score(t, x, y, grid, times, *, space, time, before, method, dtype, events_checked):
    """:func:`score_at`; with ``events_checked`` the arrays are those of an :class:`Events`.

    Events hold time-sorted int64 times and finite coordinates (their constructor checks
    both), so only the coordinates of the events that can count are checked again here,
    not the order of every time: a forecast from a long history then costs what its window
    holds, not what the whole history does.
    """
    _check_kernels(space, time)
    _check_grid(grid)
    dtype = _check_dtype(dtype)
    if method not in _METHODS:
        raise ValueError(f"method={method!r} is not one of {list(_METHODS)}.")
    if method == "recursive" and not _recursive_ok(time):
        raise ValueError(
            f"method='recursive' needs ExponentialTime, or BowersTime with at most "
            f"{_MAX_STEPS} steps in its window; got {time!r}. Use method='direct'."
        )
    if events_checked:
        t = np.ascontiguousarray(t, dtype=np.int64)
    else:
        t = _as_seconds(t, "event times t")
    x = np.ascontiguousarray(x, dtype=np.float64).ravel()
    y = np.ascontiguousarray(y, dtype=np.float64).ravel()
    if not len(x) == len(y) == len(t):
        raise ValueError(
            f"t, x and y must have one value per event; got lengths {len(t)}, {len(x)}, {len(y)}."
        )
    if not events_checked:
        _check_finite(x, y)
    times = _as_seconds(np.atleast_1d(times), "times")
    cut = np.iinfo(np.int64).max if before is None else before
    if isinstance(cut, bool) or not isinstance(cut, (int, np.integer)):
        raise TypeError(f"before must be int64 UTC seconds, got {type(before).__name__}.")
    cut = int(cut)

    shape = (len(times), grid.n_cells)
    if not len(times) or not len(t) or not grid.n_cells:
        return np.zeros(shape, dtype=dtype)

    size = float(grid.cell_size)
    kind, param, radius, grid_form = space._codes(size)
    t_kind, t_param, window = time._codes()

    # Events that can count at all: t < min(cut, last time), t >= first time - window.
    last = min(cut, int(times[-1]))
    first = 0 if math.isinf(window) else np.searchsorted(t, math.floor(times[0] - window) - 1)
    stop = np.searchsorted(t, last, side="left")
    if stop <= first:
        return np.zeros(shape, dtype=dtype)
    units = None
    bowers = t_kind == _k.TIME_BOWERS and _recursive_ok(time)
    if method in ("auto", "recursive") and grid_form and bowers:
        # grid-form weights depend on the event's cell only: whole-number stamps on the
        # raster when the weights are fractions (the Bowers weights are)
        units = _exact_units(space, time, size, stop - first)
    if units is not None and method == "auto":
        method = _choose_raster(t[first:stop], times, cut, window, grid, units, time)
    if units is not None and method == "recursive":
        out = np.empty(shape, dtype=dtype)  # every value is written
        events = (t[first:stop], x[first:stop], y[first:stop])
        _score_raster(*events, grid, times, cut, time, units, out)
        return out

    if events_checked:
        _check_finite(x[first:stop], y[first:stop])
    n_rows, n_cols = (int(n) for n in grid.shape)
    raster_to_cell = np.ascontiguousarray(grid._raster_to_cell)
    cell_x = np.ascontiguousarray(grid.x, dtype=np.float64)
    cell_y = np.ascontiguousarray(grid.y, dtype=np.float64)
    geometry = (float(grid.x0), float(grid.y0), size, n_rows, n_cols, raster_to_cell)
    kernel = (kind, param, radius, grid_form)
    out = np.zeros(shape, dtype=dtype)

    visits = (stop - first) * (2.0 * radius / size + 3.0) ** 2  # raster cells per event
    with threads_for(visits):
        sizes = _k._footprint_sizes(
            x[first:stop], y[first:stop], *geometry, cell_x, cell_y, *kernel
        )
    if not sizes.any():
        return out
    if method == "auto":
        method = _choose_method(t[first:stop], sizes, times, cut, window, grid.n_cells, time)

    lo_all = _window_start(t, times, window)
    hi_all = np.searchsorted(t, np.minimum(times, cut), side="left")
    direct = _k._score_direct if dtype == np.float64 else _k._score_direct_rows
    for a, b in _chunks(sizes, first):
        ptr = np.zeros(b - a + 1, dtype=np.int64)
        np.cumsum(sizes[a - first : b - first], out=ptr[1:])
        with threads_for(visits * (b - a) / (stop - first)):
            cells, weights = _k._footprints(x[a:b], y[a:b], ptr, *geometry, cell_x, cell_y, *kernel)
        if method == "recursive" and t_kind == _k.TIME_EXPONENTIAL:
            _k._score_recursive(times, cut, t[a:b], ptr, cells, weights, t_param, window, out)
        elif method == "recursive":
            _k._score_steps(times, cut, t[a:b], ptr, cells, weights, t_param, window, out)
        else:
            lo = np.clip(lo_all, a, b) - a
            hi = np.clip(hi_all, a, b) - a
            # footprint entries scattered: those of every block's events, summed over blocks
            with threads_for(float(np.sum(ptr[hi] - ptr[lo]))):
                direct(times, lo, hi, t[a:b], ptr, cells, weights, t_kind, t_param, window, out)
    return out


def _exact_units(space, time, cell_size, n_events):
    """Grid-form space weights and Bowers time weights as whole numbers over one denominator.

    Returns ``(ring_units, time_units, denominator)``: ``ring_units[k]`` is the space weight
    of ring ``k`` (``k`` cells from the event's cell, Chebyshev) times the space
    denominator, ``time_units[j]`` the weight of step ``j`` times the time denominator. None
    when a weight is not a fraction with a small denominator (an exponential kernel, say)
    or a sum could reach 2**53 (where float64 stops holding every whole number). A float
    weight is accepted only when it is the correctly rounded value of its fraction, so the
    sum of whole numbers is the exact sum of the fractions, rounded once when divided by the
    denominator.
    """
    units = _unit_fractions(space, time, float(cell_size))
    if units is None:
        return None
    ring_units, time_units, denominator = units
    # An event adds at most ``denominator`` to a cell, so a field value is at most
    # n_events * denominator, and while a block's changes are being added at most twice
    # that: with a margin of two it must stay below 2**53, where float64 stops holding
    # every whole number (the kernel keeps the field in float64).
    if 4 * max(n_events, 1) * denominator >= 2**53:
        return None
    return ring_units.copy(), time_units.copy(), denominator


@functools.lru_cache(maxsize=64)
def _unit_fractions(space, time, cell_size):
    """:func:`_exact_units` without the bound on sums.

    Cached: the kernel specs are frozen, hashable values.
    """
    kind, param, radius, _ = space._codes(cell_size)
    _, step, window = time._codes()
    scalar = getattr(_k._space_weight, "py_func", _k._space_weight)
    rings = []
    k = 0
    while k * cell_size <= radius:  # the kernel's test: Chebyshev cells times size <= radius
        rings.append(scalar(kind, param, k * cell_size))
        k += 1
    fractions = []
    for w in rings:
        fraction = Fraction(w).limit_denominator(10_000)
        if float(fraction) != w or fraction < 0:
            return None
        fractions.append(fraction)
    n_steps = int(math.floor(window / step)) + 1
    time_denominator = math.lcm(*range(1, n_steps + 1))
    space_denominator = math.lcm(*(f.denominator for f in fractions))
    ring_units = np.array([int(f * space_denominator) for f in fractions], dtype=np.int64)
    denominator = space_denominator * time_denominator
    time_units = np.array([time_denominator // (1 + j) for j in range(n_steps)], dtype=np.int64)
    return ring_units, time_units, denominator


def _choose_raster(t, times, cut, window, grid, units, time) -> str:
    """Pick "recursive" (whole-number stamps on the raster) when cheaper than "direct"."""
    if len(times) < 2:
        return "direct"
    footprint = (2 * len(units[0]) - 1) ** 2
    lo = _window_start(t, times, window)
    hi = np.searchsorted(t, np.minimum(times, cut), side="left")
    # Scattered footprint entries cost about twice a streamed raster value (measured).
    direct = 2.0 * float(np.sum(hi - lo)) * footprint
    # Each block writes every active cell; an event's change is added when it enters, at
    # each step down and when it leaves (its cell's stamp then costs about as much as the
    # two rows of each square did when this estimate was measured; kept, so "auto" chooses
    # as before).
    visits = 2.0 + time.window_days / time.step_days
    raster = 2.0 * len(times) * grid.n_cells + 4.0 * visits * len(t) * len(units[0])
    return "recursive" if raster < direct else "direct"


def _score_raster(t, x, y, grid, times, cut, time, units, out) -> None:
    """Write the grid-form x Bowers scores to ``out`` from whole-number stamps."""
    ring_units, time_units, denominator = units
    half = len(ring_units) - 1
    size = float(grid.cell_size)
    n_rows, n_cols = (int(n) for n in grid.shape)
    stamp = _stamp(ring_units)
    # rows of the padded raster: room for a stamp's last group of lanes, in whole words of
    # the kernel's bit map
    stride = -(-(n_cols + 2 * half + stamp.shape[1]) // _k.WORD) * _k.WORD
    # events more than ``half`` cells outside the raster touch no cell (spot -1)
    spot, n_bad = _k._raster_spots(
        x, y, float(grid.x0), float(grid.y0), size, n_rows, n_cols, half, stride
    )
    if n_bad:
        _check_finite(x, y)
    # A field value counts at most the events of one square of 2h + 1 cells, each at most
    # max(ring) * max(step) units, and while a block's changes are added at most twice
    # that: int32 (half the bytes of float64 per stamp row) when that stays below 2**31.
    peak = 2 * int(ring_units.max()) * int(time_units.max())
    if peak * len(t) < _INT32_LIMIT or (
        peak * _k._busiest_square(spot, n_rows + 2 * half, stride, half) < _INT32_LIMIT
    ):
        stamp = stamp.astype(np.int32)
    row_start = np.searchsorted(grid.cell_row, np.arange(n_rows + 1)).astype(np.int64)
    _, step, window = time._codes()
    _k._score_steps_raster(
        times, cut, np.ascontiguousarray(t), spot,
        np.array(_step_starts(step, window, len(time_units))), time_units, stamp,
        float(denominator), row_start, grid.cell_col.astype(np.int64), n_rows, n_cols, stride,
        out,
    )  # fmt: skip


def _stamp(ring_units) -> np.ndarray:
    """Lay the ring units out around an event's cell: ``2h + 1`` rows padded to whole lanes.

    ``stamp[dy, dx] = ring_units[max(|dy - h|, |dx - h|)]`` for ``dx <= 2h``, zero beyond.
    """
    half = len(ring_units) - 1
    width = 2 * half + 1
    lanes = -(-width // _k.LANES) * _k.LANES
    offset = np.abs(np.arange(width) - half)
    stamp = np.zeros((width, lanes))
    stamp[:, :width] = ring_units[np.maximum.outer(offset, offset)]
    return stamp


@functools.lru_cache(maxsize=64)
def _step_starts(step, window, n_steps) -> tuple:
    """Shortest whole-second lags at which the Bowers weight reaches each step, and leaves.

    ``out[j]`` (``1 <= j < n_steps``) is the least ``lag`` with ``floor(float(lag) / step)
    >= j``, the weight's own test in float64 (so float rounding of the division is honoured
    exactly); ``out[n_steps]`` the least ``lag`` with ``float(lag) > window``; ``out[0]`` is
    1. A tuple, cached: the raster kernel finds every change of weight from these lags
    alone.
    """

    def least(test, guess):
        lag = max(int(guess) - 2, 1)
        while not test(lag):
            lag += 1
        while lag > 1 and test(lag - 1):
            lag -= 1
        return lag

    out = np.ones(n_steps + 1, dtype=np.int64)
    for j in range(1, n_steps):
        out[j] = least(lambda lag, j=j: math.floor(float(lag) / step) >= j, j * step)
    out[n_steps] = least(lambda lag: float(lag) > window, window)
    return tuple(int(lag) for lag in out)


def _window_start(t, times, window) -> np.ndarray:
    """Index of the first event that may be within ``window`` seconds before each time."""
    if math.isinf(window):
        return np.zeros(len(times), dtype=np.int64)
    # One second of slack: the kernel applies the exact test ``s - t_i <= window``. Whole
    # seconds as int64, like ``t``: float keys would make numpy convert all of ``t``.
    keys = (np.floor(times - window) - 1).astype(np.int64)
    return np.searchsorted(t, keys, side="left")


def _chunks(sizes, offset):
    """Split events into runs whose footprints hold at most ``_MAX_FOOTPRINT`` entries."""
    if int(sizes.sum()) <= _MAX_FOOTPRINT:
        yield offset, offset + len(sizes)
        return
    start = 0
    total = 0
    for i, n in enumerate(sizes.tolist()):
        if total and total + n > _MAX_FOOTPRINT:
            yield offset + start, offset + i
            start, total = i, 0
        total += n
    yield offset + start, offset + len(sizes)


def _recursive_ok(time) -> bool:
    """Whether ``method="recursive"`` is available for the time kernel."""
    if isinstance(time, ExponentialTime):
        return True
    if isinstance(time, BowersTime) and math.isfinite(time.window_days):
        return time.window_days / time.step_days < _MAX_STEPS
    return False


def _choose_method(t, sizes, times, cut, window, n_cells, time) -> str:
    """Pick "recursive" when its row updates cost less than the direct scatter."""
    if not _recursive_ok(time) or len(times) < 2:
        return "direct"
    lo = _window_start(t, times, window)
    hi = np.searchsorted(t, np.minimum(times, cut), side="left")
    mean_size = float(sizes.mean())
    # Scattered footprint entries cost about twice a streamed row value (measured).
    direct = 2.0 * float(np.sum(hi - lo)) * mean_size
    # Each event scatters when it enters and leaves; a Bowers event also at each step down.
    visits = 2.0 if isinstance(time, ExponentialTime) else 2.0 + time.window_days / time.step_days
    recursive = 2.0 * len(times) * n_cells + 2.0 * visits * len(t) * mean_size
    return "recursive" if recursive < direct else "direct"


def score_forecast(
    events,
    grid,
    blocks,
    *,
    space,
    time,
    origin=None,
    method="auto",
    dtype=np.float64,
) -> np.ndarray:
    """Near-repeat scores at the start of every block of a horizon, from events before the origin.

    Parameters
    ----------
    events : caslite.Events
        The incidents (``events.t``, ``events.x``, ``events.y``); their CRS must equal the
        grid's.
    grid : caslite.grid.Grid
        The cells to score.
    blocks : caslite.shifts.Blocks or array-like of int
        The blocks of the horizon (e.g. ``schedule.horizon(origin, "14D")``), or their start
        instants in int64 UTC seconds, ascending.
    space : ExponentialSpace, GaussianSpace or BowersSpace
        Spatial kernel.
    time : ExponentialTime or BowersTime
        Temporal kernel; the lag is measured from each event to the start of each block.
    origin : int, str or datetime, optional
        Forecast origin: only events with ``t < origin`` are used. Default the start of the
        first block; must not be later. Strings and naive datetimes are local time of the
        blocks' schedule (or of the events).
    method : {"auto", "direct", "recursive"}, default "auto"
        See :func:`score_at`.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        Output dtype.

    Returns
    -------
    ndarray of shape (n_blocks, grid.n_cells)

    Raises
    ------
    ValueError
        If the origin is after the first block, or the CRSs of events and grid differ.

    Examples
    --------
    >>> import pandas as pd
    >>> from shapely.geometry import box
    >>> from caslite.events import Events
    >>> from caslite.grid import Grid
    >>> from caslite.shifts import ShiftSchedule
    >>> frame = pd.DataFrame({"t": ["2024-03-01 10:00", "2024-03-10 22:00"],
    ...                       "x": [100.0, 300.0], "y": [100.0, 180.0]})
    >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
    >>> grid = Grid.from_area(box(0, 0, 500, 500), cell_size=125.0, crs="EPSG:28992")
    >>> blocks = ShiftSchedule.every(4, tz="Europe/Amsterdam").horizon("2024-03-11", "14D")
    >>> risk = score_forecast(events, grid, blocks, space=BowersSpace(), time=BowersTime())
    >>> risk.shape
    (84, 16)
    """
    _check_events(events, grid)
    starts = _block_starts(blocks)
    if origin is None:
        if not len(starts):
            raise ValueError("blocks is empty; pass origin= or give at least one block.")
        origin = int(starts[0])
    else:
        tz = getattr(getattr(blocks, "schedule", None), "tz", None) or events.tz
        origin = int(to_utc_seconds(origin, tz, "origin"))
        if len(starts) and origin > starts[0]:
            raise ValueError(
                f"origin {origin} is after the start of the first block ({starts[0]}, UTC "
                "seconds); a forecast may not see events inside its own horizon. Use "
                "score_history for scores that move with each block."
            )
    return _score(
        *_known_times(events), grid, starts,
        space=space, time=time, before=origin, method=method, dtype=dtype, events_checked=True,
    )  # fmt: skip


def score_history(
    events,
    grid,
    blocks,
    *,
    space,
    time,
    method="auto",
    dtype=np.float64,
) -> np.ndarray:
    """Near-repeat scores at the start of each block, each from the events before that start.

    These are the training features: block ``b`` sees exactly the events with
    ``t < blocks.start[b]``.

    Parameters
    ----------
    events : caslite.Events
        The incidents; their CRS must equal the grid's.
    grid : caslite.grid.Grid
        The cells to score.
    blocks : caslite.shifts.Blocks or array-like of int
        Blocks (or their start instants, int64 UTC seconds, ascending).
    space : ExponentialSpace, GaussianSpace or BowersSpace
        Spatial kernel.
    time : ExponentialTime or BowersTime
        Temporal kernel.
    method : {"auto", "direct", "recursive"}, default "auto"
        See :func:`score_at`.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        Output dtype. A year of 4-hour blocks over 25,000 cells is 2190 x 25,000 values
        (440 MB in float64); float32 halves it.

    Returns
    -------
    ndarray of shape (n_blocks, grid.n_cells)

    Examples
    --------
    >>> import pandas as pd
    >>> from shapely.geometry import box
    >>> from caslite.events import Events
    >>> from caslite.grid import Grid
    >>> from caslite.shifts import ShiftSchedule
    >>> frame = pd.DataFrame({"t": ["2024-03-01 10:00"], "x": [60.0], "y": [60.0]})
    >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
    >>> grid = Grid.from_area(box(0, 0, 250, 250), cell_size=125.0, crs="EPSG:28992")
    >>> blocks = ShiftSchedule.every(4, tz="Europe/Amsterdam").blocks("2024-03-01", "2024-03-02")
    >>> score_history(events, grid, blocks, space=BowersSpace(form="grid"),
    ...               time=BowersTime())[:, 0].tolist()  # blocks from 12:00 on see the 10:00 event
    [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    """
    _check_events(events, grid)
    starts = _block_starts(blocks)
    return _score(
        *_known_times(events), grid, starts,
        space=space, time=time, before=None, method=method, dtype=dtype, events_checked=True,
    )  # fmt: skip
