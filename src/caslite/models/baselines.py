"""Baseline forecasters."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse
from sklearn.utils.validation import check_is_fitted

from caslite._time import WEEK
from caslite._validation import check_number, check_reaches_grid, check_share
from caslite.models._base import Forecaster
from caslite.nearrepeat import BowersSpace, BowersTime, GaussianSpace, score_at, score_forecast
from caslite.shifts import Blocks

__all__ = ["NaiveCounts", "ProspectiveHotSpot", "RetrospectiveKDE", "ShiftHistory"]


class ProspectiveHotSpot(Forecaster):
    """Prospective hot spots (Bowers, Johnson & Pease 2004): near-repeat kernel scores.

    The risk of a cell at the start of a block is the sum, over the events known before the
    forecast origin, of a spatial weight (distance to the cell) times a temporal weight (time
    since the event). With the defaults these are the classic weights ``1/(1+d) * 1/(1+w)``,
    ``d`` in half-cell widths between the event's cell and the cell, ``w`` in whole weeks,
    within 400 m and 8 weeks.

    Parameters
    ----------
    space : ExponentialSpace, GaussianSpace or BowersSpace, optional
        Spatial kernel; default ``BowersSpace(form="grid")``.
    time : ExponentialTime or BowersTime, optional
        Temporal kernel; default ``BowersTime()``.

    Attributes
    ----------
    events_ : Events
        The events known before the origin.
    grid_ : Grid
        The grid scored.
    origin_ : int
        Forecast origin, UTC seconds.

    Examples
    --------
    >>> import pandas as pd
    >>> from shapely.geometry import box
    >>> from caslite import Events, Grid, ShiftSchedule
    >>> frame = pd.DataFrame({"t": ["2024-03-01 10:00", "2024-03-20 22:00"],
    ...                       "x": [60.0, 300.0], "y": [60.0, 180.0]})
    >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
    >>> grid = Grid.from_area(box(0, 0, 500, 500), cell_size=125.0, crs="EPSG:28992")
    >>> model = ProspectiveHotSpot().fit(events, grid, origin="2024-03-11")
    >>> len(model.events_)  # the 20 March event is after the origin
    1
    >>> blocks = ShiftSchedule.every(4, tz="Europe/Amsterdam").horizon("2024-03-11", "14D")
    >>> risk = model.predict(blocks)
    >>> risk.shape, int(risk[0].argmax())  # the event's own cell is the hottest
    ((84, 16), 0)
    """

    def __init__(self, *, space=None, time=None):
        self.space = space
        self.time = time

    def fit(self, events, grid, *, origin):
        """Keep the events known before ``origin`` and the grid to score.

        Parameters
        ----------
        events : Events
            All incidents; those at or after the origin are ignored.
        grid : Grid
            The cells to score; its CRS must equal the events'.
        origin : str, datetime or int
            Forecast origin; naive values are local time of the events.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If the events and the grid have different CRSs, or no event lies on the grid or
            within reach of it (a wrong area or CRS). An empty window is not an error: every
            cell then scores 0.
        """
        self._check_fit_input(events, grid)
        space = self.space if self.space is not None else BowersSpace(form="grid")
        check_reaches_grid(events, grid, margin=float(getattr(space, "radius", 0.0)))
        self.origin_ = self._origin_seconds(origin, events)
        self.events_ = events.before(self.origin_)
        self.grid_ = grid
        return self

    def predict(self, blocks) -> np.ndarray:
        """Risk scores of every cell at the start of every block.

        Parameters
        ----------
        blocks : Blocks
            Blocks starting at or after the origin (e.g. ``schedule.horizon(origin, "14D")``).

        Returns
        -------
        ndarray of shape (len(blocks), grid.n_cells)
        """
        self._check_fitted()
        self._check_blocks(blocks)
        risk = score_forecast(
            self.events_,
            self.grid_,
            blocks,
            space=self.space if self.space is not None else BowersSpace(form="grid"),
            time=self.time if self.time is not None else BowersTime(),
            origin=self.origin_,
        )
        return self._checked_output(risk, blocks)


# ---------------------------------------------------------------------- windowed baselines
class _WindowedBaseline(Forecaster):
    """Shared ``fit`` of the baselines that use the events known in a window before the origin.

    Subclasses define ``__init__`` (with ``window_weeks``) and ``_fit_scores``.
    """

    def fit(self, events, grid, *, origin):
        """Keep the events known in the ``window_weeks`` before ``origin``.

        An event is known at the end of its time window (``t_end``; ``t`` for an exact time),
        as in :meth:`Events.before`; it is used when it became known at most
        ``window_weeks`` (elapsed weeks of 7 x 24 hours) before the origin and strictly
        before it: ``0 < origin - t_end <= window_weeks * 604800`` seconds.

        Parameters
        ----------
        events : Events
            All incidents; those known at or after the origin, or before the window, are
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
        ValueError
            If the events and the grid have different CRSs, or no event lies on the grid or
            within reach of it (a wrong area or CRS). An empty window is not an error: every
            cell then scores 0.
        """
        self._check_fit_input(events, grid)
        window = check_number(
            self.window_weeks, "window_weeks", positive=True, unit="weeks"
        ) * float(WEEK)
        self._check_params()
        check_reaches_grid(events, grid, margin=self._reach())
        origin = self._origin_seconds(origin, events)
        lag = origin - events.t_end  # t_end == t for exact times
        self.events_ = events.select((lag > 0) & (lag <= window))
        self.grid_ = grid
        self.origin_ = origin
        self._fit_scores()
        return self

    def _check_params(self) -> None:
        """Validate the parameters other than ``window_weeks`` (none by default)."""

    def _reach(self) -> float:
        """Distance in metres beyond the grid from which an event still adds to a cell."""
        return 0.0

    def _fit_scores(self) -> None:
        """Set the fitted scores from ``events_`` and ``grid_``."""

    def _constant(self, blocks, name: str) -> np.ndarray:
        """Repeat the fitted cell scores ``name`` for every block, after checking the blocks."""
        check_is_fitted(self, name)
        self._check_blocks(blocks)
        return self._checked_output(
            np.repeat(getattr(self, name)[None, :], len(blocks), axis=0), blocks
        )


class NaiveCounts(_WindowedBaseline):
    """Naive hot spots: the number of events in each cell over the last weeks.

    The risk of a cell is the number of events in it known in the ``window_weeks`` before
    the forecast origin (see :meth:`fit` for the exact window); the same for every block of
    the horizon. Events outside the grid's active cells are ignored.

    Parameters
    ----------
    window_weeks : float, default 52
        Length of the window in weeks (positive, finite).

    Attributes
    ----------
    events_ : Events
        The events known in the window.
    grid_ : Grid
        The grid scored.
    origin_ : int
        Forecast origin, UTC seconds.
    counts_ : ndarray of float64, shape (grid.n_cells,)
        Events per cell in the window.

    See Also
    --------
    RetrospectiveKDE : The same counts smoothed with a Gaussian kernel.
    ShiftHistory : The same counts per shift of the day.

    Examples
    --------
    >>> import pandas as pd
    >>> from shapely.geometry import box
    >>> from caslite import Events, Grid, ShiftSchedule
    >>> frame = pd.DataFrame({"t": ["2023-01-01 10:00", "2024-02-01 10:00", "2024-03-01 22:00"],
    ...                       "x": [60.0, 60.0, 300.0], "y": [60.0, 60.0, 180.0]})
    >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
    >>> grid = Grid.from_area(box(0, 0, 500, 500), cell_size=125.0, crs="EPSG:28992")
    >>> model = NaiveCounts(window_weeks=8).fit(events, grid, origin="2024-03-11")
    >>> len(model.events_)  # the 2023 event is outside the 8-week window
    2
    >>> blocks = ShiftSchedule.every(4, tz="Europe/Amsterdam").horizon("2024-03-11", "14D")
    >>> risk = model.predict(blocks)
    >>> risk.shape, risk[0, [0, 6]].tolist()
    ((84, 16), [1.0, 1.0])
    """

    def __init__(self, *, window_weeks=52):
        self.window_weeks = window_weeks

    def _fit_scores(self) -> None:
        cells = self.grid_.cell_of(self.events_.x, self.events_.y)
        counts = np.bincount(cells[cells >= 0], minlength=self.grid_.n_cells)
        self.counts_ = counts.astype(np.float64)

    def predict(self, blocks) -> np.ndarray:
        """Event counts of every cell, repeated for every block.

        Parameters
        ----------
        blocks : Blocks
            Blocks starting at or after the origin (e.g. ``schedule.horizon(origin, "14D")``).

        Returns
        -------
        ndarray of shape (len(blocks), grid.n_cells)
        """
        return self._constant(blocks, "counts_")


class RetrospectiveKDE(_WindowedBaseline):
    r"""Retrospective hot spots: a Gaussian kernel density of the events of the last weeks.

    The risk of cell ``c`` is a kernel-smoothed count of the events known in the
    ``window_weeks`` before the origin (see :meth:`fit` for the exact window),

    .. math:: r_c = \frac{a}{2 \pi h^2} \sum_{i:\, d_{ic} \le k h}
              \exp\left(-\frac{d_{ic}^2}{2 h^2}\right),

    with ``d_ic`` the distance from event ``i`` to the centre of cell ``c``, ``h`` the
    bandwidth, ``k`` the cutoff and ``a = cell_size**2`` the area of a cell: the Gaussian
    intensity (events per square metre) at the cell centre times the cell's area, so that it
    is on the scale of :class:`NaiveCounts`. Events outside the grid count for the cells
    within reach. The risk is the same for every block of the horizon.

    Parameters
    ----------
    bandwidth : float, default 250.0
        Standard deviation ``h`` of the Gaussian kernel in metres.
    window_weeks : float, default 52
        Length of the window in weeks (positive, finite).
    cutoff : float, default 3.0
        Truncation radius in bandwidths: events farther than ``cutoff * bandwidth`` from a
        cell centre add nothing to it.

    Attributes
    ----------
    events_ : Events
        The events known in the window.
    grid_ : Grid
        The grid scored.
    origin_ : int
        Forecast origin, UTC seconds.
    density_ : ndarray of float64, shape (grid.n_cells,)
        Kernel-smoothed count of each cell.

    Notes
    -----
    The sum is computed by :func:`caslite.nearrepeat.score_at` with
    :class:`~caslite.nearrepeat.GaussianSpace` (``sigma=bandwidth``, ``radius=cutoff *
    bandwidth``) and a flat time weight, so only the cells within reach of each event are
    visited.

    Examples
    --------
    >>> import pandas as pd
    >>> from shapely.geometry import box
    >>> from caslite import Events, Grid, ShiftSchedule
    >>> frame = pd.DataFrame({"t": ["2024-02-01 10:00", "2024-03-01 22:00"],
    ...                       "x": [62.5, 437.5], "y": [62.5, 437.5]})
    >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
    >>> grid = Grid.from_area(box(0, 0, 500, 500), cell_size=125.0, crs="EPSG:28992")
    >>> model = RetrospectiveKDE(bandwidth=125.0).fit(events, grid, origin="2024-03-11")
    >>> blocks = ShiftSchedule.every(4, tz="Europe/Amsterdam").horizon("2024-03-11", "14D")
    >>> risk = model.predict(blocks)
    >>> risk.shape, round(float(risk[0, 0]), 4)  # 1 / (2 pi): the other event is out of reach
    ((84, 16), 0.1592)
    """

    def __init__(self, *, bandwidth=250.0, window_weeks=52, cutoff=3.0):
        self.bandwidth = bandwidth
        self.window_weeks = window_weeks
        self.cutoff = cutoff

    def _check_params(self) -> None:
        check_number(self.bandwidth, "bandwidth", positive=True, unit="metres")
        check_number(self.cutoff, "cutoff", positive=True, unit="bandwidths")

    def _reach(self) -> float:
        return float(self.cutoff) * float(self.bandwidth)

    def _fit_scores(self) -> None:
        bandwidth = float(self.bandwidth)
        space = GaussianSpace(sigma=bandwidth, radius=float(self.cutoff) * bandwidth)
        # Every event in events_ is known 0 < lag <= window before the origin; a Bowers step
        # longer than the window makes the time weight 1 / (1 + floor(lag / step)) exactly 1.
        flat = BowersTime(window_days=math.inf, step_days=2.0 * 7.0 * float(self.window_weeks))
        order = np.argsort(self.events_.t_end, kind="stable")
        kernel_sum = score_at(
            self.events_.t_end[order],
            self.events_.x[order],
            self.events_.y[order],
            self.grid_,
            np.array([self.origin_], dtype=np.int64),
            space=space,
            time=flat,
            before=self.origin_,
        )[0]
        self.density_ = kernel_sum * (self.grid_.cell_size**2 / (2.0 * math.pi * bandwidth**2))

    def predict(self, blocks) -> np.ndarray:
        """Kernel-smoothed counts of every cell, repeated for every block.

        Parameters
        ----------
        blocks : Blocks
            Blocks starting at or after the origin (e.g. ``schedule.horizon(origin, "14D")``).

        Returns
        -------
        ndarray of shape (len(blocks), grid.n_cells)
        """
        return self._constant(blocks, "density_")


class ShiftHistory(_WindowedBaseline):
    """Historical counts per shift: events in each cell in the same shift of the day.

    The risk of cell ``c`` in block ``b`` is the number of events in ``c`` known in the
    ``window_weeks`` before the origin (see :meth:`fit` for the exact window) that happened
    in the shift of ``b`` (e.g. the 20-24 block of any day), so the forecast differs by shift
    but is the same for every day of the horizon. Events outside the grid's active cells are
    ignored. Dividing by ``7 * window_weeks`` would give the average per day; it does not
    change the ranking.

    Parameters
    ----------
    window_weeks : float, default 52
        Length of the window in weeks (positive, finite).
    smoothing : float, default 0.0
        Share ``s`` in ``[0, 1]`` of the whole-day count mixed in:
        ``(1 - s) * shift count + s * day count / n_shifts``. A small value (e.g. 0.1) breaks
        the many ties between cells with no events in a shift by their events in other shifts;
        0 gives the plain per-shift counts, 1 the day counts spread evenly over the shifts.

    Attributes
    ----------
    events_ : Events
        The events known in the window.
    grid_ : Grid
        The grid scored.
    origin_ : int
        Forecast origin, UTC seconds.

    Notes
    -----
    An event with an uncertain time (a window ``t .. t_end``, e.g. a burglary discovered on
    coming home) is split over the shifts aoristically, in proportion to the overlap of its
    window with each block (:meth:`Events.aoristic_weights`); an exact time counts 1 in the
    shift that contains it. Each event thus adds 1 in total over the shifts, and the sum of
    the shifts is :class:`NaiveCounts`. Shifts are those of the schedule of the blocks passed
    to :meth:`predict`, in that schedule's time zone.

    Examples
    --------
    >>> import pandas as pd
    >>> from shapely.geometry import box
    >>> from caslite import Events, Grid, ShiftSchedule
    >>> frame = pd.DataFrame({"t": ["2024-02-01 02:00", "2024-02-08 03:00", "2024-03-01 22:00"],
    ...                       "x": [60.0, 60.0, 300.0], "y": [60.0, 60.0, 180.0]})
    >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
    >>> grid = Grid.from_area(box(0, 0, 500, 500), cell_size=125.0, crs="EPSG:28992")
    >>> model = ShiftHistory().fit(events, grid, origin="2024-03-11")
    >>> blocks = ShiftSchedule.every(4, tz="Europe/Amsterdam").horizon("2024-03-11", "1D")
    >>> risk = model.predict(blocks)
    >>> risk[:, 0].tolist()  # cell 0: two night-time events, in the 00-04 block
    [2.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    >>> risk[:, 6].tolist()  # cell 6: one event in the 20-24 block
    [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    """

    def __init__(self, *, window_weeks=52, smoothing=0.0):
        self.window_weeks = window_weeks
        self.smoothing = smoothing

    def _check_params(self) -> None:
        check_share(self.smoothing, "smoothing")

    def _shift_counts(self, schedule) -> np.ndarray:
        """Events per shift and cell, shape ``(schedule.n_shifts, grid.n_cells)``."""
        events, grid = self.events_, self.grid_
        cells = grid.cell_of(events.x, events.y)
        inside = cells >= 0
        counts = np.zeros((schedule.n_shifts, grid.n_cells))
        if not inside.any():
            return counts
        events = events.select(inside)
        # Blocks covering every event's window, from the block of the earliest start to the
        # block of the latest end.
        first = int(schedule.block_of(np.array([events.t.min()]))[0])
        last = int(schedule.block_of(np.array([events.t_end.max()]))[0])
        cover = Blocks(schedule, np.arange(first, last + 1, dtype=np.int64))
        by_block = events.aoristic_weights(cover)  # (n_events, n_blocks), rows sum to 1
        shift_of_block = scipy.sparse.csr_array(
            (np.ones(len(cover)), (np.arange(len(cover)), cover.shift)),
            shape=(len(cover), schedule.n_shifts),
        )
        by_shift = (by_block @ shift_of_block).toarray()  # (n_events, n_shifts)
        for shift in range(schedule.n_shifts):
            counts[shift] = np.bincount(
                cells[inside], weights=by_shift[:, shift], minlength=grid.n_cells
            )
        return counts

    def predict(self, blocks) -> np.ndarray:
        """Per-shift counts of every cell for every block.

        Parameters
        ----------
        blocks : Blocks
            Blocks starting at or after the origin (e.g. ``schedule.horizon(origin, "14D")``);
            their schedule defines the shifts.

        Returns
        -------
        ndarray of shape (len(blocks), grid.n_cells)
        """
        self._check_fitted()
        self._check_blocks(blocks)
        smoothing = check_share(self.smoothing, "smoothing")
        counts = self._shift_counts(blocks.schedule)
        if smoothing:
            day = counts.sum(axis=0) / blocks.schedule.n_shifts
            counts = (1.0 - smoothing) * counts + smoothing * day
        return self._checked_output(counts[blocks.shift], blocks)
