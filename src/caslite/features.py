"""Features for the risk model, computed strictly from events known before a forecast origin.

A forecast from origin ``o`` covers the blocks of a horizon (e.g. 84 four-hour blocks over 14
days). A training example mimics it exactly: (origin ``o``, block ``b`` of ``o``'s horizon,
cell ``c``), with features computed only from the events *known* before ``o``, and the target
the events in block ``b`` and cell ``c``. An event is known from its time ``t``, or, for an
uncertain time (a window ``t .. t_end``), from the end of its window, as in
:meth:`caslite.Events.before`; every time window below is measured on these known times, and a
window of ``w`` weeks before ``o`` is ``[o - w, o)``.

The features come in three groups that are cheap to combine, so that a horizon of ``B`` blocks
over ``C`` cells never recomputes anything per block:

1. **cell features** ``(n_cells, k1)``, constant over the horizon
   (:meth:`FeatureBuilder.cell_features`);
2. **shift features** ``(n_shifts, n_cells, k2)``: the cell's own time-of-day pattern
   (:meth:`FeatureBuilder.shift_features`);
3. **block features** ``(n_blocks, k3)``, the same for every cell
   (:meth:`FeatureBuilder.block_features`).

:meth:`FeatureBuilder.rows` assembles rows for any (block, cell) pairs and
:meth:`FeatureBuilder.design_matrix` all rows of a horizon, block-major.
:meth:`FeatureBuilder.origin_features` gives the cell and shift features of many origins at
once (the training origins of a model), the same values bit for bit, sharing the work between
origins.

Feature names (``{w}`` a window in weeks, ``{k}`` a ring, ``{name}`` a kernel or layer name,
``{r}`` a radius in metres, ``{col}`` a polygon attribute). The table is generated from the
feature families (:data:`FAMILIES`, one :class:`FeatureFamily` each), as are :data:`FEATURES`
and :meth:`FeatureBuilder.describe`, which lists the features of one configuration:

==============================  =====  ====================================================
name                            group  meaning
==============================  =====  ====================================================
``n_cell_{w}w``                 cell   events in the cell known in the ``w`` weeks before o
``n_ring{k}_{w}w``              cell   events in the cells at Chebyshev distance exactly
                                       ``k`` (ring 1: the 8 neighbours, ring 2: the next
                                       16; inactive or outside cells count 0), same window
``nr_{name}``                   cell   near-repeat kernel score at o
                                       (:func:`caslite.nearrepeat.score_at`)
``days_since_cell``             cell   days from the last event known in the cell to o,
                                       capped at :data:`DAYS_CAP` (3 years; never = cap)
``days_since_ring1``            cell   the same for the 8 neighbouring cells (not the cell)
``rel_cell_{w}w``               cell   ``n_cell_{w}w`` over its mean per active cell at o
                                       (0 without events): a level that transfers between
                                       quieter and busier years and shorter histories
``kde_{h}m_{w}w``               cell   events known in the ``w`` weeks before o smoothed
                                       over the raster by a Gaussian of ``h`` m (truncated
                                       at 3 ``h``; inactive cells hold no mass), over the
                                       mean count per active cell
``eb_{h}m_{w}w``                cell   events in the cell known in the ``w`` weeks before
                                       o, shrunk toward its neighbourhood (empirical Bayes,
                                       Poisson-gamma): ``(n_c + a m_c) / (1 + a)``, ``m_c``
                                       the mean count of the other active cells weighted by
                                       a Gaussian of ``h`` m, ``a`` fitted at o by the
                                       method of moments; over the mean count per active
                                       cell
``decay_cell_{h}w``             cell   events in the cell known before o, each weighted
                                       ``2^(-age / h)`` (half-life ``h`` weeks), over the
                                       mean of that sum per active cell (0 without events)
``ev_{name}_cell_{w}w``         cell   events of the event layer ``name`` (other incidents,
                                       e.g. commercial burglaries) in the cell, known in
                                       the ``w`` weeks before o
``ev_{name}_ring{k}_{w}w``      cell   the same in the cells of ring ``k``
``pt_{name}_dist``              cell   metres from the cell centre to the nearest point of
                                       the layer (NaN for an empty layer)
``pt_{name}_n{r}m``             cell   points of the layer within ``r`` m (``d <= r``) of
                                       the cell centre
``poly_{name}_cover``           cell   share of the cell square covered by the layer's
                                       polygons
``poly_{name}_{col}``           cell   area-weighted mean of ``col`` over the polygons
                                       covering the cell square (NaN if none)
``shift_n_cell_{w}w``           shift  events in the cell in this shift, known in the ``w``
                                       weeks before o (uncertain times split over shifts by
                                       their window: aoristic)
``shift_n_ring1_{w}w``          shift  the same in the 8 neighbouring cells
``shift_share_cell_{w}w``       shift  the cell's share of its events in this shift, shrunk
                                       toward the area's share ``p_s``: ``(n_cs + a p_s) /
                                       (n_c + a)``, ``a`` = ``shift_prior`` events
``shift_ratio_kde_{h}m_{w}w``   shift  the neighbourhood's share of its events in this
                                       shift over the area's: events of the ``w`` weeks
                                       before o per shift smoothed by a Gaussian of ``h``
                                       m, ``(m_cs + a p_s) / ((m_c + a) p_s)``; above 1
                                       where incidents nearby happen more often in this
                                       shift than in the whole area
``shift``                       block  shift number (0 .. n_shifts - 1)
``block_hours``                 block  length of the block in hours (3 or 5 on a DST day)
``day_of_week``                 block  local day of week of the block start (Monday = 0)
``doy_sin``                     block  sine of the local day of year of the block start on
                                       the unit circle, ``2 pi (doy - 1) / days in year``
``doy_cos``                     block  the same, cosine
``lead_days``                   block  days from o to the block start
``darkness``                    block  share of the block between civil dusk and civil dawn
                                       (sun below -6 degrees) at the grid's centre
==============================  =====  ====================================================

Examples
--------
>>> import pandas as pd
>>> from shapely.geometry import box
>>> from caslite import Events, Grid, ShiftSchedule
>>> frame = pd.DataFrame({"t": ["2024-03-01 10:00", "2024-03-08 22:00"],
...                       "x": [60.0, 190.0], "y": [60.0, 60.0]})
>>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
>>> grid = Grid.from_area(box(0, 0, 375, 375), cell_size=125.0, crs="EPSG:28992")
>>> blocks = ShiftSchedule.every(4, tz="Europe/Amsterdam").horizon("2024-03-11", "14D")
>>> X, names, block_index, cell_index = FeatureBuilder().design_matrix(
...     events, grid, blocks, origin="2024-03-11")
>>> X.shape, len(names) == X.shape[1]
((756, 56), True)
>>> int(X[0, names.index("n_cell_1w")]), int(X[0, names.index("n_ring1_1w")])
(0, 1)
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree
from sklearn.base import BaseEstimator

from caslite._core import check_events_grid, ring_sums
from caslite._solar import darkness_share
from caslite._time import DAY, HOUR, WEEK, to_utc_seconds
from caslite._validation import (
    ArgumentTypeError,
    check_bool,
    check_int,
    check_number,
    check_same_crs,
)
from caslite.nearrepeat import (
    BowersSpace,
    BowersTime,
    ExponentialSpace,
    ExponentialTime,
    _SpaceKernel,
    _TimeKernel,
    score_at,
)
from caslite.shifts import Blocks, ShiftSchedule

__all__ = ["DAYS_CAP", "FAMILIES", "FEATURES", "FeatureBuilder", "FeatureFamily", "default_kernels"]

_SMOOTH_TRUNCATE = 3.0
DAYS_CAP = 1095.0
"""Cap of the ``days_since_*`` features in days (3 years); a cell with no event gets the cap."""


def default_kernels() -> dict:
    """Return the default near-repeat kernel pairs, by feature name.

    Returns
    -------
    dict of str to (space kernel, time kernel)
        ``nr_exp100m_7d``: exponential 100 m (to 400 m) and 7 days (to 42 days);
        ``nr_exp200m_28d``: exponential 200 m (to 800 m) and 28 days (to 168 days);
        ``nr_bowers``: the prospective hot-spot weights of Bowers, Johnson & Pease (2004),
        grid form, 400 m and 8 weeks.

    Examples
    --------
    >>> list(default_kernels())
    ['nr_exp100m_7d', 'nr_exp200m_28d', 'nr_bowers']
    """
    return {
        "nr_exp100m_7d": (
            ExponentialSpace(scale=100.0, radius=400.0),
            ExponentialTime(scale_days=7.0, window_days=42.0),
        ),
        "nr_exp200m_28d": (
            ExponentialSpace(scale=200.0, radius=800.0),
            ExponentialTime(scale_days=28.0, window_days=168.0),
        ),
        "nr_bowers": (BowersSpace(form="grid"), BowersTime()),
    }


# ---------------------------------------------------------------------- feature families
class FeatureFamily:
    """One family of features: its parameters, names, meanings, checks and computation.

    :class:`FeatureBuilder` makes one instance of each class of :data:`FAMILIES` from its own
    parameters (:meth:`from_builder`, which checks them) and concatenates their columns in
    that order, group by group (cell, shift, then block features), as scikit-learn's
    ``FeatureUnion`` concatenates its transformers. A family computes its columns from the
    events known before an origin; everything that several families read (the events by
    known time, the counts per window) is shared through the origin's context.

    Attributes
    ----------
    group : {"cell", "shift", "block"}
        The group of the family's columns (see the module docstring).
    table : tuple of (str, str, str)
        One row per name pattern: the pattern, its meaning in the module's feature table
        and in :data:`FEATURES`.
    static : bool
        Cell features from the grid alone (layers), computed once per grid.
    """

    group = "cell"
    table = ()
    static = False

    @classmethod
    def from_builder(cls, builder) -> FeatureFamily:
        """Make the family from a :class:`FeatureBuilder`'s parameters, checking them."""
        raise NotImplementedError

    def rows(self) -> list[tuple[str, str]]:
        """``(name, meaning)`` of each column, in order (for :meth:`FeatureBuilder.describe`)."""
        raise NotImplementedError

    def names(self) -> list[str]:
        """Names of the family's columns, in order."""
        return [name for name, _ in self.rows()]

    def reach(self) -> float:
        """Seconds before an origin that the family reads events from."""
        return 0.0

    def prepare(self, history, grid, times, before):
        """Work shared by the origins ``times`` (e.g. kernel scores); None by default."""
        return None

    def columns(self, context, prepared, out: np.ndarray) -> None:
        """Write the family's columns at one origin into ``out``.

        ``out`` is the family's slice of the result: ``(n_chosen, k)`` for a cell family,
        ``(n_shifts, n_chosen, k)`` for a shift family, ``(n_blocks, k)`` for a block family
        (float64, ``k = len(names())``). A static family's columns are its
        ``static_columns(grid)`` (``prepared``, cached per grid) at the chosen cells.
        """
        if not self.static:
            raise NotImplementedError
        for j, column in enumerate(prepared):
            out[:, j] = column[context.pick]


class CellCounts(FeatureFamily):
    """Events in the cell over each window (``n_cell_{w}w``)."""

    table = (
        (
            "n_cell_{w}w",
            "events in the cell known in the ``w`` weeks before o",
            "events in the cell known in the w weeks before the origin",
        ),
    )

    def __init__(self, windows):
        self.windows = windows

    @classmethod
    def from_builder(cls, builder):
        return cls(_weeks(builder.windows_weeks, "windows_weeks", empty_ok=False))

    def rows(self):
        return [(f"n_cell_{_fmt(w)}w", f"events in the cell {_span(w)}") for w in self.windows]

    def reach(self):
        return max(self.windows) * WEEK

    def columns(self, context, prepared, out):
        out[:] = context.counts(self.windows)[:, context.pick].T


class RingCounts(FeatureFamily):
    """Events in the cells of each Chebyshev ring over each window (``n_ring{k}_{w}w``)."""

    table = (
        (
            "n_ring{k}_{w}w",
            "events in the cells at Chebyshev distance exactly ``k`` (ring 1: the 8 neighbours, "
            "ring 2: the next 16; inactive or outside cells count 0), same window",
            "events in the cells at Chebyshev distance exactly k, same window",
        ),
    )

    def __init__(self, windows, rings):
        self.windows, self.rings = windows, rings

    @classmethod
    def from_builder(cls, builder):
        windows = _weeks(builder.windows_weeks, "windows_weeks", empty_ok=False)
        return cls(windows, _rings(builder.rings))

    def rows(self):
        return [
            (
                f"n_ring{k}_{_fmt(w)}w",
                f"events in the cells at Chebyshev distance exactly {k} {_span(w)}",
            )
            for k in self.rings
            for w in self.windows
        ]

    def reach(self):
        return max(self.windows) * WEEK

    def columns(self, context, prepared, out):
        counts = context.counts(self.windows)
        m = len(self.windows)
        for i, ring in enumerate(_ring_sums(counts, context.grid, self.rings, context.cells)):
            out[:, i * m : (i + 1) * m] = ring.T


