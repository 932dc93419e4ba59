r"""The strongest simple baselines: long-run counts, a self-exciting model on all history, a blend.

A forecast that does not beat these has not earned its cost:

- :class:`LongRunCounts`: each cell's share of all the events before the origin, times the
  city's recent rate: expected events per cell and block;
- :class:`LongRunETAS`: the grid self-exciting model of :class:`caslite.models.GridETAS`
  fitted on all the history (its background is then a long-run per-cell rate), with a small
  floor on the background so that no cell gets a rate of exactly 0;
- :class:`LongRunNearRepeatBlend`: long-run counts plus near-repeat kernel scores, with two
  non-negative weights fitted, at every origin, on the two weeks after each of a few earlier
  origins (only events known before the forecast origin).

All three return expected events per cell and block (they can be scored by log score and
calibration, not only by hit rate), and all are deterministic.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

from caslite._time import DAY, WEEK, to_utc_seconds
from caslite._validation import check_int, check_number, check_reaches_grid, check_share
from caslite.events import Events
from caslite.grid import Grid
from caslite.models._base import Forecaster
from caslite.models.etas import GridETAS
from caslite.models.risk import TooLittleDataError
from caslite.nearrepeat import BowersSpace, BowersTime, score_at

__all__ = ["LongRunCounts", "LongRunETAS", "LongRunNearRepeatBlend"]


def _history_start(history_start, tz) -> int | None:
    """``history_start`` as UTC seconds, or None."""
    if history_start is None:
        return None
    return int(to_utc_seconds(history_start, tz, "history_start"))


def _known(events: Events, origin: int, start: int | None) -> Events:
    """Select the events known before ``origin`` (``t_end < origin``), not before ``start``."""
    keep = events.t_end < origin
    if start is not None:
        keep &= events.t >= start
    return events.select(keep)


def _long_run_rate(events: Events, grid: Grid, origin: int, level_weeks: float, floor: float):
    """Return the expected events per second of each cell: long-run shares x recent level.

    ``events`` are the events known before ``origin``. Returns None when no event lies in an
    active cell.
    """
    cells = grid.cell_of(events.x, events.y)
    inside = cells >= 0
    counts = np.bincount(cells[inside], minlength=grid.n_cells).astype(np.float64)
    total = counts.sum()
    if total == 0:
        return None
    shares = (1.0 - floor) * counts / total + floor / grid.n_cells
    lag = origin - events.t_end[inside]
    window = level_weeks * float(WEEK)
    span = min(window, float(lag.max()))  # a history shorter than the window: its own length
    recent = float(np.count_nonzero(lag <= window))
    return shares * (recent / max(span, 1.0))


def _check_floor(value) -> float:
    floor = check_share(value, "floor_share")
    if floor == 1.0:
        raise ValueError(
            "floor_share must be below 1 (1 would spread every event evenly over the grid), "
            f"got {value!r}."
        )
    return floor


def _constant_rate(rate: np.ndarray, blocks) -> np.ndarray:
    """Return the expected events per block and cell of a rate (per second) constant in time."""
    seconds = (blocks.end - blocks.start).astype(np.float64)
    return np.outer(seconds, rate)


class LongRunCounts(Forecaster):
    r"""Long-run counts: each cell's share of all past events times the recent rate.

    The expected number of events in cell ``c`` during a block of ``s`` seconds is

    .. math:: \hat y_c = s \, \frac{R}{W}
              \left((1 - f) \frac{n_c}{N} + \frac{f}{C}\right),

    with ``n_c`` the events of cell ``c`` known before the origin (all history, from
    ``history_start`` if given), ``N = sum_c n_c``, ``C`` the active cells, ``f`` the
    ``floor_share``, and ``R`` the events known in the last ``W = level_weeks`` weeks (or the
    whole history, if it is shorter). The ranking of the cells is that of the counts over all
    history (:class:`NaiveCounts` without a window); the level follows the recent rate.

    Parameters
    ----------
    level_weeks : float, default 52
        Weeks before the origin whose events set the city's rate (positive, finite).
    floor_share : float, default 0.02
        Share of the expected events spread evenly over all cells, so that a cell without
        past events does not get a rate of exactly 0 (in ``[0, 1)``); it leaves the ranking
        unchanged.
    history_start : str, datetime or int, optional
        Leave out the events that start before it (e.g. stray old records before the data
        set's real start); default all events.

    Attributes
    ----------
    rate_ : ndarray of float64, shape (grid.n_cells,)
        Expected events per second in each cell.
    counts_ : ndarray of float64, shape (grid.n_cells,)
        Events per cell known before the origin.
    n_events_ : int
        Events counted (known before the origin, in an active cell).
    origin_ : int
        Forecast origin, UTC seconds.
    grid_ : Grid
        The grid scored.

    Examples
    --------
    >>> import pandas as pd
    >>> from shapely.geometry import box
    >>> from caslite import Events, Grid, ShiftSchedule
    >>> frame = pd.DataFrame({"t": ["2023-03-01 10:00", "2024-01-01 10:00", "2024-02-01 22:00"],
    ...                       "x": [60.0, 60.0, 300.0], "y": [60.0, 60.0, 180.0]})
    >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
    >>> grid = Grid.from_area(box(0, 0, 500, 500), cell_size=125.0, crs="EPSG:28992")
    >>> model = LongRunCounts(floor_share=0.0).fit(events, grid, origin="2024-03-01")
    >>> model.counts_[[0, 6]].tolist()  # all history: the 2023 event counts
    [2.0, 1.0]
    >>> blocks = ShiftSchedule.every(4, tz="Europe/Amsterdam").horizon("2024-03-01", "14D")
    >>> risk = model.predict(blocks)
    >>> risk.shape, round(float(risk.sum()), 4)  # 2 events in the last 52 weeks: 2 / 26
    ((84, 16), 0.0769)
    """

    def __init__(self, *, level_weeks=52, floor_share=0.02, history_start=None):
        self.level_weeks = level_weeks
        self.floor_share = floor_share
        self.history_start = history_start

    def fit(self, events, grid, *, origin):
        """Count the events known before ``origin`` per cell, and the recent rate.

        Parameters
        ----------
        events : Events
            All incidents; those known at or after the origin (``t_end >= origin``) are
            ignored.
        grid : Grid
            The cells to score; its CRS must equal the events'.
        origin : str, datetime or int
            Forecast origin; naive values are local time of the events.

        Returns
        -------
        self

        Raises
        ------
        TooLittleDataError
            When no event known before the origin lies in an active cell.
        """
        self._check_fit_input(events, grid)
        level_weeks = check_number(self.level_weeks, "level_weeks", positive=True, unit="weeks")
        floor = _check_floor(self.floor_share)
        check_reaches_grid(events, grid)
        origin = int(to_utc_seconds(origin, events.tz, "origin"))
        known = _known(events, origin, _history_start(self.history_start, events.tz))
        rate = _long_run_rate(known, grid, origin, level_weeks, floor)
        if rate is None:
            raise TooLittleDataError(
                f"no events to count: none known before the origin {origin} (UTC seconds) "
                "lies in an active cell of the grid. Use a later origin, an earlier "
                "history_start, or a grid that covers the events."
            )
        cells = grid.cell_of(known.x, known.y)
        self.counts_ = np.bincount(cells[cells >= 0], minlength=grid.n_cells).astype(np.float64)
        self.n_events_ = int(self.counts_.sum())
        self.rate_ = rate
        self.origin_ = origin
        self.grid_ = grid
        return self

    def predict(self, blocks) -> np.ndarray:
        """Return the expected events of every cell in every block.

        Parameters
        ----------
        blocks : Blocks
            Blocks starting at or after the origin (e.g. ``schedule.horizon(origin, "14D")``).

        Returns
        -------
        ndarray of shape (len(blocks), grid.n_cells)
            ``rate_`` times each block's length in seconds.
        """
        self._check_fitted()
        self._check_blocks(blocks)
        return _constant_rate(self.rate_, blocks)


class LongRunETAS(GridETAS):
    r"""The grid self-exciting model (:class:`GridETAS`) on all history, with a background floor.

    As :class:`GridETAS`, but with ``window_days=None`` (the default) the observation period
    runs from the earliest event known before the origin (or ``history_start``) to the
    origin: the background rate of a cell is then its long-run rate. After the fit, the
    background is lifted towards the grid's mean, conserving its total:

    .. math:: \mu'_n = (1 - f)\, \mu_n + f\, \bar\mu,

    with ``f`` the ``floor_share``. EM gives a background of exactly 0 to every cell without
    events in the period, so a burglary there gets a forecast probability of 0 (a Poisson
    log score of minus infinity); the floor removes that, and it keeps the order of the
    cells' background rates.

    Parameters
    ----------
    window_days : float or None, default None
        Observation period before the origin in days; None: all history.
    floor_share : float, default 0.02
        Share ``f`` of the background spread evenly over the cells (in ``[0, 1)``).
    history_start : str, datetime or int, optional
        With ``window_days=None``: the start of the period (events starting before it are
        left out); default the earliest event known before the origin.
    max_iter, tol, init_theta, init_omega_days
        As in :class:`GridETAS`.

    Attributes
    ----------
    window_days_ : float
        The observation period used, days.
    background_ : ndarray of float64, shape (grid.n_cells,)
        Background rate of each cell after the floor, events per day. The other fitted
        attributes (``theta_``, ``omega_``, ``decay_days_``, ``excitation_``, ``n_iter_``,
        ``log_likelihood_``, ``converged_``, ``n_events_``, ``n_outside_``, ``origin_``,
        ``grid_``) are as in :class:`GridETAS` (the log-likelihood is that of the background
        before the floor).

    Examples
    --------
    >>> import pandas as pd
    >>> from shapely.geometry import box
    >>> from caslite import Events, Grid, ShiftSchedule
    >>> times = pd.date_range("2022-06-01 10:00", periods=40, freq="53h").astype(str)
    >>> frame = pd.DataFrame({"t": times, "x": 60.0, "y": 60.0})
    >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
    >>> grid = Grid.from_area(box(0, 0, 500, 500), cell_size=125.0, crs="EPSG:28992")
    >>> model = LongRunETAS().fit(events, grid, origin="2022-09-01")
    >>> model.n_events_, round(model.window_days_, 1)  # every event, back to 1 June 10:00
    (40, 91.6)
    >>> bool((model.background_ > 0).all())  # cells without events get the floor
    True
    >>> blocks = ShiftSchedule.every(4, tz="Europe/Amsterdam").horizon("2023-03-01", "14D")
    >>> model.predict(blocks).shape
    (84, 16)
    """

    def __init__(
        self,
        *,
        window_days=None,
        floor_share=0.02,
        history_start=None,
        max_iter=1000,
        tol=1e-6,
        init_theta=0.1,
        init_omega_days=7.0,
    ):
        super().__init__(
            window_days=window_days,
            max_iter=max_iter,
            tol=tol,
            init_theta=init_theta,
            init_omega_days=init_omega_days,
        )
        self.floor_share = floor_share
        self.history_start = history_start

    def fit(self, events, grid, *, origin):
        """Fit :class:`GridETAS` on the period, then floor the background.

        Parameters
        ----------
        events : Events
            All incidents; those known at or after the origin are ignored.
        grid : Grid
            The cells; its CRS must equal the events'.
        origin : str, datetime or int
            Forecast origin; naive values are local time of the events.

        Returns
        -------
        self

        Raises
        ------
        TooLittleDataError
            When no event known in the period lies in an active cell.
        """
        self._check_fit_input(events, grid)
        floor = _check_floor(self.floor_share)
        origin_s = int(to_utc_seconds(origin, events.tz, "origin"))
        start = _history_start(self.history_start, events.tz)
        if self.window_days is not None:
            window = check_number(self.window_days, "window_days", positive=True, unit="days")
            if start is not None:
                raise ValueError(
                    f"history_start={self.history_start!r} is only used with window_days=None "
                    f"(all history), got window_days={self.window_days!r}; set one of them."
                )
        else:
            known = _known(events, origin_s, start)
            if not len(known):
                raise TooLittleDataError(
                    f"no events to fit: none known before the origin {origin_s} (UTC "
                    "seconds). Use a later origin or an earlier history_start."
                )
            # one second more than the oldest lag: every known event has 0 < lag <= window
            window = float(origin_s - known.t_end.min() + 1) / float(DAY)
            events = known
        fitted = GridETAS(**{k: v for k, v in self.get_params().items() if k in _ETAS_PARAMS})
        fitted.set_params(window_days=window).fit(events, grid, origin=origin_s)
        vars(self).update({k: v for k, v in vars(fitted).items() if k.endswith("_")})
        mu = self.background_
        self.background_ = (1.0 - floor) * mu + floor * mu.mean()
        self.window_days_ = window
        return self


_ETAS_PARAMS = ("window_days", "max_iter", "tol", "init_theta", "init_omega_days")


def _poisson_weights(components: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Return the non-negative weights ``w`` of the most likely Poisson ``counts``.

    The expected counts are ``components @ w`` (identity link); fitted by L-BFGS-B.
    """
    scale = components.mean(axis=0)
    scale[scale == 0] = 1.0
    x = components / scale  # weights of order 1 for the optimiser
    used = counts > 0

    def loss(w):
        mean = x @ w
        value = mean.sum() - counts[used] @ np.log(np.maximum(mean[used], 1e-300))
        grad = x.sum(axis=0) - x[used].T @ (counts[used] / np.maximum(mean[used], 1e-300))
        return value, grad

    start = np.full(x.shape[1], counts.sum() / max(x.sum(), 1e-300))
    bounds = [(1e-12, None)] * x.shape[1]
    result = scipy.optimize.minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return result.x / scale


class LongRunNearRepeatBlend(Forecaster):
    r"""Long-run counts plus near-repeat scores, with weights fitted on earlier origins.

    The expected events of cell ``c`` over a horizon of ``H = horizon_days`` days are

    .. math:: \hat y_c = a\, L_c + b\, K_c,

    with ``L_c`` the :class:`LongRunCounts` forecast of the cell for the horizon and ``K_c``
    the near-repeat kernel score of the cell at the origin (the prospective hot-spot score of
    :class:`ProspectiveHotSpot`, by default Bowers' ``1/(1+d) * 1/(1+w)`` within 400 m and 8
    weeks), both from the events known before the origin. The weights ``a, b >= 0`` maximise
    the Poisson likelihood of the events observed in the ``H`` days after each of ``n_past``
    earlier origins ``origin - k H`` (``k = 1 .. n_past``), with ``L`` and ``K`` computed at
    each of them from the events known before it. Only events known before the forecast
    origin enter the fit: the targets of the latest earlier origin end at the origin. An event
    counts in the horizon that holds the midpoint of its time window. A block of ``s``
    seconds gets ``s / (H * 86400)`` of ``y_c``.

    Parameters
    ----------
    space : ExponentialSpace, GaussianSpace or BowersSpace, optional
        Spatial kernel of the near-repeat score; default ``BowersSpace(form="grid")``.
    time : ExponentialTime or BowersTime, optional
        Temporal kernel; default ``BowersTime()``.
    n_past : int, default 8
        Earlier origins whose horizons fit the weights.
    horizon_days : float, default 14
        Length of each horizon of the weight fit, days.
    level_weeks, floor_share, history_start
        Of the long-run counts, as in :class:`LongRunCounts`.

    Attributes
    ----------
    weights_ : ndarray of float64, shape (2,)
        ``a`` (long-run counts) and ``b`` (near-repeat score).
    long_run_ : ndarray of float64, shape (grid.n_cells,)
        ``L_c`` at the origin (expected events in ``horizon_days``).
    near_repeat_ : ndarray of float64, shape (grid.n_cells,)
        ``K_c`` at the origin.
    expected_ : ndarray of float64, shape (grid.n_cells,)
        ``a L_c + b K_c``.
    n_fit_events_ : float
        Events in the horizons of the weight fit (in active cells).
    origin_ : int
        Forecast origin, UTC seconds.
    grid_ : Grid
        The grid scored.

    Examples
    --------
    >>> from caslite import Events, Grid, ShiftSchedule
    >>> from caslite.datasets import simulate_city
    >>> city = simulate_city(start="2022-01-01", end="2023-07-01", size=3000.0,
    ...                      background_rate=4.0, random_state=0)
    >>> events = Events.from_frame(city.events[["t", "x", "y"]], crs=city.crs, tz=city.tz)
    >>> grid = Grid.from_events(events, cell_size=125.0)
    >>> model = LongRunNearRepeatBlend().fit(events, grid, origin="2023-06-01")
    >>> bool((model.weights_ >= 0).all()), model.expected_.shape == (grid.n_cells,)
    (True, True)
    >>> blocks = ShiftSchedule.every(4, tz=city.tz).horizon("2023-06-01", "14D")
    >>> bool(abs(model.predict(blocks).sum() - model.expected_.sum()) < 1e-9)
    True
    """

    def __init__(
        self,
        *,
        space=None,
        time=None,
        n_past=8,
        horizon_days=14,
        level_weeks=52,
        floor_share=0.02,
        history_start=None,
    ):
        self.space = space
        self.time = time
        self.n_past = n_past
        self.horizon_days = horizon_days
        self.level_weeks = level_weeks
        self.floor_share = floor_share
        self.history_start = history_start

    def fit(self, events, grid, *, origin):
        """Fit the two weights on earlier origins, and the components at ``origin``.

        Parameters
        ----------
        events : Events
            All incidents; those known at or after the origin are ignored.
        grid : Grid
            The cells to score; its CRS must equal the events'.
        origin : str, datetime or int
            Forecast origin; naive values are local time of the events.

        Returns
        -------
        self

        Raises
        ------
        TooLittleDataError
            When no event known before the earliest of the earlier origins lies in an active
            cell, or none falls in the horizons of the weight fit.
        """
        self._check_fit_input(events, grid)
        check_int(self.n_past, "n_past")
        days = check_number(self.horizon_days, "horizon_days", positive=True, unit="days")
        horizon = days * float(DAY)
        level_weeks = check_number(self.level_weeks, "level_weeks", positive=True, unit="weeks")
        floor = _check_floor(self.floor_share)
        space = self.space if self.space is not None else BowersSpace(form="grid")
        time = self.time if self.time is not None else BowersTime()
        check_reaches_grid(events, grid, margin=float(getattr(space, "radius", 0.0)))
        origin = int(to_utc_seconds(origin, events.tz, "origin"))
        known = _known(events, origin, _history_start(self.history_start, events.tz))

        # instants: the earlier origins (oldest first), then the origin itself
        instants = origin - np.round(np.arange(self.n_past, -1, -1) * horizon).astype(np.int64)
        order = np.argsort(known.t_end, kind="stable")
        kernel = score_at(
            known.t_end[order],
            known.x[order],
            known.y[order],
            grid,
            instants,
            space=space,
            time=time,
            before=origin,
        )
        long_run = np.empty_like(kernel)
        for k, instant in enumerate(instants):
            rate = _long_run_rate(
                known.select(known.t_end < instant), grid, int(instant), level_weeks, floor
            )
            if rate is None:
                raise TooLittleDataError(
                    f"no events before the earliest origin of the weight fit ({int(instants[0])}, "
                    f"UTC seconds: {self.n_past} x {self.horizon_days} days before the origin) "
                    "lie in an active cell. Use a later origin or a smaller n_past."
                )
            long_run[k] = rate * horizon

        cells = grid.cell_of(known.x, known.y)
        inside = cells >= 0
        middle = (known.t[inside] + known.t_end[inside]) / 2.0
        slot = np.searchsorted(instants, middle, side="right") - 1  # horizon after instants[k]
        fit = (slot >= 0) & (slot < self.n_past)
        targets = np.zeros((self.n_past, grid.n_cells))
        np.add.at(targets, (slot[fit], cells[inside][fit]), 1.0)
        if targets.sum() == 0:
            raise TooLittleDataError(
                f"no events in the {self.n_past} horizons of {self.horizon_days} days before "
                f"the origin {origin} (UTC seconds) to fit the weights on. Use a later origin "
                "or a larger n_past."
            )
        components = np.stack([long_run[:-1].ravel(), kernel[:-1].ravel()], axis=1)
        self.weights_ = _poisson_weights(components, targets.ravel())
        self.long_run_ = long_run[-1]
        self.near_repeat_ = kernel[-1]
        self.expected_ = self.weights_[0] * self.long_run_ + self.weights_[1] * self.near_repeat_
        self.n_fit_events_ = float(targets.sum())
        self.horizon_seconds_ = float(horizon)
        self.origin_ = origin
        self.grid_ = grid
        return self

    def predict(self, blocks) -> np.ndarray:
        """Return the expected events of every cell in every block.

        Parameters
        ----------
        blocks : Blocks
            Blocks starting at or after the origin (e.g. ``schedule.horizon(origin, "14D")``).

        Returns
        -------
        ndarray of shape (len(blocks), grid.n_cells)
            ``expected_`` spread over the horizon in proportion to each block's length.
        """
        self._check_fitted()
        self._check_blocks(blocks)
        return _constant_rate(self.expected_ / self.horizon_seconds_, blocks)