class NearRepeat(FeatureFamily):
    """Near-repeat kernel scores at the origin (``nr_{name}``)."""

    table = (
        (
            "nr_{name}",
            "near-repeat kernel score at o (:func:`caslite.nearrepeat.score_at`)",
            "near-repeat kernel score at the origin (caslite.nearrepeat.score_at)",
        ),
    )

    def __init__(self, kernels):
        self.kernels = kernels

    @classmethod
    def from_builder(cls, builder):
        return cls(_kernels(builder.kernels))

    def rows(self):
        return [
            (name, f"near-repeat score at the origin: {space!r} x {time!r}")
            for name, (space, time) in self.kernels.items()
        ]

    def prepare(self, history, grid, times, before):
        """Return the scores of every cell at ``times`` (one array per kernel).

        One origin (``before``) is scored as :func:`score_at` alone scores it, several at
        once by the same direct sums: the same values.
        """
        if before is not None:
            return [
                score_at(*history.all, grid, times, space=space, time=time, before=before)
                for space, time in self.kernels.values()
            ]
        return [
            score_at(*history.all, grid, times, space=space, time=time, method="direct")
            for space, time in self.kernels.values()
        ]

    def columns(self, context, prepared, out):
        for j, scores in enumerate(prepared):
            out[:, j] = scores[context.row][context.pick]


class DaysSince(FeatureFamily):
    """Days since the last event in the cell and in its neighbours."""

    table = (
        (
            "days_since_cell",
            "days from the last event known in the cell to o, capped at :data:`DAYS_CAP` "
            "(3 years; never = cap)",
            "days from the last event in the cell to the origin (capped at 3 years)",
        ),
        (
            "days_since_ring1",
            "the same for the 8 neighbouring cells (not the cell)",
            "days from the last event in the 8 neighbouring cells (capped)",
        ),
    )

    @classmethod
    def from_builder(cls, builder):
        return cls()

    def rows(self):
        return [(pattern, meaning) for pattern, _, meaning in self.table]

    def reach(self):
        return DAYS_CAP * DAY

    def columns(self, context, prepared, out):
        history, o = context.history, context.o
        last = np.full(context.n, -np.inf)
        lo, stop = history.start(o - DAYS_CAP * DAY), context.stop
        np.maximum.at(last, history.cells[lo:stop], history.times[lo:stop].astype(np.float64))
        out[:, 0] = np.minimum((o - last[context.pick]) / DAY, DAYS_CAP)
        ring1 = _ring1_max(last, context.grid, context.cells)
        out[:, 1] = np.minimum((o - ring1) / DAY, DAYS_CAP)


class RelativeLevel(FeatureFamily):
    """Events in the cell over their mean per active cell (``rel_cell_{w}w``)."""

    table = (
        (
            "rel_cell_{w}w",
            "``n_cell_{w}w`` over its mean per active cell at o (0 without events): a level "
            "that transfers between quieter and busier years and shorter histories",
            "events in the cell in the w weeks before the origin over their mean per cell",
        ),
    )

    def __init__(self, windows):
        self.windows = windows

    @classmethod
    def from_builder(cls, builder):
        return cls(_weeks(builder.relative_windows_weeks, "relative_windows_weeks", empty_ok=True))

    def rows(self):
        return [
            (
                f"rel_cell_{_fmt(w)}w",
                f"events in the cell {_span(w)}, over their mean per active cell",
            )
            for w in self.windows
        ]

    def reach(self):
        return max(self.windows, default=0) * WEEK

    def columns(self, context, prepared, out):
        history, o, n = context.history, context.o, context.n
        for j, w in enumerate(self.windows):
            counts = history.counts(history.start(o - w * WEEK), context.stop, n)
            out[:, j] = _relative(counts.astype(np.float64), context.pick)


class _BandwidthsOverWindow(FeatureFamily):
    """A family of one column per Gaussian bandwidth over the cells' counts of one window.

    Subclasses name their two builder parameters in ``params`` (bandwidths, window).
    """

    params = ("", "")

    def __init__(self, bandwidths, window):
        self.bandwidths, self.window = bandwidths, window

    @classmethod
    def from_builder(cls, builder):
        bandwidths_name, window_name = cls.params
        bandwidths = _metres(getattr(builder, bandwidths_name), bandwidths_name)
        window = (getattr(builder, window_name),)
        return cls(bandwidths, _weeks(window, window_name, empty_ok=False)[0])

    def reach(self):
        return self.window * WEEK if self.bandwidths else 0.0

    def _window_counts(self, context) -> np.ndarray:
        """Each cell's events known in the window before the origin, as floats."""
        history = context.history
        lo = history.start(context.o - self.window * WEEK)
        return history.counts(lo, context.stop, context.n).astype(np.float64)


class SmoothedLevel(_BandwidthsOverWindow):
    """Events smoothed by a Gaussian, over their mean per cell (``kde_{h}m_{w}w``)."""

    table = (
        (
            "kde_{h}m_{w}w",
            "events known in the ``w`` weeks before o smoothed over the raster by a Gaussian "
            "of ``h`` m (truncated at 3 ``h``; inactive cells hold no mass), over the mean "
            "count per active cell",
            "events of the w weeks before the origin smoothed by a Gaussian of h metres",
        ),
    )

    params = ("smooth_bandwidths", "smooth_window_weeks")

    def rows(self):
        w = self.window
        return [
            (
                f"kde_{_fmt(h)}m_{_fmt(w)}w",
                f"events {_span(w)} smoothed by a Gaussian of {_fmt(h)} m over the cells, "
                "over their mean per active cell",
            )
            for h in self.bandwidths
        ]

    def columns(self, context, prepared, out):
        if not self.bandwidths:
            return
        window_counts = self._window_counts(context)
        mean = window_counts.sum() / context.n
        for j, h in enumerate(self.bandwidths):
            smooth = _gaussian_smooth(
                window_counts, context.grid, h, context.pick_ids, context.raster_index
            )
            out[:, j] = smooth / mean if mean > 0 else smooth


class ShrunkLevel(_BandwidthsOverWindow):
    """Each cell's long-run count shrunk toward its neighbourhood (``eb_{h}m_{w}w``)."""

    table = (
        (
            "eb_{h}m_{w}w",
            "events in the cell known in the ``w`` weeks before o, shrunk toward its "
            "neighbourhood (empirical Bayes, Poisson-gamma): ``(n_c + a m_c) / (1 + a)``, "
            "``m_c`` the mean count of the other active cells weighted by a Gaussian of "
            "``h`` m, ``a`` fitted at o by the method of moments; over the mean count per "
            "active cell",
            "events in the cell in the w weeks before the origin, shrunk toward the cells "
            "around it (empirical Bayes, Gaussian neighbourhood of h metres)",
        ),
    )

    params = ("shrink_bandwidths", "shrink_window_weeks")

    def rows(self):
        w = self.window
        return [
            (
                f"eb_{_fmt(h)}m_{_fmt(w)}w",
                f"events in the cell {_span(w)} shrunk toward the cells within a Gaussian of "
                f"{_fmt(h)} m (empirical Bayes), over their mean per active cell",
            )
            for h in self.bandwidths
        ]

    def prepare(self, history, grid, times, before):
        """Return, per bandwidth, the smoothed mask of active cells and the centre weight."""
        flat = history.raster_index(grid)
        return [
            (_gaussian_smooth(np.ones(grid.n_cells), grid, h, None, flat), _centre_weight(grid, h))
            for h in self.bandwidths
        ]

    def columns(self, context, prepared, out):
        if not self.bandwidths:
            return
        counts = self._window_counts(context)
        for j, (h, (mass, centre)) in enumerate(zip(self.bandwidths, prepared, strict=True)):
            smooth = _gaussian_smooth(counts, context.grid, h, None, context.raster_index)
            shrunk = _shrunk_level(counts, smooth, mass, centre)
            out[:, j] = _relative_to(shrunk[context.pick], counts)


class DecayedLevel(FeatureFamily):
    """Events in the cell weighted by an exponential decay of their age (``decay_cell_{h}w``)."""

    table = (
        (
            "decay_cell_{h}w",
            "events in the cell known before o, each weighted ``2^(-age / h)`` (half-life "
            "``h`` weeks), over the mean of that sum per active cell (0 without events)",
            "events in the cell before the origin weighted by an exponential decay of their "
            "age (half-life h weeks), over the mean per cell",
        ),
    )

    def __init__(self, half_lives):
        self.half_lives = half_lives

    @classmethod
    def from_builder(cls, builder):
        return cls(_weeks(builder.decay_half_lives_weeks, "decay_half_lives_weeks", empty_ok=True))

    def rows(self):
        return [
            (
                f"decay_cell_{_fmt(h)}w",
                f"events in the cell before the origin weighted by a decay of half-life "
                f"{_fmt(h)} weeks, over their mean per active cell",
            )
            for h in self.half_lives
        ]

    def reach(self):
        return np.inf if self.half_lives else 0.0

    def columns(self, context, prepared, out):
        history, n = context.history, context.n
        if not self.half_lives:
            return
        cells = history.cells[: context.stop]
        age = (context.o - history.times[: context.stop]).astype(np.float64) / WEEK
        for j, h in enumerate(self.half_lives):
            decayed = np.bincount(cells, weights=np.exp2(-age / h), minlength=n)
            out[:, j] = _relative(decayed, context.pick)


class EventLayers(FeatureFamily):
    """Other incidents counted in the cell and its rings (``ev_{name}_*``)."""

    table = (
        (
            "ev_{name}_cell_{w}w",
            "events of the event layer ``name`` (other incidents, e.g. commercial "
            "burglaries) in the cell, known in the ``w`` weeks before o",
            "events of the event layer in the cell in the w weeks before the origin",
        ),
        (
            "ev_{name}_ring{k}_{w}w",
            "the same in the cells of ring ``k``",
            "events of the event layer in the cells of ring k, same window",
        ),
    )

    def __init__(self, layers, windows, rings):
        self.layers, self.windows, self.rings = layers, windows, rings

    @classmethod
    def from_builder(cls, builder):
        layers = _event_layers(builder.event_layers)
        windows = _weeks(builder.event_windows_weeks, "event_windows_weeks", empty_ok=True)
        return cls(layers, windows, _rings(builder.rings))

    def rows(self):
        rows = []
        for name in self.layers:
            for w in self.windows:
                meaning = f"events of the layer {name!r} in the cell {_span(w)}"
                rows.append((f"ev_{name}_cell_{_fmt(w)}w", meaning))
            for k in self.rings:
                for w in self.windows:
                    meaning = (
                        f"events of the layer {name!r} in the cells at Chebyshev distance "
                        f"exactly {k} {_span(w)}"
                    )
                    rows.append((f"ev_{name}_ring{k}_{_fmt(w)}w", meaning))
        return rows

    def check(self, grid) -> None:
        """Refuse a layer whose CRS is not the grid's."""
        for name, layer in self.layers.items():
            check_same_crs(layer.crs, grid.crs, f"event layer {name!r}", "the grid")

    def prepare(self, history, grid, times, before):
        """Each layer's incidents by known time, in cells, once for all ``times``."""
        self.check(grid)
        reach = max(self.windows, default=0) * WEEK
        since, until = int(np.min(times)) - reach, int(np.max(times))
        return {name: _History(layer, grid, since, until) for name, layer in self.layers.items()}

    def columns(self, context, prepared, out):
        o, m = context.o, len(self.windows)
        j = 0
        for name in self.layers:
            layer = prepared[name]
            stop = layer.stop(o)
            counts = np.empty((m, context.width), dtype=np.float64)
            for i, w in enumerate(self.windows):
                counts[i] = layer.counts(layer.start(o - w * WEEK), stop, context.width)
            out[:, j : j + m] = counts[:, context.pick].T
            j += m
            for ring in _ring_sums(counts, context.grid, self.rings, context.cells):
                out[:, j : j + m] = ring.T
                j += m


class PointLayers(FeatureFamily):
    """Distance to and count of the points of each point layer (``pt_{name}_*``)."""

    static = True
    table = (
        (
            "pt_{name}_dist",
            "metres from the cell centre to the nearest point of the layer (NaN for an empty "
            "layer)",
            "metres from the cell centre to the nearest point of the layer",
        ),
        (
            "pt_{name}_n{r}m",
            "points of the layer within ``r`` m (``d <= r``) of the cell centre",
            "points of the layer within r metres of the cell centre",
        ),
    )

    def __init__(self, layers, radii):
        self.layers, self.radii = layers, radii

    @classmethod
    def from_builder(cls, builder):
        radii = _radii(builder.point_radii)
        return cls(_point_layers(builder.point_layers), radii)

    def rows(self):
        rows = []
        for name in self.layers:
            rows.append((f"pt_{name}_dist", f"metres to the nearest point of {name!r}"))
            for r in self.radii:
                meaning = f"points of {name!r} within {_fmt(r)} m of the cell centre"
                rows.append((f"pt_{name}_n{_fmt(r)}m", meaning))
        return rows

    def key(self):
        """Return what the columns depend on besides the grid (the builder's cache key)."""
        return tuple((k, id(v)) for k, v in self.layers.items()), self.radii

    def static_columns(self, grid) -> list[np.ndarray]:
        columns = []
        for name, layer in self.layers.items():
            columns += _point_columns(layer, name, grid, self.radii)
        return columns


class PolygonLayers(FeatureFamily):
    """Cover and area-weighted attributes of each polygon layer (``poly_{name}_*``)."""

    static = True
    table = (
        (
            "poly_{name}_cover",
            "share of the cell square covered by the layer's polygons",
            "share of the cell square covered by the layer's polygons",
        ),
        (
            "poly_{name}_{col}",
            "area-weighted mean of ``col`` over the polygons covering the cell square (NaN if "
            "none)",
            "area-weighted mean of column col over the polygons covering the cell",
        ),
    )

    def __init__(self, layers):
        self.layers = layers

    @classmethod
    def from_builder(cls, builder):
        return cls(_polygon_layers(builder.polygon_layers))

    def rows(self):
        rows = []
        for name, (_, columns) in self.layers.items():
            meaning = f"share of the cell square covered by polygons of {name!r}"
            rows.append((f"poly_{name}_cover", meaning))
            for c in columns:
                meaning = f"area-weighted mean of {c!r} over the polygons of {name!r}"
                rows.append((f"poly_{name}_{c}", meaning))
        return rows

    def key(self):
        """Return what the columns depend on besides the grid (the builder's cache key)."""
        return tuple((k, id(v[0]), tuple(v[1])) for k, v in self.layers.items())

    def static_columns(self, grid) -> list[np.ndarray]:
        columns = []
        for name, (layer, names) in self.layers.items():
            columns += _polygon_columns(layer, name, names, grid)
        return columns


class ShiftCounts(FeatureFamily):
    """Events per shift in the cell and its 8 neighbours (``shift_n_*``)."""

    group = "shift"
    table = (
        (
            "shift_n_cell_{w}w",
            "events in the cell in this shift, known in the ``w`` weeks before o (uncertain "
            "times split over shifts by their window: aoristic)",
            "events in the cell in this shift in the w weeks before the origin",
        ),
        (
            "shift_n_ring1_{w}w",
            "the same in the 8 neighbouring cells",
            "events in the 8 neighbouring cells in this shift, same window",
        ),
    )

    def __init__(self, windows):
        self.windows = windows

    @classmethod
    def from_builder(cls, builder):
        return cls(_weeks(builder.shift_windows_weeks, "shift_windows_weeks", empty_ok=True))

    def rows(self):
        rows = []
        for where, label in (("cell", "the cell"), ("ring1", "the 8 neighbouring cells")):
            for w in self.windows:
                meaning = f"events in {label} in the block's shift {_span(w)}"
                rows.append((f"shift_n_{where}_{_fmt(w)}w", meaning))
        return rows

    def reach(self):
        return max(self.windows, default=0) * WEEK

    def columns(self, context, prepared, out):
        if not self.windows:
            return
        counts, padded = context.shift_counts(self.windows)
        k, n_shifts, size = len(self.windows), counts.shape[1], context.size
        ring1 = _ring_sums(padded.reshape(-1, padded.shape[2]), context.grid, (1,), context.cells)
        out[:, :, :k] = counts[:, :, context.pick].transpose(1, 2, 0)
        out[:, :, k:] = ring1[0].reshape(k, n_shifts, size).transpose(1, 2, 0)


class ShiftShares(FeatureFamily):
    """The cell's share of its events in each shift, shrunk (``shift_share_cell_{w}w``)."""

    group = "shift"
    table = (
        (
            "shift_share_cell_{w}w",
            "the cell's share of its events in this shift, shrunk toward the area's share "
            "``p_s``: ``(n_cs + a p_s) / (n_c + a)``, ``a`` = ``shift_prior`` events",
            "the cell's share of events in this shift, shrunk to the area's",
        ),
    )

    def __init__(self, windows, prior):
        self.windows, self.prior = windows, prior

    @classmethod
    def from_builder(cls, builder):
        windows = _weeks(builder.shift_windows_weeks, "shift_windows_weeks", empty_ok=True)
        return cls(windows, _shift_prior(builder.shift_prior))

    def rows(self):
        if self.prior is None:
            return []
        return [
            (
                f"shift_share_cell_{_fmt(w)}w",
                f"share of the cell's events {_span(w)} that fall in the block's shift, "
                f"shrunk toward the area's share by {_fmt(self.prior)} prior events",
            )
            for w in self.windows
        ]

    def reach(self):
        return max(self.windows, default=0) * WEEK

    def columns(self, context, prepared, out):
        if self.prior is None or not self.windows:
            return
        counts, _ = context.shift_counts(self.windows)
        out[:] = _shrunk_shares(counts, self.prior, context.pick_ids).transpose(1, 2, 0)


class ShiftRatios(FeatureFamily):
    """The neighbourhood's shift profile over the area's (``shift_ratio_kde_{h}m_{w}w``)."""

    group = "shift"
    table = (
        (
            "shift_ratio_kde_{h}m_{w}w",
            "the neighbourhood's share of its events in this shift over the area's: events of "
            "the ``w`` weeks before o per shift smoothed by a Gaussian of ``h`` m, ``(m_cs + "
            "a p_s) / ((m_c + a) p_s)``; above 1 where incidents nearby happen more often in "
            "this shift than in the whole area",
            "the neighbourhood's share of events in this shift (Gaussian of h metres, w weeks) "
            "over the area's share",
        ),
    )

    def __init__(self, bandwidths, window, prior):
        self.bandwidths, self.window, self.prior = bandwidths, window, prior

    @classmethod
    def from_builder(cls, builder):
        bandwidths = _metres(builder.shift_smooth_bandwidths, "shift_smooth_bandwidths")
        window = (builder.shift_smooth_window_weeks,)
        window = _weeks(window, "shift_smooth_window_weeks", empty_ok=False)[0]
        return cls(bandwidths, window, _shift_prior(builder.shift_prior))

    def rows(self):
        w = self.window
        return [
            (
                f"shift_ratio_kde_{_fmt(h)}m_{_fmt(w)}w",
                f"share of the events {_span(w)} near the cell (Gaussian of {_fmt(h)} m) "
                f"that fall in the block's shift, over the area's share",
            )
            for h in self.bandwidths
        ]

    def reach(self):
        return self.window * WEEK if self.bandwidths else 0.0

    def columns(self, context, prepared, out):
        if not self.bandwidths:
            return
        history, n = context.history, context.n
        weights = context.shift_weights()
        lo, stop = history.start(context.o - self.window * WEEK), context.stop
        per_shift = np.stack(
            [
                np.bincount(history.cells[lo:stop], weights=weights[lo:stop, s], minlength=n)
                for s in range(context.n_shifts)
            ]
        )
        prior = 0.0 if self.prior is None else self.prior
        for j, h in enumerate(self.bandwidths):
            smooth = _gaussian_smooth(per_shift, context.grid, h, None, context.raster_index)
            out[:, :, j] = _shift_ratios(smooth, per_shift.sum(axis=1), prior, context.pick_ids)


class BlockCalendar(FeatureFamily):
    """Shift, length, day of week, season and lead time of each block."""

    group = "block"
    table = (
        (
            "shift",
            "shift number (0 .. n_shifts - 1)",
            "shift number of the block (0 .. n_shifts - 1)",
        ),
        (
            "block_hours",
            "length of the block in hours (3 or 5 on a DST day)",
            "length of the block in hours",
        ),
        (
            "day_of_week",
            "local day of week of the block start (Monday = 0)",
            "local day of week of the block start (Monday = 0)",
        ),
        (
            "doy_sin",
            "sine of the local day of year of the block start on the unit circle, "
            "``2 pi (doy - 1) / days in year``",
            "sine of the local day of year of the block start (2 pi (doy - 1) / year)",
        ),
        (
            "doy_cos",
            "the same, cosine",
            "cosine of the local day of year of the block start",
        ),
        ("lead_days", "days from o to the block start", "days from the origin to the block start"),
    )

    @classmethod
    def from_builder(cls, builder):
        return cls()

    def rows(self):
        return [(pattern, meaning) for pattern, _, meaning in self.table]

    def columns(self, context, prepared, out):
        blocks, local = context.blocks, context.local
        year_days = np.where(local.is_leap_year, 366.0, 365.0)
        angle = 2.0 * np.pi * (local.day_of_year.to_numpy() - 1) / year_days
        out[:, 0] = blocks.shift.astype(np.float64)
        out[:, 1] = (blocks.end - blocks.start) / float(HOUR)
        out[:, 2] = local.day_of_week.to_numpy(dtype=np.float64)
        out[:, 3] = np.sin(angle)
        out[:, 4] = np.cos(angle)
        out[:, 5] = (blocks.start - context.o) / DAY


class Darkness(FeatureFamily):
    """Share of each block between civil dusk and dawn (``darkness``)."""

    group = "block"
    table = (
        (
            "darkness",
            "share of the block between civil dusk and civil dawn (sun below -6 degrees) at "
            "the grid's centre",
            "share of the block between civil dusk and civil dawn (sun below -6 degrees)",
        ),
    )

    def __init__(self, on):
        self.on = on

    @classmethod
    def from_builder(cls, builder):
        return cls(check_bool(builder.darkness, "darkness"))

    def rows(self):
        return [(pattern, meaning) for pattern, _, meaning in self.table] if self.on else []

    def columns(self, context, prepared, out):
        if self.on:
            if context.darkness is not None:  # computed once for the blocks of many origins
                out[:, 0] = context.darkness
                return
            lon, lat = _lon_lat_centre(context.grid)
            blocks = context.blocks
            out[:, 0] = darkness_share(blocks.start, blocks.end, lon, lat)


FAMILIES = (
    CellCounts,
    RingCounts,
    NearRepeat,
    DaysSince,
    RelativeLevel,
    SmoothedLevel,
    ShrunkLevel,
    DecayedLevel,
    EventLayers,
    PointLayers,
    PolygonLayers,
    ShiftCounts,
    ShiftShares,
    ShiftRatios,
    BlockCalendar,
    Darkness,
)
"""The feature families of :class:`FeatureBuilder`, in column order within each group."""


def _feature_table(families=FAMILIES) -> str:
    """Return the families' feature table as reStructuredText (the module docstring's)."""
    import textwrap

    rule = "=" * 30 + "  " + "=" * 5 + "  " + "=" * 52
    lines = [rule, f"{'name':<30}  {'group':<5}  meaning", rule]
    for family in families:
        for pattern, meaning, _ in family.table:
            wrapped = textwrap.wrap(meaning, 52, break_long_words=False, break_on_hyphens=False)
            lines.append(f"{'``' + pattern + '``':<30}  {family.group:<5}  {wrapped[0]}")
            lines += [" " * 39 + line for line in wrapped[1:]]
    return "\n".join([*lines, rule])


FEATURES = {pattern: meaning for family in FAMILIES for pattern, _, meaning in family.table}
"""Feature name patterns and their meanings (see the module docstring), from :data:`FAMILIES`."""


class FeatureBuilder(BaseEstimator):
    """Build the risk model's features from the events known before a forecast origin.

    The builder only stores its parameters; every method recomputes from the data it is
    given (static layers are cached per grid). See the module docstring for the table of
    features.

    Parameters
    ----------
    windows_weeks : sequence of float, default (1, 2, 4, 8, 26, 52, 104, 156, 208)
        Count windows in weeks before the origin.
    rings : sequence of int, default (1, 2)
        Chebyshev rings of neighbouring cells counted over the same windows.
    kernels : "default", dict, sequence of pairs or None, default "default"
        Near-repeat kernel pairs: ``"default"`` (:func:`default_kernels`), a dict of feature
        name (``"nr_..."``) to ``(space, time)``, a sequence of ``(space, time)`` pairs
        (named ``nr_0``, ``nr_1``, ...), or None for none.
    shift_windows_weeks : sequence of float, default (8, 26, 52)
        Windows in weeks of the per-shift counts.
    darkness : bool, default True
        Whether to add the ``darkness`` block feature.
    point_layers : dict of str to GeoDataFrame, optional
        Point layers (e.g. highway ramps) by name, in the grid's CRS.
    event_layers : dict of str to Events, optional
        Other incidents by name (e.g. commercial burglaries, thefts from cars), in the grid's
        CRS: where they happen tells where the forecast incidents can (the streets and
        buildings of an area, its mixed use). A layer may also be one category of the
        incidents forecast (:func:`category_layers`, e.g. the burglaries of apartments
        among all residential ones). Counted like the incidents, in the cell and
        its rings over ``event_windows_weeks``, from those known before the origin only. Give
        each layer's incidents up to the latest origin you forecast from; later ones are
        never read.
    event_windows_weeks : sequence of float, default (52, 208)
        Windows in weeks of the ``ev_{name}_*`` counts.
    point_radii : sequence of float, default (250.0, 500.0)
        Radii in metres of the ``pt_{name}_n{r}m`` counts.
    polygon_layers : dict of str to (GeoDataFrame, list of str), optional
        Polygon layers (e.g. neighbourhood statistics) by name, each with the numeric columns
        to average over the cell squares; in the grid's CRS.
    relative_windows_weeks : sequence of float, default (52, 104, 208, 520)
        Windows in weeks of the ``rel_cell_{w}w`` features (counts over their mean per cell);
        the long ones act as "all history" and transfer across years of different levels.
    smooth_bandwidths : sequence of float, default (100.0, 250.0, 500.0)
        Gaussian bandwidths in metres of the ``kde_{h}m_{w}w`` features (empty for none).
    smooth_window_weeks : float, default 520
        Window in weeks of the events smoothed for the ``kde_*`` features.
    shift_prior : float or None, default 10.0
        Prior strength in events of the ``shift_share_cell_{w}w`` features (one per shift
        window) and of the ``shift_ratio_kde_*`` features; None for no ``shift_share_cell``
        features (the ratios are then unshrunk).
    shift_smooth_bandwidths : sequence of float, default (1000.0,)
        Gaussian bandwidths in metres of the ``shift_ratio_kde_{h}m_{w}w`` features: the time-of-day
        profile of a neighbourhood (empty for none). A cell's own shift shares rarely carry
        into the next weeks, but the profile of its surroundings does (residential streets
        and busy centres differ in when they are burgled).
    shift_smooth_window_weeks : float, default 208
        Window in weeks of the events smoothed for the ``shift_ratio_kde_*`` features.
    shrink_bandwidths : sequence of float, default ()
        Gaussian bandwidths in metres of the neighbourhoods of the ``eb_{h}m_{w}w``
        features (empty for none): each cell's count over ``shrink_window_weeks`` shrunk
        toward the Gaussian-weighted mean count of the other cells around it, by empirical
        Bayes (a Poisson count with a gamma prior around the neighbourhood's mean, whose
        strength is fitted at each origin by the method of moments from the spread of the
        counts about their neighbourhoods), over the mean count per active cell. Where cells
        are few events apart from their neighbours, the level leans on the neighbourhood;
        where they differ far beyond Poisson noise, on the cell's own count.
    shrink_window_weeks : float, default 520
        Window in weeks of the counts shrunk for the ``eb_*`` features.
    decay_half_lives_weeks : sequence of float, default ()
        Half-lives in weeks of the ``decay_cell_{h}w`` features (empty for none): every
        event in the cell known before the origin, weighted ``2 ** (-age / h)`` (age in
        weeks), over the mean of that sum per active cell; a long memory that still favours
        the recent years (e.g. ``(52, 104, 208)``).

    Attributes
    ----------
    feature_names_ : list of str
        Names of the design-matrix columns: cell, then shift, then block features.
    cell_feature_names_, shift_feature_names_, block_feature_names_ : list of str
        The names of each group. All name lists follow from the parameters alone.

    Examples
    --------
    >>> builder = FeatureBuilder(windows_weeks=(4, 52), rings=(1,), kernels=None,
    ...                          shift_windows_weeks=(52,), relative_windows_weeks=(),
    ...                          smooth_bandwidths=(), shift_prior=None,
    ...                          shift_smooth_bandwidths=())
    >>> builder.feature_names_
    ['n_cell_4w', 'n_cell_52w', 'n_ring1_4w', 'n_ring1_52w', 'days_since_cell', \
'days_since_ring1', 'shift_n_cell_52w', 'shift_n_ring1_52w', 'shift', 'block_hours', \
'day_of_week', 'doy_sin', 'doy_cos', 'lead_days', 'darkness']
    """

    def __init__(
        self,
        *,
        windows_weeks=(1, 2, 4, 8, 26, 52, 104, 156, 208),
        rings=(1, 2),
        kernels="default",
        shift_windows_weeks=(8, 26, 52),
        darkness=True,
        point_layers=None,
        point_radii=(250.0, 500.0),
        polygon_layers=None,
        event_layers=None,
        event_windows_weeks=(52, 208),
        relative_windows_weeks=(52, 104, 208, 520),
        smooth_bandwidths=(100.0, 250.0, 500.0),
        smooth_window_weeks=520,
        shift_prior=10.0,
        shift_smooth_bandwidths=(1000.0,),
        shift_smooth_window_weeks=208,
        shrink_bandwidths=(),
        shrink_window_weeks=520,
        decay_half_lives_weeks=(),
    ):
        self.windows_weeks = windows_weeks
        self.rings = rings
        self.kernels = kernels
        self.shift_windows_weeks = shift_windows_weeks
        self.darkness = darkness
        self.point_layers = point_layers
        self.point_radii = point_radii
        self.polygon_layers = polygon_layers
        self.event_layers = event_layers
        self.event_windows_weeks = event_windows_weeks
        self.relative_windows_weeks = relative_windows_weeks
        self.smooth_bandwidths = smooth_bandwidths
        self.smooth_window_weeks = smooth_window_weeks
        self.shift_prior = shift_prior
        self.shift_smooth_bandwidths = shift_smooth_bandwidths
        self.shift_smooth_window_weeks = shift_smooth_window_weeks
        self.shrink_bandwidths = shrink_bandwidths
        self.shrink_window_weeks = shrink_window_weeks
        self.decay_half_lives_weeks = decay_half_lives_weeks

    # ------------------------------------------------------------------ names
    def _families(self, group: str) -> list[FeatureFamily]:
        """Return the families of one group, made from the parameters (which they check)."""
        return [family.from_builder(self) for family in FAMILIES if family.group == group]

    @property
    def cell_feature_names_(self) -> list[str]:
        """Names of the cell features, in column order."""
        return [name for family in self._families("cell") for name in family.names()]

    @property
    def shift_feature_names_(self) -> list[str]:
        """Names of the shift features, in column order."""
        return [name for family in self._families("shift") for name in family.names()]

    @property
    def block_feature_names_(self) -> list[str]:
        """Names of the block features, in column order."""
        return [name for family in self._families("block") for name in family.names()]

    @property
    def feature_names_(self) -> list[str]:
        """Names of the design-matrix columns: cell, shift, then block features."""
        return self.cell_feature_names_ + self.shift_feature_names_ + self.block_feature_names_

    def describe(self) -> pd.DataFrame:
        """Return the features of this configuration with their group and meaning.

        Returns
        -------
        pandas.DataFrame
            Columns ``name``, ``group`` (cell, shift or block) and ``meaning``, one row per
            design-matrix column in order.

        Examples
        --------
        >>> FeatureBuilder().describe().set_index("name").loc["n_ring2_8w", "meaning"]
        'events in the cells at Chebyshev distance exactly 2 in the 8 weeks before the origin'
        """
        rows = [
            (name, group, meaning)
            for group in ("cell", "shift", "block")
            for family in self._families(group)
            for name, meaning in family.rows()
        ]
        return pd.DataFrame(rows, columns=["name", "group", "meaning"])

    # ------------------------------------------------------------------ JSON form
    def to_dict(self) -> dict:
        """Return the builder's stored form: its parameters, for model files.

        :func:`caslite._forms.encode` turns the parameters (tuples, dicts, near-repeat
        kernels) into JSON values. Static layers (GeoDataFrames) and event layers (incidents)
        are not stored: a builder with them is refused.

        Returns
        -------
        dict
            ``{"params": get_params(deep=False)}``.

        Raises
        ------
        TypeError
            If the builder has point, polygon or event layers.

        Examples
        --------
        >>> data = FeatureBuilder(windows_weeks=(4, 52)).to_dict()
        >>> FeatureBuilder.from_dict(data).windows_weeks
        (4, 52)
        """
        params = self.get_params(deep=False)
        for layers in ("point_layers", "polygon_layers"):
            if params[layers]:
                raise TypeError(
                    f"the feature builder has {layers}; static layers (GeoDataFrames) are not "
                    "stored in caslite files. Save a model without them, or keep the layers "
                    "and refit."
                )
        if params["event_layers"]:
            raise TypeError(
                "the feature builder has event_layers; their incidents are not stored in "
                "caslite files. Save a model without them, or keep the layers and refit."
            )
        return {"params": params}

    @classmethod
    def from_dict(cls, data) -> FeatureBuilder:
        """Rebuild a builder from :meth:`to_dict`'s form.

        Parameters
        ----------
        data : dict
            ``{"params": ...}``, the builder's parameters.

        Returns
        -------
        FeatureBuilder

        Raises
        ------
        ValueError
            If ``data`` is not that form.
        """
        if not isinstance(data, dict) or not isinstance(data.get("params"), dict):
            raise ValueError(f"not the stored form of a FeatureBuilder: {data!r:.80}")
        return cls(**data["params"])

    # ------------------------------------------------------------------ cell features
    def cell_features(self, events, grid, origin) -> pd.DataFrame:
        """Features of every active cell, constant over the horizon of ``origin``.

        Parameters
        ----------
        events : caslite.Events
            All incidents; only those known before ``origin`` are read. Events outside the
            grid count in no cell but feed the kernel scores.
        grid : caslite.Grid
            The cells; its CRS must equal the events' (and the layers').
        origin : int, str or datetime
            Forecast origin: int64 UTC seconds, or a time (naive: local time of the events).

        Returns
        -------
        pandas.DataFrame
            Shape ``(grid.n_cells, len(cell_feature_names_))``, float64, indexed by cell id.

        Raises
        ------
        ValueError
            If the CRSs of events, grid and layers differ.

        Examples
        --------
        >>> import pandas as pd
        >>> from shapely.geometry import box
        >>> from caslite import Events, Grid
        >>> frame = pd.DataFrame({"t": ["2024-03-01 10:00", "2024-03-12 10:00"],
        ...                       "x": [60.0, 60.0], "y": [60.0, 60.0]})
        >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
        >>> grid = Grid.from_area(box(0, 0, 250, 125), cell_size=125.0, crs="EPSG:28992")
        >>> cells = FeatureBuilder(windows_weeks=(2,), kernels=None).cell_features(
        ...     events, grid, origin="2024-03-11")
        >>> cells[["n_cell_2w", "n_ring1_2w", "days_since_cell"]].round(2).to_dict("list")
        {'n_cell_2w': [1.0, 0.0], 'n_ring1_2w': [0.0, 1.0], 'days_since_cell': [9.58, 1095.0]}
        """
        families = self._families("cell")
        check_events_grid(events, grid)
        o = _origin_seconds(origin, events.tz)
        history = _History(events, grid, _reach(families, DAYS_CAP * DAY, o), o)
        times = np.array([o])
        prepared = self._prepare(families, history, grid, times, o)
        widths = [len(family.names()) for family in families]
        data = self._cell_values(families, prepared, _Origin(history, grid, o, None), widths)
        return pd.DataFrame(
            data,
            columns=self.cell_feature_names_,
            index=pd.RangeIndex(grid.n_cells, name="cell_id"),
        )

    def _prepare(self, families, history, grid, times, before) -> list:
        """Return what each family shares between the origins ``times`` (static: per grid)."""
        static = iter(self._static_parts(grid, families))
        return [
            next(static) if family.static else family.prepare(history, grid, times, before)
            for family in families
        ]

    def _cell_values(self, families, prepared, context, widths) -> np.ndarray:
        """Cell features of one origin: the families' columns side by side."""
        out = np.empty((context.size, sum(widths)), dtype=np.float64)
        j = 0
        for family, state, k in zip(families, prepared, widths, strict=True):
            family.columns(context, state, out[:, j : j + k])
            j += k
        return out

    def static_features(self, grid) -> pd.DataFrame:
        """Point- and polygon-layer features of every active cell (cached per grid).

        Parameters
        ----------
        grid : caslite.Grid
            The cells; its CRS must equal every layer's.

        Returns
        -------
        pandas.DataFrame
            The ``pt_*`` and ``poly_*`` columns (none without layers), indexed by cell id.

        Raises
        ------
        ValueError
            On a layer without a CRS or with another CRS than the grid, a point layer with
            non-point geometries, a polygon layer with non-polygons, or a missing or
            non-numeric attribute column.

        Examples
        --------
        >>> import geopandas, shapely
        >>> from caslite import Grid
        >>> grid = Grid.from_area(shapely.box(0, 0, 250, 125), cell_size=125.0,
        ...                       crs="EPSG:28992")
        >>> ramps = geopandas.GeoDataFrame(geometry=[shapely.Point(62.5, 162.5)],
        ...                                crs="EPSG:28992")
        >>> builder = FeatureBuilder(point_layers={"ramps": ramps}, point_radii=(150,))
        >>> builder.static_features(grid).round(1).to_dict("list")
        {'pt_ramps_dist': [100.0, 160.1], 'pt_ramps_n150m': [1.0, 0.0]}
        """
        columns = self._static_columns(grid)
        names = [n for family in self._families("cell") if family.static for n in family.names()]
        data = np.column_stack(columns) if columns else np.empty((grid.n_cells, 0))
        return pd.DataFrame(data, columns=names, index=pd.RangeIndex(grid.n_cells, name="cell_id"))

    def _static_columns(self, grid) -> list[np.ndarray]:
        """Return the columns of the static families (point and polygon layers)."""
        return [c for part in self._static_parts(grid, self._families("cell")) for c in part]

    def _static_parts(self, grid, families) -> list[list[np.ndarray]]:
        """Each static family's columns, cached per grid and layers."""
        static = [family for family in families if family.static]
        if not any(family.names() for family in static):
            return [[] for _ in static]
        key = (id(grid), tuple(family.key() for family in static))
        cache = getattr(self, "_static_cache", None)
        if cache is not None and cache[0] == key:
            return [list(part) for part in cache[2]]
        parts = [family.static_columns(grid) for family in static]
        # Keep the grid and layers referenced so that their ids are not reused.
        self._static_cache = (key, (grid, [vars(family) for family in static]), parts)
        return [list(part) for part in parts]

    # ------------------------------------------------------------------ shift features
    def shift_features(self, events, grid, schedule, origin) -> tuple[np.ndarray, list[str]]:
        """Per-shift event counts of every active cell and its ring-1 neighbours.

        An exact event counts 1 in the shift of its block
        (``schedule.shift_of(schedule.block_of(t))``); an event with an uncertain time spreads
        its 1 over the shifts its window overlaps, in proportion to the overlap (aoristic
        weights). Windows are measured on known times as for the cell features.

        Parameters
        ----------
        events : caslite.Events
            All incidents; only those known before ``origin`` are read.
        grid : caslite.Grid
            The cells; its CRS must equal the events'.
        schedule : caslite.ShiftSchedule
            The shifts.
        origin : int, str or datetime
            Forecast origin (naive: local time of the schedule).

        Returns
        -------
        features : ndarray of shape (n_shifts, n_cells, n_features)
            float64, ``n_features = len(shift_feature_names_)``.
        names : list of str
            ``shift_feature_names_``.

        Examples
        --------
        >>> import pandas as pd
        >>> from shapely.geometry import box
        >>> from caslite import Events, Grid, ShiftSchedule
        >>> frame = pd.DataFrame({"t": ["2024-03-01 23:30", "2024-03-02 03:00"],
        ...                       "x": [60.0, 60.0], "y": [60.0, 60.0]})
        >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
        >>> grid = Grid.from_area(box(0, 0, 125, 125), cell_size=125.0, crs="EPSG:28992")
        >>> schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz="Europe/Amsterdam")
        >>> builder = FeatureBuilder(shift_windows_weeks=(8,), shift_prior=None,
        ...                          shift_smooth_bandwidths=())
        >>> feats, names = builder.shift_features(events, grid, schedule, origin="2024-03-11")
        >>> names, feats[:, 0, 0].tolist()  # both in the 23-07 shift
        (['shift_n_cell_8w', 'shift_n_ring1_8w'], [0.0, 0.0, 2.0])
        """
        families = self._families("shift")
        names = self.shift_feature_names_
        check_events_grid(events, grid)
        if not isinstance(schedule, ShiftSchedule):
            raise TypeError(f"schedule must be a ShiftSchedule, got {type(schedule).__name__}.")
        o = _origin_seconds(origin, schedule.tz)
        if not names:
            return np.zeros((schedule.n_shifts, grid.n_cells, 0)), names
        history = _History(events, grid, _reach(families, 0.0, o), o)
        prepared = [family.prepare(history, grid, np.array([o]), o) for family in families]
        context = _Origin(history, grid, o, None, schedule=schedule)
        widths = [len(family.names()) for family in families]
        return self._shift_values(families, prepared, context, widths), names

    def _shift_values(self, families, prepared, context, widths) -> np.ndarray:
        """Shift features of one origin: the families' columns side by side."""
        out = np.empty((context.n_shifts, context.size, sum(widths)), dtype=np.float64)
        j = 0
        for family, state, k in zip(families, prepared, widths, strict=True):
            family.columns(context, state, out[:, :, j : j + k])
            j += k
        return out

    # ------------------------------------------------------------------ many origins
    def origin_features(self, events, grid, schedule, origins, *, cells=None):
        """Cell and shift features at many origins, sharing the work between them.

        The same values as :meth:`cell_features` and :meth:`shift_features` at each origin
        (bit for bit), at a fraction of the cost of calling them one origin at a time: the
        events are sorted by known time and placed in cells once, the shift weights and the
        near-repeat footprints computed once, and each origin only searches its windows.

        Parameters
        ----------
        events : caslite.Events
            All incidents; at each origin, only those known before it are read.
        grid : caslite.Grid
            The cells; its CRS must equal the events' (and the layers').
        schedule : caslite.ShiftSchedule
            The shifts.
        origins : array-like of int, str or datetime
            Forecast origins in any order (naive: local time of the events for the cell
            features, of the schedule for the shift features).
        cells : sequence of array-like of int, optional
            One array of cell ids per origin: the rows to return at that origin, in the order
            given (e.g. the cells of a model's training rows). Default all active cells.

        Yields
        ------
        cell_feats : ndarray of shape (n_cells, len(``cell_feature_names_``))
            ``cell_features(events, grid, origin).to_numpy()`` (its rows ``cells[i]`` with
            ``cells``).
        shift_feats : ndarray of shape (n_shifts, n_cells, len(``shift_feature_names_``))
            ``shift_features(events, grid, schedule, origin)[0]`` (its columns ``cells[i]``
            with ``cells``).
            One pair per origin, in the order of ``origins``.

        Raises
        ------
        ValueError
            If the CRSs differ, ``cells`` does not give one array per origin, or a cell id is
            out of range.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from shapely.geometry import box
        >>> from caslite import Events, Grid, ShiftSchedule
        >>> frame = pd.DataFrame({"t": ["2024-03-01 10:00", "2024-03-08 22:00"],
        ...                       "x": [60.0, 190.0], "y": [60.0, 60.0]})
        >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
        >>> grid = Grid.from_area(box(0, 0, 375, 375), cell_size=125.0, crs="EPSG:28992")
        >>> schedule = ShiftSchedule.every(4, tz="Europe/Amsterdam")
        >>> builder = FeatureBuilder()
        >>> pairs = list(builder.origin_features(events, grid, schedule,
        ...                                      ["2024-03-11", "2024-03-04"]))
        >>> [(c.shape, s.shape) for c, s in pairs]
        [((9, 39), (6, 9, 10)), ((9, 39), (6, 9, 10))]
        >>> one = builder.cell_features(events, grid, "2024-03-04").to_numpy()
        >>> bool(np.array_equal(pairs[1][0], one))
        True
        >>> c, s = next(builder.origin_features(events, grid, schedule, ["2024-03-11"],
        ...                                    cells=[[4, 0]]))
        >>> c.shape, s.shape
        ((2, 39), (6, 2, 10))
        """
        cell_families, shift_families = self._families("cell"), self._families("shift")
        check_events_grid(events, grid)
        if not isinstance(schedule, ShiftSchedule):
            raise TypeError(f"schedule must be a ShiftSchedule, got {type(schedule).__name__}.")
        values = [origins] if np.ndim(origins) == 0 else list(origins)
        cell_o = np.array([_origin_seconds(_scalar(v), events.tz) for v in values], np.int64)
        shift_o = np.array([_origin_seconds(_scalar(v), schedule.tz) for v in values], np.int64)
        if cells is not None:
            cells = list(cells)
            if len(cells) != len(values):
                raise ValueError(
                    f"cells has {len(cells)} arrays for {len(values)} origins; give one array "
                    "of cell ids per origin (or cells=None for all cells)."
                )
            cells = [_cell_ids(c, grid.n_cells) for c in cells]
        for family in cell_families:
            if isinstance(family, EventLayers):
                family.check(grid)
        return self._origin_pairs(
            events, grid, schedule, cell_o, shift_o, cells, cell_families, shift_families
        )

    def _origin_pairs(self, events, grid, schedule, cell_o, shift_o, cells, cell_families,
                      shift_families):  # fmt: skip
        """Yield the pairs of :meth:`origin_features` (its arguments checked)."""
        if not cell_o.size:
            return
        since = min(
            _reach(cell_families, DAYS_CAP * DAY, int(cell_o.min())),
            _reach(shift_families, 0.0, int(shift_o.min())),
        )
        history = _History(events, grid, since, max(int(cell_o.max()), int(shift_o.max())))
        cell_widths = [len(family.names()) for family in cell_families]
        shift_widths = [len(family.names()) for family in shift_families]
        no_shifts = not sum(shift_widths)
        for first in range(0, cell_o.size, _SCORE_BATCH):
            part = cell_o[first : first + _SCORE_BATCH]
            times = np.unique(part)  # ascending, as score_at wants
            prepared = self._prepare(cell_families, history, grid, times, None)
            shift_times = np.unique(shift_o[first : first + _SCORE_BATCH])
            shift_prepared = [
                family.prepare(history, grid, shift_times, None) for family in shift_families
            ]
            for i, o in enumerate(part.tolist()):
                chosen = None if cells is None else _Neighbours(grid, cells[first + i])
                row = int(np.searchsorted(times, o))
                context = _Origin(history, grid, o, chosen, row=row)
                cell_feats = self._cell_values(cell_families, prepared, context, cell_widths)
                o_shift = int(shift_o[first + i])
                context = _Origin(history, grid, o_shift, chosen, schedule=schedule)
                if no_shifts:
                    shift_feats = np.zeros((schedule.n_shifts, context.size, 0))
                else:
                    shift_feats = self._shift_values(
                        shift_families, shift_prepared, context, shift_widths
                    )
                yield cell_feats, shift_feats

    # ------------------------------------------------------------------ block features
    def block_features(self, blocks, origin, grid) -> pd.DataFrame:
        """Cell-independent features of each block of a horizon.

        Parameters
        ----------
        blocks : caslite.Blocks
            The blocks, e.g. ``schedule.horizon(origin, "14D")``; none may start before
            ``origin``.
        origin : int, str or datetime
            Forecast origin (naive: local time of the blocks' schedule).
        grid : caslite.Grid
            Its centre, converted to longitude and latitude, places the sun for
            ``darkness``.

        Returns
        -------
        pandas.DataFrame
            Shape ``(len(blocks), len(block_feature_names_))``, float64, indexed by block id.

        Raises
        ------
        ValueError
            If a block starts before the origin.

        Examples
        --------
        >>> from shapely.geometry import box
        >>> from caslite import Grid, ShiftSchedule
        >>> grid = Grid.from_area(box(120000, 487000, 122000, 489000), crs="EPSG:28992")
        >>> blocks = ShiftSchedule.every(4, tz="Europe/Amsterdam").horizon("2024-10-27", "1D")
        >>> feats = FeatureBuilder().block_features(blocks, "2024-10-27", grid)
        >>> feats[["block_hours", "day_of_week", "darkness"]].round(2).to_dict("list")
        {'block_hours': [5.0, 4.0, 4.0, 4.0, 4.0, 4.0], 'day_of_week': [6.0, 6.0, 6.0, 6.0, \
6.0, 6.0], 'darkness': [1.0, 0.72, 0.0, 0.0, 0.52, 1.0]}
        """
        if not isinstance(blocks, Blocks):
            raise TypeError(f"blocks must be caslite Blocks, got {type(blocks).__name__}.")
        o = self._check_blocks_origin(blocks, origin)
        return self._block_frame(blocks, o, grid, None)

    @staticmethod
    def _check_blocks_origin(blocks, origin) -> int:
        """Return the origin in UTC seconds; raise if a block starts before it."""
        o = _origin_seconds(origin, blocks.schedule.tz)
        if len(blocks) and int(blocks.start.min()) < o:
            raise ValueError(
                f"a block starts before the origin (first start {int(blocks.start.min())}, "
                f"origin {o}, UTC seconds); features must only see events before every block "
                "they describe. Use blocks of the origin's horizon, schedule.horizon(origin)."
            )
        return o

    def _block_frame(self, blocks, o: int, grid, darkness) -> pd.DataFrame:
        """:meth:`block_features` of checked blocks (``darkness``: their shares, or None)."""
        families = self._families("block")
        names = self.block_feature_names_
        index = pd.Index(blocks.ids, name="block_id")
        if not len(blocks):
            return pd.DataFrame(np.empty((0, len(names))), columns=names, index=index)
        tz = blocks.schedule.tz
        local = pd.DatetimeIndex(pd.to_datetime(blocks.start, unit="s", utc=True)).tz_convert(tz)
        context = _Blocks(blocks, local, o, grid, darkness)
        data = np.empty((len(blocks), len(names)), dtype=np.float64)
        j = 0
        for family in families:
            k = len(family.names())
            family.columns(context, None, data[:, j : j + k])
            j += k
        return pd.DataFrame(data, columns=names, index=index)

    def _horizons_block_features(self, horizons, origins, grid) -> list[pd.DataFrame]:
        """:meth:`block_features` of many horizons, each at its origin, sharing the work.

        The same frames as ``[block_features(h, o, grid) for h, o in zip(horizons,
        origins)]`` (bit for bit), but the darkness of a block that several horizons hold
        (overlapping training horizons) is computed once.

        Parameters
        ----------
        horizons : sequence of caslite.Blocks
            Blocks of one schedule, e.g. ``schedule.horizon(o, "14D")`` of each origin.
        origins : sequence of int, str or datetime
            One forecast origin per horizon (naive: local time of the schedule).
        grid : caslite.Grid
            As for :meth:`block_features`.

        Returns
        -------
        list of pandas.DataFrame
            One frame per horizon, as :meth:`block_features` returns it.

        Raises
        ------
        ValueError
            If the numbers of horizons and origins differ, the horizons come from different
            schedules, or a block starts before its origin.

        Examples
        --------
        >>> from shapely.geometry import box
        >>> from caslite import Grid, ShiftSchedule
        >>> grid = Grid.from_area(box(120000, 487000, 122000, 489000), crs="EPSG:28992")
        >>> schedule = ShiftSchedule.every(4, tz="Europe/Amsterdam")
        >>> origins = ["2024-10-20", "2024-10-27"]
        >>> horizons = [schedule.horizon(o, "14D") for o in origins]
        >>> builder = FeatureBuilder()
        >>> frames = builder._horizons_block_features(horizons, origins, grid)
        >>> all(f.equals(builder.block_features(h, o, grid))
        ...     for f, h, o in zip(frames, horizons, origins))
        True
        """
        horizons, origins = list(horizons), list(origins)
        if len(horizons) != len(origins):
            raise ValueError(
                f"got {len(horizons)} horizons and {len(origins)} origins; give one origin per "
                "horizon."
            )
        for blocks in horizons:
            if not isinstance(blocks, Blocks):
                raise TypeError(f"horizons must be caslite Blocks, got {type(blocks).__name__}.")
            if blocks.schedule != horizons[0].schedule:
                raise ValueError(
                    f"the horizons come from different schedules ({horizons[0].schedule!r} and "
                    f"{blocks.schedule!r}); give horizons of one schedule."
                )
        shares, ids = None, None
        dark = [family for family in self._families("block") if isinstance(family, Darkness)]
        if dark and dark[0].on and horizons:
            ids = np.unique(np.concatenate([blocks.ids for blocks in horizons]))
            every = Blocks(horizons[0].schedule, ids)
            lon, lat = _lon_lat_centre(grid)
            shares = darkness_share(every.start, every.end, lon, lat)
        frames = []
        for blocks, origin in zip(horizons, origins, strict=True):
            o = self._check_blocks_origin(blocks, origin)
            darkness = None if shares is None else shares[np.searchsorted(ids, blocks.ids)]
            frames.append(self._block_frame(blocks, o, grid, darkness))
        return frames

    # ------------------------------------------------------------------ assembly
    def rows(self, cell_feats, shift_feats, block_feats, block_index, cell_index) -> np.ndarray:
        """Assemble design-matrix rows for chosen (block, cell) pairs.

        Parameters
        ----------
        cell_feats : pandas.DataFrame or ndarray of shape (n_cells, k1)
            From :meth:`cell_features`.
        shift_feats : ndarray of shape (n_shifts, n_cells, k2)
            From :meth:`shift_features`.
        block_feats : pandas.DataFrame of shape (n_blocks, k3)
            From :meth:`block_features`; its ``shift`` column picks each block's shift.
        block_index, cell_index : array-like of int
            One (block position in ``block_feats``, cell id) pair per row.

        Returns
        -------
        ndarray of float64, shape (n_rows, k1 + k2 + k3)
            Columns in the order of ``feature_names_``.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> cells = np.array([[1.0], [2.0]])
        >>> shifts = np.arange(6.0).reshape(3, 2, 1)  # 3 shifts, 2 cells
        >>> blocks = pd.DataFrame({"shift": [2.0, 0.0]})
        >>> FeatureBuilder().rows(cells, shifts, blocks, [0, 1], [1, 1]).tolist()
        [[2.0, 5.0, 2.0], [2.0, 1.0, 0.0]]
        """
        return self._rows(cell_feats, shift_feats, block_feats, block_index, cell_index)

    def _rows(self, cell_feats, shift_feats, block_feats, block_index, cell_index, out=None):
        """:meth:`rows`, written into ``out`` (rows by features) when given."""
        cell_arr = np.asarray(cell_feats, dtype=np.float64)
        shift_arr = np.asarray(shift_feats, dtype=np.float64)
        block_arr = np.asarray(block_feats, dtype=np.float64)
        shift_of_block = _block_shifts(block_feats, shift_arr.shape[0])
        block_index = np.asarray(block_index, dtype=np.int64).ravel()
        cell_index = np.asarray(cell_index, dtype=np.int64).ravel()
        if block_index.shape != cell_index.shape:
            raise ValueError(
                f"block_index has {block_index.size} values but cell_index {cell_index.size}; "
                "give one (block, cell) pair per row."
            )
        _check_index(cell_index, cell_arr.shape[0], "cell_index")
        _check_index(block_index, block_arr.shape[0], "block_index")
        k1, k2 = cell_arr.shape[1], shift_arr.shape[2]
        shape = (block_index.size, k1 + k2 + block_arr.shape[1])
        if out is None:
            out = np.empty(shape, dtype=np.float64)
        elif out.shape != shape:
            raise ValueError(f"out has shape {out.shape}, the rows need {shape}.")
        out[:, :k1] = cell_arr[cell_index]
        out[:, k1 : k1 + k2] = shift_arr[shift_of_block[block_index], cell_index]
        out[:, k1 + k2 :] = block_arr[block_index]
        return out

    def design_matrix(self, events, grid, blocks, origin, cells=None):
        """All (block, cell) rows of a horizon: features from events known before ``origin``.

        Parameters
        ----------
        events : caslite.Events
            All incidents; only those known before ``origin`` are read.
        grid : caslite.Grid
            The cells; its CRS must equal the events'.
        blocks : caslite.Blocks
            The horizon's blocks (``schedule.horizon(origin, "14D")``).
        origin : int, str or datetime
            Forecast origin (naive: local time of the blocks' schedule).
        cells : array-like of int, optional
            Cell ids to include, in the order given; default all active cells.

        Returns
        -------
        X : ndarray of float64, shape (n_blocks * n_chosen_cells, n_features)
            Block-major: row ``b * n_chosen_cells + j`` is block ``b`` and cell ``cells[j]``.
            A city horizon (25,600 cells x 84 blocks, 56 features) is 963 MB; use
            :meth:`rows` on the three groups to assemble it in pieces.
        names : list of str
            ``feature_names_``, one per column.
        block_index : ndarray of int64
            Position of each row's block in ``blocks``.
        cell_index : ndarray of int64
            Cell id of each row.

        Examples
        --------
        >>> import pandas as pd
        >>> from shapely.geometry import box
        >>> from caslite import Events, Grid, ShiftSchedule
        >>> frame = pd.DataFrame({"t": ["2024-03-01 10:00"], "x": [60.0], "y": [60.0]})
        >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
        >>> grid = Grid.from_area(box(0, 0, 250, 250), cell_size=125.0, crs="EPSG:28992")
        >>> blocks = ShiftSchedule.every(8, tz="Europe/Amsterdam").horizon("2024-03-11", "1D")
        >>> X, names, b, c = FeatureBuilder().design_matrix(events, grid, blocks, "2024-03-11",
        ...                                                 cells=[3, 0])
        >>> X.shape, b.tolist(), c.tolist()
        ((6, 56), [0, 0, 1, 1, 2, 2], [3, 0, 3, 0, 3, 0])
        """
        if not isinstance(blocks, Blocks):
            raise TypeError(f"blocks must be caslite Blocks, got {type(blocks).__name__}.")
        o = _origin_seconds(origin, blocks.schedule.tz)
        block_feats = self.block_features(blocks, o, grid)  # checks the origin first
        cell_feats = self.cell_features(events, grid, o)
        shift_feats, _ = self.shift_features(events, grid, blocks.schedule, o)
        chosen = np.arange(grid.n_cells) if cells is None else np.asarray(cells).ravel()
        if chosen.dtype.kind not in "iu":
            raise TypeError(f"cells must be integer cell ids, got dtype {chosen.dtype}.")
        chosen = chosen.astype(np.int64)
        _check_index(chosen, grid.n_cells, "cells")
        n_blocks, n_chosen = len(blocks), chosen.size
        c = cell_feats.to_numpy()[chosen]
        s = shift_feats[:, chosen]  # (n_shifts, n_chosen, k2)
        b = block_feats.to_numpy()
        k1, k2, k3 = c.shape[1], s.shape[2], b.shape[1]
        X = np.empty((n_blocks, n_chosen, k1 + k2 + k3), dtype=np.float64)
        X[:, :, :k1] = c[np.newaxis]
        X[:, :, k1 : k1 + k2] = s[blocks.shift]
        X[:, :, k1 + k2 :] = b[:, np.newaxis]
        block_index = np.repeat(np.arange(n_blocks, dtype=np.int64), n_chosen)
        cell_index = np.tile(chosen, n_blocks)
        return X.reshape(n_blocks * n_chosen, -1), self.feature_names_, block_index, cell_index


# ---------------------------------------------------------------------- parameter checks
def category_layers(incidents, column: str, values=None, **events_options) -> dict:
    """Split incidents by a category column into event layers for :class:`FeatureBuilder`.

    Counting the incidents of one category apart from the others tells the model, say, which
    cells' burglaries are of apartments and which of houses: the two repeat differently. Pass
    the result as ``FeatureBuilder(event_layers=...)``; the layers may be subsets of the
    incidents forecast. The incidents themselves are not changed, and rows without a category
    (missing values) are in no layer.

    Parameters
    ----------
    incidents : Events, pandas.DataFrame or geopandas.GeoDataFrame
        The incidents: :class:`caslite.Events` (their extra columns, :attr:`Events.data`,
        hold the category; each layer is a subset of them, cleaned the same way), or a table
        with one row per incident, as for :meth:`caslite.Events.from_frame`.
    column : str
        The category column, e.g. ``"premises_type"``.
    values : sequence, optional
        The categories to make layers of, in order (default: every category present, sorted).
    **events_options
        For a table only: passed to :meth:`caslite.Events.from_frame` for every layer
        (``time``, ``x``, ``y``, ``crs``, ``tz``, ``duplicates``, ...); give the same as for
        the incidents.

    Returns
    -------
    dict of str to Events
        One layer per category, named by the category in lower case with spaces as
        underscores (the ``{name}`` of the ``ev_{name}_*`` features).

    Raises
    ------
    KeyError
        If ``column`` is not a column of the incidents.
    ValueError
        If a category of ``values`` has no incident, or two categories give the same name.
    TypeError
        If ``events_options`` are given with Events.

    Examples
    --------
    >>> import pandas as pd
    >>> from caslite import Events
    >>> frame = pd.DataFrame({"t": ["2024-03-01 10:00", "2024-03-02 22:00", "2024-03-05 09:00"],
    ...                       "x": [60.0, 190.0, 60.0], "y": [60.0, 60.0, 60.0],
    ...                       "premises_type": ["House", "Apartment", "House"]})
    >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
    >>> layers = category_layers(events, "premises_type")
    >>> {name: len(layer) for name, layer in layers.items()}
    {'apartment': 1, 'house': 2}
    >>> builder = FeatureBuilder(event_layers=layers)
    """
    from caslite.events import Events

    is_events = isinstance(incidents, Events)
    if is_events and events_options:
        raise TypeError(
            "incidents are already caslite Events; the options "
            f"{sorted(events_options)} apply only to tables. Drop them."
        )
    table = incidents.data if is_events else incidents
    if column not in table.columns:
        raise KeyError(
            f"no column {column!r} in the incidents; the columns are {list(table.columns)}."
        )
    categories = table[column]
    present = sorted(categories.dropna().unique(), key=str)
    chosen = present if values is None else list(values)
    layers = {}
    for value in chosen:
        mask = (categories == value).to_numpy(dtype=bool)
        if not mask.any():
            raise ValueError(
                f"no incident has {column} == {value!r}; the categories are "
                f"{', '.join(map(repr, present))}."
            )
        name = str(value).strip().lower().replace(" ", "_")
        if name in layers:
            raise ValueError(
                f"two categories of {column!r} give the layer name {name!r}; pass values= "
                "with one of them."
            )
        if is_events:
            layers[name] = incidents.select(mask)
        else:
            layers[name] = Events.from_frame(incidents[mask], **events_options)
    return layers


def _fmt(value) -> str:
    return f"{value:g}"


def _span(weeks) -> str:
    return f"in the {_fmt(weeks)} week{'' if weeks == 1 else 's'} before the origin"


def _sequence(values, name: str, what: str) -> tuple:
    """Return ``values`` as a tuple (None: empty), or raise naming ``name`` and ``what``."""
    if values is None:
        return ()
    try:
        return tuple(values)
    except TypeError:
        raise ArgumentTypeError(f"{name} must be a sequence of {what}, got {values!r}.") from None


def _unique(values: tuple, given, name: str, what: str) -> tuple:
    if len(set(values)) != len(values):
        raise ValueError(f"{name}={given!r} repeats a {what}; each must be unique.")
    return values


def _weeks(values, name: str, *, empty_ok: bool) -> tuple[float, ...]:
    """Positive finite window lengths in weeks, as given (an int stays an int)."""
    if values is None:
        raise ArgumentTypeError(f"{name} must be a sequence of weeks, got None.")
    weeks = _sequence(values, name, "weeks")
    for i, w in enumerate(weeks):
        check_number(w, f"{name}[{i}]", positive=True, unit="weeks")
    if not weeks and not empty_ok:
        raise ValueError(f"{name} is empty; give at least one window such as (4, 52).")
    return _unique(weeks, values, name, "window")


def _metres(values, name: str) -> tuple[float, ...]:
    metres = _sequence(values, name, "metres")
    metres = tuple(
        check_number(m, f"{name}[{i}]", positive=True, unit="metres") for i, m in enumerate(metres)
    )
    return _unique(metres, values, name, "value")


def _rings(values) -> tuple[int, ...]:
    rings = _sequence(values, "rings", "rings")
    rings = tuple(check_int(k, f"rings[{i}]") for i, k in enumerate(rings))
    return _unique(rings, values, "rings", "ring")


def _radii(values) -> tuple[float, ...]:
    radii = _sequence(values, "point_radii", "metres")
    radii = tuple(
        check_number(r, f"point_radii[{i}]", positive=True, unit="metres")
        for i, r in enumerate(radii)
    )
    return _unique(radii, values, "point_radii", "radius")


def _kernels(value) -> dict:
    if value is None:
        return {}
    if isinstance(value, str):
        if value != "default":
            raise ValueError(
                f"kernels={value!r}: pass 'default', None, a dict of name to (space, time), "
                "or a list of (space, time) pairs."
            )
        return default_kernels()
    pairs = dict(value) if isinstance(value, dict) else {f"nr_{i}": p for i, p in enumerate(value)}
    for name, pair in pairs.items():
        try:
            space, time = pair
        except (TypeError, ValueError):
            raise TypeError(
                f"kernels[{name!r}] must be a (space, time) pair, got {pair!r}."
            ) from None
        if not isinstance(space, _SpaceKernel) or not isinstance(time, _TimeKernel):
            raise TypeError(
                f"kernels[{name!r}] must pair a space kernel (ExponentialSpace, GaussianSpace, "
                f"BowersSpace) with a time kernel (ExponentialTime, BowersTime); got "
                f"{type(space).__name__}, {type(time).__name__}."
            )
    return pairs


def _layer_name(name) -> str:
    if not isinstance(name, str) or not name:
        raise TypeError(f"layer names must be non-empty strings, got {name!r}.")
    return name


def _point_layers(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(
            f"point_layers must be a dict of name to GeoDataFrame, got {type(value).__name__}."
        )
    return {_layer_name(k): v for k, v in value.items()}


def _event_layers(value) -> dict:
    from caslite.events import Events

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(
            f"event_layers must be a dict of name to caslite Events, got {type(value).__name__}."
        )
    for name, layer in value.items():
        if not isinstance(layer, Events):
            raise TypeError(
                f"event_layers[{name!r}] must be caslite Events (e.g. Events.from_frame(...) of "
                f"the other incidents), got {type(layer).__name__}."
            )
    return {_layer_name(k): v for k, v in value.items()}


def _polygon_layers(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(
            "polygon_layers must be a dict of name to (GeoDataFrame, [columns]), got "
            f"{type(value).__name__}."
        )
    out = {}
    for name, pair in value.items():
        try:
            layer, columns = pair
        except (TypeError, ValueError):
            raise TypeError(
                f"polygon_layers[{name!r}] must be a (GeoDataFrame, [columns]) pair, e.g. "
                "(buurten, ['income', 'density'])."
            ) from None
        columns = [columns] if isinstance(columns, str) else list(columns)
        out[_layer_name(name)] = (layer, columns)
    return out


# ---------------------------------------------------------------------- helpers
def _origin_seconds(origin, tz) -> int:
    if isinstance(origin, float):
        raise TypeError("origin must be int64 UTC seconds or a time, not a float.")
    return int(to_utc_seconds(origin, tz, "origin"))


_SCORE_BATCH = 32
"""Origins whose near-repeat scores :meth:`FeatureBuilder.origin_features` computes at once."""


def _scalar(value):
    """Return a numpy integer origin as a Python int (other values unchanged)."""
    return value.item() if isinstance(value, np.generic) and value.dtype.kind in "iu" else value


def _cell_ids(values, n_cells: int) -> np.ndarray:
    chosen = np.asarray(values).ravel()
    if chosen.dtype.kind not in "iu":
        raise TypeError(f"cells must hold integer cell ids, got dtype {chosen.dtype}.")
    chosen = chosen.astype(np.int64)
    _check_index(chosen, n_cells, "cells")
    return chosen


def _known(events):
    """Return ``known, x, y, order``: known times ascending and the events' positions."""
    if not events.has_windows:
        return events.t, events.x, events.y, np.arange(len(events))
    order = np.argsort(events.t_end, kind="stable")
    return events.t_end[order], events.x[order], events.y[order], order


def _reach(families, least: float, o: int) -> float:
    """Return the earliest known time that ``families`` read at origin ``o``."""
    return o - max([least] + [family.reach() for family in families])


class _Origin:
    """What the cell and shift families of one origin share.

    The events (a :class:`_History`), the origin ``o``, the chosen cells (a
    :class:`_Neighbours`, or None for all), the row of ``o`` in the times the families
    prepared for, the schedule (for shift features), and the counts per window (cached).
    With chosen cells, the counts have a last column of zeros (the value of an absent ring
    neighbour): ``width`` is ``n + 1``.
    """

    def __init__(self, history, grid, o: int, cells, *, row: int = 0, schedule=None):
        self.history, self.grid, self.o, self.cells, self.row = history, grid, o, cells, row
        self.schedule = schedule
        self.n_shifts = 0 if schedule is None else schedule.n_shifts
        self.n = grid.n_cells
        self.pick_ids = None if cells is None else cells.ids
        self.pick = slice(None) if cells is None else cells.ids
        self.size = self.n if cells is None else cells.ids.size
        self.width = self.n if cells is None else self.n + 1
        self.stop = history.stop(o)
        self._counts = {}

    def counts(self, windows) -> np.ndarray:
        """Events per cell known in each window before ``o``: (len(windows), width)."""
        if windows not in self._counts:
            history, o = self.history, self.o
            counts = np.empty((len(windows), self.width), dtype=np.float64)
            for i, w in enumerate(windows):
                counts[i] = history.counts(history.start(o - w * WEEK), self.stop, self.width)
            self._counts[windows] = counts
        return self._counts[windows]

    def shift_weights(self) -> np.ndarray:
        return self.history.shift_weights(self.schedule)

    @property
    def raster_index(self) -> np.ndarray:
        """Each cell's position in the flattened raster (computed once per history)."""
        return self.history.raster_index(self.grid)

    def shift_counts(self, windows) -> tuple[np.ndarray, np.ndarray]:
        """Events per shift and cell in each window: (W, n_shifts, n), and with ``width``."""
        key = ("shift", windows)
        if key not in self._counts:
            history, o, n_shifts = self.history, self.o, self.n_shifts
            weights = self.shift_weights()  # (n_events, n_shifts)
            padded = np.empty((len(windows), n_shifts, self.width), dtype=np.float64)
            for i, w in enumerate(windows):
                lo = history.start(o - w * WEEK)
                for s in range(n_shifts):
                    padded[i, s] = np.bincount(
                        history.cells[lo : self.stop],
                        weights=weights[lo : self.stop, s],
                        minlength=self.width,
                    )
            # contiguous without the column of zeros: sums over it as over the full counts
            counts = (
                padded if self.width == self.n else np.ascontiguousarray(padded[:, :, : self.n])
            )
            self._counts[key] = (counts, padded)
        return self._counts[key]


def _raster_index(grid) -> np.ndarray:
    """Each cell's position in the grid's raster flattened row by row."""
    return grid.cell_row.astype(np.int64) * grid.shape[1] + grid.cell_col.astype(np.int64)


class _Blocks:
    """What the block families read: the blocks, their local starts, the origin, the grid.

    ``darkness``: the blocks' darkness shares when computed beforehand, else None.
    """

    def __init__(self, blocks, local, o: int, grid, darkness=None):
        self.blocks, self.local, self.o, self.grid = blocks, local, o, grid
        self.darkness = darkness


def _shift_prior(prior) -> float | None:
    if prior is None:
        return None
    return check_number(prior, "shift_prior", positive=True, unit="prior events", example=10.0)


class _History:
    """Events known in ``[since, until)`` that fall in the grid's cells, by known time.

    Sorting by known time and finding each event's cell is done once here, so that every
    origin then only searches its windows (``start``, ``stop``) and counts (``counts``).
    ``all`` keeps every event's known time and position (the near-repeat scores read events
    outside the grid as well).
    """

    def __init__(self, events, grid, since, until):
        known, x, y, order = _known(events)
        first = int(np.searchsorted(known, since, side="left"))
        stop = int(np.searchsorted(known, until, side="left"))
        cells = grid.cell_of(x[first:stop], y[first:stop])
        inside = cells >= 0
        self.events = events
        self.all = (known, x, y)
        self.cells = cells[inside]
        self.times = known[first:stop][inside]
        self.picked = order[first:stop][inside]  # positions in the events' own order
        self._weights = None
        self._raster_index = None

    def start(self, since) -> int:
        """Index of the first event known at or after ``since``."""
        return int(np.searchsorted(self.times, since, side="left"))

    def stop(self, until) -> int:
        """Index after the last event known before ``until``."""
        return int(np.searchsorted(self.times, until, side="left"))

    def counts(self, lo: int, hi: int, n: int) -> np.ndarray:
        """Events ``lo:hi`` per cell (int64, ``n`` cells)."""
        return np.bincount(self.cells[lo:hi], minlength=n)

    def raster_index(self, grid) -> np.ndarray:
        """:func:`_raster_index` of the grid, computed once."""
        if self._raster_index is None:
            self._raster_index = _raster_index(grid)
        return self._raster_index

    def shift_weights(self, schedule) -> np.ndarray:
        """Each event's share in each shift (:func:`_shift_weights`), computed once."""
        if self._weights is None:
            self._weights = _shift_weights(self.events, self.picked, schedule)
        return self._weights


def _shift_weights(events, picked: np.ndarray, schedule) -> np.ndarray:
    """Share of each picked event in each shift: one-hot for exact times, aoristic otherwise."""
    weights = np.zeros((picked.size, schedule.n_shifts), dtype=np.float64)
    if not picked.size:
        return weights
    t, t_end = events.t[picked], events.t_end[picked]
    exact = t_end == t
    if exact.any():
        shift = schedule.shift_of(schedule.block_of(t[exact]))
        weights[np.flatnonzero(exact), shift] = 1.0
    if not exact.all():
        rows = np.flatnonzero(~exact)
        first = int(schedule.block_of(np.array([t[rows].min()]))[0])
        last = int(schedule.block_of(np.array([t_end[rows].max()]))[0])
        blocks = Blocks(schedule, np.arange(first, last + 1))
        share = events.select(picked[rows]).aoristic_weights(blocks)  # (n_rows, n_blocks)
        onehot = np.zeros((len(blocks), schedule.n_shifts))
        onehot[np.arange(len(blocks)), blocks.shift] = 1.0
        weights[rows] = share @ onehot
    return weights


def _ring_sums(values: np.ndarray, grid, rings, cells=None) -> list[np.ndarray]:
    """Sum ``values`` (m, n_cells) over each Chebyshev ring: one (m, n_cells) array per ring.

    A cell's ring ``k`` is the border of the ``(2k + 1)``-square of raster cells around it;
    inactive cells add nothing (numba kernel :func:`caslite._kernels.rings.ring_sums`, each
    cell reading its neighbours in a fixed order: sums of integers are exact, and the result
    does not depend on the number of threads). With ``cells`` (a :class:`_Neighbours` of some
    cell ids), only those cells' sums, (m, n_chosen) per ring, added in the kernel's order
    (the same values); ``values`` then has a last column of zeros, (m, n_cells + 1).
    """
    if not rings:
        return []
    if cells is not None:
        out = []
        for k in rings:
            gathered = np.take(values, cells.ring(int(k)), axis=1)  # (m, 8k, n_chosen)
            total = np.zeros((values.shape[0], cells.ids.size), dtype=np.float64)
            for q in range(gathered.shape[1]):
                total += gathered[:, q]
            out.append(total)
        return out
    return ring_sums(values, grid, rings)


class _Neighbours:
    """Chosen cell ids and, per ring ``k``, their neighbours in the order of the ring kernel.

    ``ring(k)`` is an array (8k, n_chosen): row ``q`` holds the neighbour at the ``q``-th
    offset ``(dr, dc)`` of the ring, or ``n_cells`` (a column of zeros, or of the value of an
    absent neighbour) where it is outside the raster or inactive.
    """

    def __init__(self, grid, ids: np.ndarray):
        self.grid = grid
        self.ids = ids
        self._rings = {}

    def ring(self, k: int) -> np.ndarray:
        if k not in self._rings:
            grid = self.grid
            n_rows, n_cols = grid.shape
            row = grid.cell_row[self.ids].astype(np.int64)
            col = grid.cell_col[self.ids].astype(np.int64)
            offsets = []
            for dr in range(-k, k + 1):
                step = 1 if abs(dr) == k else 2 * k  # inner rows: only the two border columns
                offsets += [(dr, dc) for dc in range(-k, k + 1, step)]
            dr, dc = np.array(offsets).T
            r, c = row[None, :] + dr[:, None], col[None, :] + dc[:, None]
            inside = (r >= 0) & (r < n_rows) & (c >= 0) & (c < n_cols)
            ids = np.full(r.shape, -1, dtype=np.int64)
            ids[inside] = grid._raster_to_cell[r[inside] * n_cols + c[inside]]
            ids[ids < 0] = grid.n_cells
            self._rings[k] = ids
        return self._rings[k]


def _relative(counts: np.ndarray, cells=None) -> np.ndarray:
    """Return ``counts`` over their mean (0 everywhere when there is no event), at ``cells``."""
    total = counts.sum()
    picked = counts if cells is None else counts[cells]
    return picked * (counts.size / total) if total > 0 else picked


def _centre_weight(grid, bandwidth: float) -> float:
    """Weight of a cell on itself in :func:`_gaussian_smooth` (the kernel's centre value)."""
    from scipy.ndimage import gaussian_filter

    sigma = bandwidth / grid.cell_size
    half = int(_SMOOTH_TRUNCATE * sigma + 0.5)
    impulse = np.zeros((2 * half + 1, 2 * half + 1))
    impulse[half, half] = 1.0
    smooth = gaussian_filter(impulse, sigma=sigma, mode="constant", truncate=_SMOOTH_TRUNCATE)
    return float(smooth[half, half])


def _shrunk_level(counts, smooth, mass, centre: float) -> np.ndarray:
    """Return counts per cell shrunk toward their neighbourhood (empirical Bayes, gamma prior).

    Each cell's count ``n_c`` is taken as Poisson with a mean drawn from a gamma law around
    its neighbourhood's mean count ``m_c``, with a variance ``m_c / a`` (the prior holds ``a``
    cell-periods of the neighbourhood's rate): the posterior mean is
    ``(n_c + a m_c) / (1 + a)``. ``m_c`` is the Gaussian-weighted mean count of the *other*
    active cells (the cell's own weight ``centre`` taken out of the smoothed counts
    ``smooth`` and of the smoothed mask ``mass``; the mean count of all cells where no other
    cell is in reach). ``1 / a`` is estimated by the method of moments, ``E[(n_c - m_c)^2 -
    n_c] = m_c / a`` summed over the cells, and clipped at 0 (no spread beyond Poisson: every
    cell gets ``m_c``).
    """
    if not counts.size or counts.sum() <= 0:
        return np.zeros_like(counts)
    others = mass - centre
    reach = others > 1e-9 * np.maximum(mass, 1.0)
    mean = np.full(counts.shape, counts.mean())
    mean[reach] = np.maximum(smooth[reach] - centre * counts[reach], 0.0) / others[reach]
    excess = float(np.sum((counts - mean) ** 2 - counts))
    spread = max(excess, 0.0) / float(mean.sum()) if mean.sum() > 0 else 0.0
    # (n + a m) / (1 + a) with a = 1 / spread, written for spread = 0 too
    return (spread * counts + mean) / (spread + 1.0)


def _relative_to(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Return ``values`` over the mean of ``counts`` (``values`` unchanged without events)."""
    total = counts.sum()
    return values * (counts.size / total) if total > 0 else values


def _gaussian_smooth(values: np.ndarray, grid, bandwidth: float, cells=None, flat=None):
    """Smooth ``values`` (n_cells,) over the raster with a Gaussian of ``bandwidth`` metres.

    The value of cell ``i`` is ``sum_j values[j] * g(dr) * g(dc)``, over the active cells
    ``j`` within ``_SMOOTH_TRUNCATE`` bandwidths in rows and in columns (``dr``, ``dc`` cell
    steps between the cell centres), with ``g`` the one-dimensional Gaussian of ``bandwidth /
    cell_size`` cells normalised to sum 1 over the truncated support
    (:func:`scipy.ndimage.gaussian_filter`). Mass falling on inactive or outside cells is lost.
    ``values`` of shape (m, n_cells) are smoothed row by row (one filter over a stack of
    rasters, the same arithmetic per raster); with ``cells`` (cell ids), only those cells'
    values are returned. ``flat`` is each cell's position in the flattened raster, if known.
    """
    from scipy.ndimage import gaussian_filter

    n_rows, n_cols = grid.shape
    if flat is None:
        flat = _raster_index(grid)
    stack = values.ndim == 2
    m = values.shape[0] if stack else 1
    raster = np.zeros((m, n_rows * n_cols), dtype=np.float64)
    raster[:, flat] = values
    if cells is not None:
        flat = flat[cells]
    sigma = bandwidth / grid.cell_size
    smooth = gaussian_filter(
        raster.reshape(m, n_rows, n_cols), sigma=(0.0, sigma, sigma), mode="constant", cval=0.0,
        truncate=_SMOOTH_TRUNCATE,
    )  # fmt: skip
    out = np.maximum(smooth.reshape(m, -1)[:, flat], 0.0)
    return out if stack else out[0]


def _shrunk_shares(counts: np.ndarray, prior: float, cells=None) -> np.ndarray:
    """Per-cell shift shares shrunk toward the area's: ``(n_cs + a p_s) / (n_c + a)``.

    ``counts`` is (n_windows, n_shifts, n_cells); ``p_s`` is the share of shift ``s`` among
    all the window's events in active cells (uniform when there is none), ``a`` the prior.
    With ``cells`` (cell ids), the shares of those cells only (the sums over all).
    """
    n_shifts = counts.shape[1]
    total = counts.sum(axis=(1, 2))  # (n_windows,)
    area = counts.sum(axis=2)  # (n_windows, n_shifts)
    safe = np.where(total > 0, total, 1.0)
    p = np.where(total[:, None] > 0, area / safe[:, None], 1.0 / n_shifts)
    per_cell = counts.sum(axis=1, keepdims=True)  # (n_windows, 1, n_cells)
    if cells is not None:
        counts, per_cell = counts[:, :, cells], per_cell[:, :, cells]
    return (counts + prior * p[:, :, None]) / (per_cell + prior)


def _shift_ratios(smooth: np.ndarray, area: np.ndarray, prior: float, cells=None) -> np.ndarray:
    """Smoothed shift shares over the area's: ``(m_cs + a p_s) / ((m_c + a) p_s)``.

    ``smooth`` is (n_shifts, n_cells), the smoothed per-shift counts ``m_cs``; ``area`` the
    area's count per shift, giving ``p_s``. Where a shift has no event in the area, or a cell
    no smoothed mass and no prior, the ratio is 1 (no evidence of a different profile).
    With ``cells`` (cell ids), the ratios of those cells only.
    """
    total = area.sum()
    if total <= 0:
        return np.ones_like(smooth if cells is None else smooth[:, cells])
    p = area / total
    per_cell = smooth.sum(axis=0)
    if cells is not None:
        smooth, per_cell = smooth[:, cells], per_cell[cells]
    denominator = (per_cell[None, :] + prior) * p[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (smooth + prior * p[:, None]) / denominator
    return np.where(denominator > 0, ratio, 1.0)


def _ring1_max(values: np.ndarray, grid, cells=None) -> np.ndarray:
    """Maximum of ``values`` (n_cells,) over each cell's 8 neighbours (-inf where none).

    With ``cells`` (a :class:`_Neighbours`), only at those cells.
    """
    if cells is not None:
        padded = np.append(values, -np.inf)  # the value of an absent neighbour
        return padded[cells.ring(1)].max(axis=0)
    n_rows, n_cols = grid.shape
    raster = np.full((n_rows + 2, n_cols + 2), -np.inf)
    rr = grid.cell_row.astype(np.int64) + 1
    cc = grid.cell_col.astype(np.int64) + 1
    raster[rr, cc] = values
    out = np.full(values.shape, -np.inf)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr or dc:
                np.maximum(out, raster[rr + dr, cc + dc], out=out)
    return out


def _lon_lat_centre(grid) -> tuple[float, float]:
    xmin, ymin, xmax, ymax = grid.bounds
    return _lon_lat(grid.crs.to_wkt(), (xmin + xmax) / 2.0, (ymin + ymax) / 2.0)


@functools.lru_cache(maxsize=64)
def _lon_lat(crs_wkt: str, x: float, y: float) -> tuple[float, float]:
    """Longitude and latitude of a point (building a transformer takes tens of ms: cached)."""
    to_lonlat = pyproj.Transformer.from_crs(crs_wkt, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(x, y)
    return float(lon), float(lat)


def _block_shifts(block_feats, n_shifts: int) -> np.ndarray:
    if not isinstance(block_feats, pd.DataFrame) or "shift" not in block_feats.columns:
        raise TypeError(
            "block_feats must be the DataFrame from block_features (it needs a 'shift' column)."
        )
    shift = block_feats["shift"].to_numpy()
    if shift.size and (shift.min() < 0 or shift.max() >= n_shifts or np.any(shift % 1)):
        raise ValueError(
            f"block_feats['shift'] must hold shift numbers 0 .. {n_shifts - 1} of shift_feats."
        )
    return shift.astype(np.int64)


def _check_index(index: np.ndarray, size: int, name: str) -> None:
    if index.size and (index.min() < 0 or index.max() >= size):
        raise ValueError(
            f"{name} must lie in 0 .. {size - 1}; got values from {index.min()} to {index.max()}."
        )


def _layer_crs(layer, what: str, grid) -> None:
    crs = getattr(layer, "crs", None)
    if not hasattr(layer, "geometry"):
        raise TypeError(f"{what} must be a GeoDataFrame, got {type(layer).__name__}.")
    if crs is None:
        raise ValueError(
            f"{what} has no CRS; set it (gdf.set_crs('EPSG:....')) and reproject it to the "
            f"grid's CRS {grid.crs.to_string()}."
        )
    check_same_crs(pyproj.CRS.from_user_input(crs), grid.crs, what, "the grid")


def _point_columns(layer, name: str, grid, radii) -> list[np.ndarray]:
    what = f"point layer {name!r}"
    _layer_crs(layer, what, grid)
    geoms = np.asarray(layer.geometry, dtype=object)
    kinds = shapely.get_type_id(geoms)
    bad = (kinds != shapely.GeometryType.POINT) | shapely.is_empty(geoms)
    if bad.any():
        raise ValueError(
            f"{what} must hold non-empty points; {int(bad.sum())} rows are not (e.g. row "
            f"{layer.index[np.flatnonzero(bad)[0]]!r}). Use their centroids "
            "(gdf.geometry.centroid) or explode multipoints."
        )
    centres = np.column_stack([grid.x, grid.y])
    if not geoms.size:
        return [np.full(grid.n_cells, np.nan)] + [np.zeros(grid.n_cells) for _ in radii]
    tree = cKDTree(shapely.get_coordinates(geoms))
    distance, _ = tree.query(centres)
    columns = [distance.astype(np.float64)]
    for r in radii:
        columns.append(tree.query_ball_point(centres, r, return_length=True).astype(np.float64))
    return columns


def _polygon_columns(layer, name: str, names, grid) -> list[np.ndarray]:
    what = f"polygon layer {name!r}"
    _layer_crs(layer, what, grid)
    missing = [c for c in names if c not in layer.columns]
    if missing:
        raise ValueError(f"{what} has no column {missing[0]!r}; it has {list(layer.columns)}.")
    values = np.empty((len(layer), len(names)), dtype=np.float64)
    for j, column in enumerate(names):
        series = layer[column]
        if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
            raise ValueError(
                f"{what} column {column!r} is not numeric (dtype {series.dtype}); convert it "
                "(pd.to_numeric) or drop it from the list."
            )
        values[:, j] = series.to_numpy(dtype=np.float64, na_value=np.nan)
    geoms = np.asarray(layer.geometry, dtype=object)
    kinds = shapely.get_type_id(geoms)
    polygonal = np.isin(kinds, [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON])
    if not polygonal.all():
        raise ValueError(
            f"{what} must hold polygons; {int((~polygonal).sum())} rows are not (e.g. row "
            f"{layer.index[np.flatnonzero(~polygonal)[0]]!r})."
        )
    n, s = grid.n_cells, grid.cell_size
    left, bottom = grid.x - s / 2.0, grid.y - s / 2.0
    squares = shapely.box(left, bottom, left + s, bottom + s)
    cell, poly = shapely.STRtree(geoms).query(squares, predicate="intersects")
    area = shapely.area(shapely.intersection(squares[cell], geoms[poly]))
    columns = [np.bincount(cell, weights=area, minlength=n) / s**2]
    for j in range(len(names)):
        v = values[poly, j]
        ok = np.isfinite(v) & (area > 0)
        total = np.bincount(cell[ok], weights=area[ok] * v[ok], minlength=n)
        weight = np.bincount(cell[ok], weights=area[ok], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            columns.append(np.where(weight > 0, total / weight, np.nan))
    return columns
