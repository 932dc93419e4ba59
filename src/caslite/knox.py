r"""The Knox test of space-time clustering: a near-repeat calculator.

Burglaries close in space tend to be close in time ("near repeats"). The Knox test counts the
pairs of events that are close in both, in a table of distance bands by time bands, and
compares every count with its distribution when the event times are shuffled over the
events (space and time then independent, everything else kept). This is what Ratcliffe's
Near Repeat Calculator (NRC) reports:

- :func:`knox_test` takes :class:`~caslite.events.Events` and returns a :class:`KnoxResult`
  (observed and expected counts, Knox ratios, Monte Carlo p-values, z-scores), with
  :meth:`KnoxResult.to_frame`, :meth:`KnoxResult.to_table` and :meth:`KnoxResult.plot`;
- :func:`knox_counts` gives the observed table from plain arrays;
- :func:`suggest_bandwidths` turns a result into near-repeat kernel bandwidths for
  :mod:`caslite.nearrepeat`.

**Bands.** For edges ``e_0 < e_1 < ... < e_m`` (metres or days) band ``k`` is the half-open
interval ``(e_k, e_k+1]``, except that the first band is closed, ``[e_0, e_1]`` ("0-100 m"
holds distance 0 and 100 m, "100-200 m" holds ``100 < d <= 200``; the NRC's "0 to 100 m",
"101 to 200 m", ...). A pair beyond ``e_m`` or below ``e_0`` is in no band and not counted.
With ``same_location=True`` an extra first distance row "same location" holds the pairs at
distance exactly 0 (same coordinates), and distance 0 is then in no other band.

**Speed.** The close pairs are found once by bucket hashing (numba, parallel over events) and
stored with their distance row; each permutation then bins the time differences of all pairs
(numba, parallel over permutations). Time grows with pairs x permutations, memory with the
pairs (6 bytes each). The pairs grow with the square of the largest distance edge.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from caslite._kernels import knox as _k
from caslite._kernels import threads_for
from caslite._time import DAY
from caslite._validation import (
    CasliteWarning,
    check_bool,
    check_int,
    check_random_state,
    check_share,
    warn_user,
)

__all__ = [
    "BandwidthSuggestion",
    "KnoxResult",
    "knox_counts",
    "knox_test",
    "suggest_bandwidths",
]

# Default refusal threshold of the pair table (6 bytes a pair: about 1.2 GB).
MAX_PAIRS = 200_000_000
# Permutations (int64, n_events each) held at once: at most about 64 MB.
_PERMUTATION_BYTES = 1 << 26
_VALUES = ("observed", "expected", "std", "knox_ratio", "p_value", "z", "significant")


# ---------------------------------------------------------------------- validation
def _edges(values, name: str, unit: str) -> np.ndarray:
    """Return band edges as float64, refusing non-numbers, NaN, negatives and disorder."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of numbers ({unit}), got {values!r}.") from None
    if arr.ndim != 1 or len(arr) < 2:
        raise ValueError(
            f"{name} must list at least 2 band edges ({unit}), e.g. (0, 100, 200); got {values!r}."
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite, got {values!r}.")
    if (arr < 0).any():
        raise ValueError(
            f"{name} must be non-negative ({unit} between two events), got {values!r}."
        )
    if (np.diff(arr) <= 0).any():
        raise ValueError(
            f"{name} must be strictly ascending band edges, got {values!r}; "
            f"sort them and drop repeats, e.g. {tuple(_fmt(v) for v in np.unique(arr))}."
        )
    if len(arr) > 30_000:
        raise ValueError(f"{name} has {len(arr)} edges; at most 30,000 are supported.")
    return np.ascontiguousarray(arr)


def _check_alpha(alpha) -> float:
    return check_share(alpha, "alpha", "(0, 1)", what="a significance level", example=0.05)


def _arrays(t, x, y):
    """Validate plain event arrays: int seconds and finite metres, one value per event."""
    t = np.asarray(t)
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"t must hold int64 UTC seconds, got dtype {t.dtype}; convert datetimes with "
            "caslite.Events.from_frame (Events.t) or values.astype('datetime64[s]')"
            ".astype('int64')."
        )
    t = np.ascontiguousarray(t, dtype=np.int64).ravel()
    x = np.ascontiguousarray(x, dtype=np.float64).ravel()
    y = np.ascontiguousarray(y, dtype=np.float64).ravel()
    if not len(x) == len(y) == len(t):
        raise ValueError(
            f"t, x and y must have one value per event; got lengths {len(t)}, {len(x)}, {len(y)}."
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("event coordinates x and y must be finite (no NaN or Inf).")
    if len(t) < 2:
        raise ValueError(f"the Knox test needs at least 2 events (pairs of events), got {len(t)}.")
    if len(t) >= np.iinfo(np.int32).max:
        raise ValueError(f"at most {np.iinfo(np.int32).max - 1:,} events are supported.")
    return t, x, y


# ---------------------------------------------------------------------- labels
def _fmt(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _distance_labels(edges, same_location: bool) -> list[str]:
    labels = [f"{_fmt(a)}-{_fmt(b)} m" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return (["same location"] if same_location else []) + labels


def _time_labels(edges) -> list[str]:
    return [f"{_fmt(a)}-{_fmt(b)} days" for a, b in zip(edges[:-1], edges[1:], strict=True)]


# ---------------------------------------------------------------------- pairs
class _Pairs(NamedTuple):
    """The close pairs: CSR table over events in bucket order (see ``caslite._kernels.knox``)."""

    order: np.ndarray  # original index of each bucket-sorted event
    ptr: np.ndarray
    nbr: np.ndarray
    rows: np.ndarray


#: Cells of the grid on which the pairs are first counted (a lower bound; 8 bytes each).
_BOUND_CELLS = 2**20


def _pairs_at_least(x, y, distance_edges, limit: int) -> tuple[int, float]:
    """Count a lower bound on the pairs of events in a distance row, on a grid.

    The events are binned into square cells (a sixteenth of the largest distance edge, or
    larger so that the grid has at most ``_BOUND_CELLS`` cells). Every pair of events in two
    cells (or one) whose farthest points are within the largest edge, and whose nearest
    points are at least the first edge apart, is surely in a distance row; those pairs are
    counted from the cells' event counts alone (cumulative sums along one axis per column
    offset, no distance computed), stopping once the count exceeds ``limit``. Returns the
    count and the cell side.
    """
    reach, first = float(distance_edges[-1]), float(distance_edges[0])
    xmin, ymin = float(x.min()), float(y.min())
    width, height = float(x.max()) - xmin, float(y.max()) - ymin
    side = max(reach / 16.0, math.sqrt(width * height / _BOUND_CELLS), 1e-9)
    side = max(side, width / _BOUND_CELLS, height / _BOUND_CELLS)  # a thin strip of events
    k = int(math.floor(reach / side)) - 1  # farthest offset whose cells are wholly in reach
    if k < 0:
        return 0, side
    ix = np.floor((x - xmin) / side).astype(np.int64)
    iy = np.floor((y - ymin) / side).astype(np.int64)
    n_x, n_y = int(ix.max()) + 1, int(iy.max()) + 1
    counts = np.zeros((n_x, n_y), dtype=np.float64)  # float: products cannot overflow
    np.add.at(counts, (ix, iy), 1.0)
    # cumulative[:, j] = sum of counts[:, :j], for sums over runs of rows of one column
    cumulative = np.zeros((n_x, n_y + 1))
    np.cumsum(counts, axis=1, out=cumulative[:, 1:])

    def inside(di, dj):
        far = ((di + 1) ** 2 + (abs(dj) + 1) ** 2) * side**2 <= reach**2
        near = (max(di - 1, 0) ** 2 + max(abs(dj) - 1, 0) ** 2) * side**2 >= first**2
        return far and near

    total = float((counts * (counts - 1) / 2).sum()) if inside(0, 0) else 0.0

    for di in range(0, min(k, n_x - 1) + 1):
        if total > limit:
            break
        offsets = [dj for dj in range(-k, k + 1) if (di > 0 or dj > 0) and inside(di, dj)]
        for lo, hi in _runs(offsets):  # offsets lo..hi: cells (i + di, j + lo .. j + hi)
            j = np.arange(n_y)
            a, b = np.clip(j + lo, 0, n_y), np.clip(j + hi + 1, 0, n_y)
            near = cumulative[di:, b] - cumulative[di:, a]  # rows i + di of the counts
            total += float((counts[: n_x - di] * near).sum())
    return int(total), side


def _runs(values):
    """Return the consecutive runs of sorted integers as (first, last) pairs."""
    runs = []
    for v in values:
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    return [tuple(r) for r in runs]


def _close_pairs(x, y, distance_edges, same_location, max_pairs) -> _Pairs:
    """Find the pairs of events in a distance row; refuse more than ``max_pairs``.

    A lower bound counted on a grid (:func:`_pairs_at_least`) refuses at once when it
    already exceeds ``max_pairs``; otherwise the pairs are counted exactly, and refused if
    more than ``max_pairs``.
    """
    n = len(x)
    reach = float(distance_edges[-1])
    at_least, side = 0, 0.0
    if n * (n - 1) // 2 > max_pairs:  # else there are too few events to exceed it
        at_least, side = _pairs_at_least(x, y, distance_edges, max_pairs)
    if at_least > max_pairs:
        shrink = math.sqrt(max_pairs / at_least)
        raise ValueError(
            f"{n:,} events form at least {at_least:,} pairs within {_fmt(reach)} m (a lower "
            f"bound counted on a grid of {side:g} m cells, before any pair is stored), more "
            f"than max_pairs={max_pairs:,} (the pair table would take at least "
            f"{at_least * 6 / 1e9:.1f} GB and every permutation would visit every pair). Use "
            f"a smaller maximum distance (the last edge of distance_bands; about "
            f"{_fmt(round(reach * shrink))} m or less), fewer events (a smaller area or "
            "period), or raise max_pairs if you have the memory and time."
        )
    xmin, ymin = float(x.min()), float(y.min())
    span = max(float(x.max()) - xmin, float(y.max()) - ymin)
    # Buckets a little wider than the reach (so rounding cannot put two events within reach
    # two buckets apart), and at most about 2**20 per axis.
    size = max(reach * (1.0 + 1e-6), span / 2.0**20, 1e-9)
    bx = np.floor((x - xmin) / size).astype(np.int64)
    by = np.floor((y - ymin) / size).astype(np.int64)
    n_bx, n_by = int(bx.max()) + 1, int(by.max()) + 1
    keys = bx * n_by + by
    order = np.argsort(keys, kind="stable")
    xs, ys = np.ascontiguousarray(x[order]), np.ascontiguousarray(y[order])
    geometry = (
        np.ascontiguousarray(bx[order]), np.ascontiguousarray(by[order]), n_bx, n_by,
        np.ascontiguousarray(keys[order]), distance_edges, same_location,
    )  # fmt: skip
    # Candidates visited: each event against the events of the 3 x 3 buckets around its own.
    _, per_bucket = np.unique(geometry[4], return_counts=True)
    with threads_for(9.0 * float(np.dot(per_bucket, per_bucket)) / 2.0):
        sizes = _k._pair_sizes(xs, ys, *geometry)
    n_pairs = int(sizes.sum())
    if n_pairs > max_pairs:
        shrink = math.sqrt(max_pairs / n_pairs)
        raise ValueError(
            f"{n:,} events form {n_pairs:,} pairs within {_fmt(reach)} m, more than "
            f"max_pairs={max_pairs:,} (the pair table would take about "
            f"{n_pairs * 6 / 1e9:.1f} GB and every permutation would visit every pair). "
            f"Use a smaller maximum distance (the last edge of distance_bands; about "
            f"{_fmt(round(reach * shrink))} m would give roughly {max_pairs:,} pairs), fewer "
            "events (a smaller area or period), or raise max_pairs if you have the memory "
            "and time."
        )
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(sizes, out=ptr[1:])
    with threads_for(9.0 * float(np.dot(per_bucket, per_bucket)) / 2.0):
        nbr, rows = _k._pair_table(xs, ys, ptr, *geometry)
    return _Pairs(order, ptr, nbr, rows)


def _permutation_counts(t, perms, pairs: _Pairs, time_edges, n_rows) -> np.ndarray:
    """Count the pairs per cell for each permutation: shape (n_perms, n_rows, n_time_bands).

    Row ``p`` of ``perms`` gives the event with index ``e`` the time ``t[perms[p, e]]``.
    """
    perms = np.ascontiguousarray(perms, dtype=np.int64)
    with threads_for(float(len(perms)) * (len(pairs.order) + len(pairs.nbr))):
        return _k._permutation_counts(t, perms, *pairs, time_edges, n_rows)


def knox_counts(
    t,
    x,
    y,
    *,
    distance_bands=(0, 100, 200, 300, 400, 500),
    time_bands_days=(0, 7, 14, 21, 28),
    same_location=True,
) -> np.ndarray:
    """Observed Knox table from plain arrays: pairs of events per distance and time band.

    Parameters
    ----------
    t : array-like of int
        Event instants, int64 UTC seconds (any order).
    x, y : array-like of float
        Event coordinates in metres (projected CRS).
    distance_bands : sequence of float, default (0, 100, 200, 300, 400, 500)
        Ascending distance band edges in metres (see the module notes for the band rule).
    time_bands_days : sequence of float, default (0, 7, 14, 21, 28)
        Ascending edges of the bands of ``|t_i - t_j|``, in days of 86,400 s.
    same_location : bool, default True
        Put the pairs at distance exactly 0 in an extra first row.

    Returns
    -------
    ndarray of int64, shape (n_distance_rows, n_time_bands)
        ``n_distance_rows`` is ``len(distance_bands) - 1``, plus 1 with ``same_location``.
        Each unordered pair of events counts once.

    Examples
    --------
    >>> import numpy as np
    >>> day = 86_400
    >>> t = np.array([0, 3 * day, 10 * day])
    >>> x = np.array([0.0, 0.0, 150.0]); y = np.zeros(3)
    >>> knox_counts(t, x, y, distance_bands=(0, 100, 200), time_bands_days=(0, 7, 14))
    array([[1, 0],
           [0, 0],
           [1, 1]])

    The first pair is at the same place 3 days apart; the other two are 150 m apart, 10 and
    7 days (a tie: 7 days is in the closed first band ``[0, 7]``).
    """
    t, x, y = _arrays(t, x, y)
    distance_edges = _edges(distance_bands, "distance_bands", "metres")
    time_edges = _edges(time_bands_days, "time_bands_days", "days") * float(DAY)
    same_location = check_bool(same_location, "same_location")
    n_rows = len(distance_edges) - 1 + same_location
    pairs = _close_pairs(x, y, distance_edges, same_location, np.iinfo(np.int64).max)
    identity = np.arange(len(t), dtype=np.int64)[None, :]
    return _permutation_counts(t, identity, pairs, time_edges, n_rows)[0]


# ---------------------------------------------------------------------- result
def _readonly(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class KnoxResult:
    """Result of :func:`knox_test`: a Knox table with Monte Carlo inference.

    Every array has shape ``(n_distance_rows, n_time_bands)``: rows are the distance bands
    (with ``same_location``, row 0 is "same location"), columns the time bands. Arrays are
    read-only.

    Attributes
    ----------
    distance_bands : tuple of float
        Distance band edges, metres.
    time_bands_days : tuple of float
        Time band edges, days.
    same_location : bool
        Whether row 0 holds the pairs at distance 0.
    observed : ndarray of int64
        Pairs of events per cell.
    expected : ndarray of float64
        Mean count over the permutations.
    std : ndarray of float64
        Standard deviation of the count over the permutations (``ddof=1``; NaN for a single
        permutation).
    ratio : ndarray of float64
        Knox ratio ``observed / expected`` (NaN for 0/0, inf when only the observed count
        is positive).
    p_value : ndarray of float64
        ``(1 + number of permutations with count >= observed) / (n_permutations + 1)``:
        one-sided, for an excess of close pairs. The smallest possible value is
        ``1 / (n_permutations + 1)``.
    z : ndarray of float64
        ``(observed - expected) / std`` (NaN where ``std`` is 0 and the counts agree,
        +-inf where it is 0 and they differ).
    n_permutations : int
    n_events : int
    n_pairs : int
        Pairs of events in some distance row, at any time difference.
    random_state : int, numpy.random.Generator or None
        As passed to :func:`knox_test`.
    """

    distance_bands: tuple
    time_bands_days: tuple
    same_location: bool
    observed: np.ndarray
    expected: np.ndarray
    std: np.ndarray
    ratio: np.ndarray
    p_value: np.ndarray
    z: np.ndarray
    n_permutations: int
    n_events: int
    n_pairs: int
    random_state: object = field(default=None, repr=False)

    def __repr__(self) -> str:
        rows, cols = self.observed.shape
        return (
            f"KnoxResult({rows} distance rows x {cols} time bands, {self.n_events:,} events, "
            f"{self.n_pairs:,} close pairs, {self.n_permutations} permutations)"
        )

    @property
    def distance_labels(self) -> list[str]:
        """Row labels: ``"same location"``, ``"0-100 m"``, ``"100-200 m"``, ..."""
        return _distance_labels(self.distance_bands, self.same_location)

    @property
    def time_labels(self) -> list[str]:
        """Column labels: ``"0-7 days"``, ``"7-14 days"``, ..."""
        return _time_labels(self.time_bands_days)

    def to_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Return the table in tidy form: one row per (distance band, time band) cell.

        Parameters
        ----------
        alpha : float, default 0.05
            Significance level of the ``significant`` column (``p_value < alpha``).

        Returns
        -------
        pandas.DataFrame
            Columns ``distance_band`` and ``time_band`` (ordered categoricals, labels as
            :attr:`distance_labels` and :attr:`time_labels`), ``observed``, ``expected``,
            ``knox_ratio``, ``p_value``, ``significant``; distance bands vary slowest.

        Examples
        --------
        >>> from caslite.events import Events
        >>> day = 86_400
        >>> events = Events([0, 2 * day, 30 * day], [0.0, 50.0, 0.0], [0.0, 0.0, 0.0],
        ...                 crs="EPSG:28992", tz="Europe/Amsterdam")
        >>> result = knox_test(events, n_permutations=9, random_state=0)
        >>> frame = result.to_frame()
        >>> frame.shape
        (24, 7)
        >>> frame.loc[4, ["distance_band", "time_band"]].tolist(), int(frame.loc[4, "observed"])
        (['0-100 m', '0-7 days'], 1)
        """
        alpha = _check_alpha(alpha)
        rows, cols = self.observed.shape
        distance = pd.Categorical(
            np.repeat(self.distance_labels, cols), categories=self.distance_labels, ordered=True
        )
        time = pd.Categorical(
            np.tile(self.time_labels, rows), categories=self.time_labels, ordered=True
        )
        return pd.DataFrame(
            {
                "distance_band": distance,
                "time_band": time,
                "observed": self.observed.ravel(),
                "expected": self.expected.ravel(),
                "knox_ratio": self.ratio.ravel(),
                "p_value": self.p_value.ravel(),
                "significant": self.p_value.ravel() < alpha,
            }
        )

    def to_table(self, value: str = "knox_ratio", alpha: float = 0.05) -> pd.DataFrame:
        """Return the NRC-style wide table: distance bands as rows, time bands as columns.

        Parameters
        ----------
        value : {"knox_ratio", "observed", "expected", "std", "p_value", "z", "significant"}
            What to show in the cells.
        alpha : float, default 0.05
            Significance level for ``value="significant"`` (``p_value < alpha``).

        Returns
        -------
        pandas.DataFrame
            Index ``distance`` (:attr:`distance_labels`), columns ``time``
            (:attr:`time_labels`).

        Examples
        --------
        >>> from caslite.events import Events
        >>> day = 86_400
        >>> events = Events([0, 2 * day, 30 * day], [0.0, 50.0, 0.0], [0.0, 0.0, 0.0],
        ...                 crs="EPSG:28992", tz="Europe/Amsterdam")
        >>> table = knox_test(events, n_permutations=9, random_state=0).to_table("observed")
        >>> table.iloc[:2]  # doctest: +NORMALIZE_WHITESPACE
        time           0-7 days  7-14 days  14-21 days  21-28 days
        distance
        same location         0          0           0           0
        0-100 m               1          0           0           1
        """
        arrays = {
            "observed": self.observed,
            "expected": self.expected,
            "std": self.std,
            "knox_ratio": self.ratio,
            "p_value": self.p_value,
            "z": self.z,
        }
        if value == "significant":
            data = self.p_value < _check_alpha(alpha)
        elif value in arrays:
            data = arrays[value]
        else:
            raise ValueError(f"value={value!r} is not one of {list(_VALUES)}.")
        return pd.DataFrame(
            np.array(data),
            index=pd.Index(self.distance_labels, name="distance"),
            columns=pd.Index(self.time_labels, name="time"),
        )

    def plot(self, ax=None, alpha: float = 0.05):
        """Heat map of the Knox ratios, significant cells outlined and starred.

        Colours are centred on a ratio of 1 (red: more close pairs than expected, blue:
        fewer), the scale as far on both sides as the farthest ratio but never below 0 (a
        ratio of counts is not negative: then the blue half spans 0 .. 1, the red half
        1 .. the largest ratio); each cell shows its ratio, with ``*`` where
        ``p_value < alpha``.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; a new figure (not registered with pyplot) is made when omitted.
        alpha : float, default 0.05
            Significance level of the marks.

        Returns
        -------
        matplotlib.axes.Axes

        Examples
        --------
        >>> from caslite.events import Events
        >>> day = 86_400
        >>> events = Events([0, 2 * day, 30 * day], [0.0, 50.0, 0.0], [0.0, 0.0, 0.0],
        ...                 crs="EPSG:28992", tz="Europe/Amsterdam")
        >>> ax = knox_test(events, n_permutations=9, random_state=0).plot()
        >>> ax.images[0].get_array().shape
        (6, 4)
        """
        from matplotlib.colors import TwoSlopeNorm
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle

        alpha = _check_alpha(alpha)
        rows, cols = self.ratio.shape
        if ax is None:
            figure = Figure(figsize=(2.0 + 1.3 * cols, 1.5 + 0.55 * rows), layout="constrained")
            ax = figure.add_subplot()
        finite = np.isfinite(self.ratio)
        span = float(np.max(np.abs(self.ratio[finite] - 1.0))) if finite.any() else 0.0
        span = span if span > 0 else 0.5
        # centred on 1; a ratio cannot be negative, so the scale stops at 0 below
        norm = TwoSlopeNorm(vcenter=1.0, vmin=max(0.0, 1.0 - span), vmax=1.0 + span)
        image = ax.imshow(
            np.ma.masked_invalid(self.ratio),
            cmap="RdBu_r",
            norm=norm,
            aspect="auto",
            interpolation="nearest",
        )
        significant = self.p_value < alpha
        for r in range(rows):
            for c in range(cols):
                value = self.ratio[r, c]
                text = "-" if np.isnan(value) else f"{value:.2f}"
                if significant[r, c]:
                    text += "*"
                    ax.add_patch(
                        Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="black", lw=2)
                    )
                dark = np.isfinite(value) and abs(float(norm(value)) - 0.5) > 0.35
                ax.text(
                    c, r, text, ha="center", va="center", fontsize=9,
                    color="white" if dark else "black",
                )  # fmt: skip
        ax.set_xticks(range(cols), self.time_labels)
        ax.set_yticks(range(rows), self.distance_labels)
        ax.set_xlabel("time between events")
        ax.set_ylabel("distance between events")
        ax.set_title(
            f"Knox ratios, {self.n_permutations} permutations (* p < {_fmt(alpha)})", fontsize=10
        )
        ax.figure.colorbar(image, ax=ax, label="Knox ratio (observed / expected)")
        return ax


# ---------------------------------------------------------------------- the test
def _progress_bar(total: int):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError(
            "progress=True needs tqdm, which is not installed; install it with "
            "`pip install tqdm`, or pass progress=False."
        ) from None
    return tqdm(total=total, desc="Knox permutations", unit="perm")


def knox_test(
    events,
    *,
    distance_bands=(0, 100, 200, 300, 400, 500),
    time_bands_days=(0, 7, 14, 21, 28),
    same_location=True,
    n_permutations=999,
    random_state=None,
    progress=False,
    max_pairs=MAX_PAIRS,
) -> KnoxResult:
    """Knox test for near repeats, as in Ratcliffe's Near Repeat Calculator.

    Counts the pairs of events per distance band and time band and compares each count with
    its distribution under Monte Carlo permutation of the event times over the events
    (which keeps where events happen and when they happen, and breaks only the link between
    the two).

    Parameters
    ----------
    events : caslite.Events
        The incidents. The time of an event is ``events.t``; for an uncertain time (a window,
        ``events.has_windows``) that is the **start** of the window, as in the NRC (which
        takes one date per event). Aoristic spreading is not done.
    distance_bands : sequence of float, default (0, 100, 200, 300, 400, 500)
        Ascending distance band edges in metres, at least 2. Band ``k`` is
        ``(e_k, e_k+1]``, the first one closed, ``[e_0, e_1]``; pairs farther than the last
        edge are not counted. The Euclidean distance is ``hypot(dx, dy)`` in the events' CRS.
    time_bands_days : sequence of float, default (0, 7, 14, 21, 28)
        Ascending edges of the bands of ``|t_i - t_j|`` in days (86,400 s), same rule: the
        default bands are ``[0, 7]``, ``(7, 14]``, ``(14, 21]``, ``(21, 28]`` days.
    same_location : bool, default True
        Add a first distance row "same location" for pairs at distance exactly 0 (the
        NRC's row for repeats at the same address); distance 0 is then in no other band.
    n_permutations : int, default 999
        Number of permutations of the times.
    random_state : int, numpy.random.Generator or None
        Seed of :func:`numpy.random.default_rng`. The permutations are drawn one after the
        other from it, so a given seed gives the same result on any machine and thread count.
    progress : bool, default False
        Show a progress bar (needs the optional package ``tqdm``).
    max_pairs : int, default 200,000,000
        Refuse (``ValueError``) when more pairs of events than this lie within the last
        distance edge; the message says how many and suggests a smaller maximum distance.
        The refusal is immediate when a count on a grid of a quarter of the last edge (a
        lower bound: only pairs of cells wholly within reach of each other) already exceeds
        it; otherwise the pairs are counted exactly first.

    Returns
    -------
    KnoxResult
        Observed counts, permutation mean and standard deviation, Knox ratios, p-values and
        z-scores per cell. Each unordered pair of events counts once.

    Raises
    ------
    TypeError
        If ``events`` is not :class:`~caslite.events.Events`, or an argument has the wrong
        type.
    ValueError
        For band edges that are not ascending, negative, or fewer than 2; fewer than 2
        events; ``n_permutations < 1``; more pairs than ``max_pairs``.

    See Also
    --------
    knox_counts : the observed table from plain arrays.
    suggest_bandwidths : near-repeat kernel bandwidths from the result.

    Notes
    -----
    Time and memory grow with the number of close pairs (within the last distance edge):
    the pairs are stored once (6 bytes each) and every permutation visits all of them.
    The permutation null hypothesis assumes events are exchangeable in time; strong trends
    or seasonality in both space and time (e.g. a new estate built mid-period) can inflate
    the ratios at long time lags, which is why short bands matter.

    Examples
    --------
    >>> from caslite.events import Events
    >>> day = 86_400
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> day = 86_400
    >>> n = 40  # 40 burglaries, each followed 3 days later by one 50 m away
    >>> t0 = rng.integers(0, 365 * day, n)
    >>> x0, y0 = rng.uniform(0, 5000, n), rng.uniform(0, 5000, n)
    >>> events = Events(np.r_[t0, t0 + 3 * day], np.r_[x0, x0 + 30.0], np.r_[y0, y0 + 40.0],
    ...                 crs="EPSG:28992", tz="Europe/Amsterdam")
    >>> result = knox_test(events, n_permutations=99, random_state=0)
    >>> result
    KnoxResult(6 distance rows x 4 time bands, 80 events, 129 close pairs, 99 permutations)
    >>> result.observed[1]  # the "0-100 m" row
    array([40,  0,  0,  0])
    >>> round(float(result.ratio[1, 0]), 1), float(result.p_value[1, 0])
    (22.0, 0.01)
    """
    from caslite.events import Events

    if not isinstance(events, Events):
        raise TypeError(
            f"events must be caslite Events (see Events.from_frame or caslite.as_events), got "
            f"{type(events).__name__}; use knox_counts(t, x, y) for the observed table from "
            "plain arrays."
        )
    t, x, y = _arrays(events.t, events.x, events.y)
    distance_edges = _edges(distance_bands, "distance_bands", "metres")
    time_edges_days = _edges(time_bands_days, "time_bands_days", "days")
    time_edges = time_edges_days * float(DAY)
    same_location = check_bool(same_location, "same_location")
    n_permutations = check_int(n_permutations, "n_permutations", 1)
    progress = check_bool(progress, "progress")
    max_pairs = check_int(max_pairs, "max_pairs", 0)
    check_random_state(random_state)
    bar = _progress_bar(n_permutations) if progress else None

    n = len(t)
    n_rows = len(distance_edges) - 1 + same_location
    try:
        pairs = _close_pairs(x, y, distance_edges, same_location, max_pairs)
        _warn_powerless(t, x, y, pairs, distance_edges)
        identity = np.arange(n, dtype=np.int64)[None, :]
        observed = _permutation_counts(t, identity, pairs, time_edges, n_rows)[0]
        rng = np.random.default_rng(random_state)
        batch = max(1, min(64, _PERMUTATION_BYTES // (8 * n)))
        counts = np.empty((n_permutations, *observed.shape), dtype=np.int64)
        for start in range(0, n_permutations, batch):
            stop = min(start + batch, n_permutations)
            perms = np.empty((stop - start, n), dtype=np.int64)
            for k in range(stop - start):
                perms[k] = rng.permutation(n)
            counts[start:stop] = _permutation_counts(t, perms, pairs, time_edges, n_rows)
            if bar is not None:
                bar.update(stop - start)
    finally:
        if bar is not None:
            bar.close()

    expected = counts.mean(axis=0)
    if n_permutations > 1:
        std = counts.std(axis=0, ddof=1)
    else:
        std = np.full(observed.shape, np.nan)
    exceed = (counts >= observed[None]).sum(axis=0)
    p_value = (1.0 + exceed) / (n_permutations + 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = observed / expected
        z = (observed - expected) / std
    return KnoxResult(
        distance_bands=tuple(float(v) for v in distance_edges),
        time_bands_days=tuple(float(v) for v in time_edges_days),
        same_location=same_location,
        observed=_readonly(observed),
        expected=_readonly(expected),
        std=_readonly(std),
        ratio=_readonly(ratio),
        p_value=_readonly(p_value),
        z=_readonly(z),
        n_permutations=n_permutations,
        n_events=n,
        n_pairs=int(pairs.ptr[-1]),
        random_state=random_state,
    )


def _warn_powerless(t, x, y, pairs: _Pairs, distance_edges) -> None:
    """Warn when the permutations cannot change the table: every p-value will be 1."""
    n = len(t)
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        why = f"all {n:,} events are at one place"
    elif np.ptp(t) == 0:
        why = f"all {n:,} events are at one instant"
    elif int(pairs.ptr[-1]) == 0:
        why = f"no two of the {n:,} events lie within {_fmt(distance_edges[-1])} m of each other"
    else:
        return
    warn_user(
        f"{why}, so permuting the times cannot change the Knox table: every p-value is 1 and "
        "the test says nothing about near repeats. Check the coordinates and times, or use "
        "wider bands.",
        CasliteWarning,
    )


# ---------------------------------------------------------------------- bandwidths
@dataclass(frozen=True, eq=False)
class BandwidthSuggestion:
    """Near-repeat kernel bandwidths read off a Knox table (see :func:`suggest_bandwidths`).

    Fields are also readable dict-style, ``suggestion["radius_m"]``.

    Attributes
    ----------
    radius_m : float or None
        Spatial extent of the significant excess, metres (0.0 when only the same-location
        row is significant); None when there is no significant excess.
    window_days : float or None
        Temporal extent of the significant excess, days; None when there is none.
    space : caslite.nearrepeat.ExponentialSpace or None
        ``ExponentialSpace(scale=radius_m / 2, radius=radius_m)``; None when ``radius_m``
        is 0 or None.
    time : caslite.nearrepeat.ExponentialTime or None
        ``ExponentialTime(scale_days=window_days / 2, window_days=window_days)``; None when
        there is no significant excess.
    region : ndarray of bool
        The cells of the table that make up the excess (shape of ``result.observed``).
    message : str
        What was found, in words, including warnings (an excess that reaches the last band).
    """

    radius_m: float | None
    window_days: float | None
    space: object
    time: object
    region: np.ndarray = field(repr=False)
    message: str = ""

    def __getitem__(self, key: str):
        """Dict-style access to a field, e.g. ``suggestion["radius_m"]``."""
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)


def suggest_bandwidths(
    result: KnoxResult, alpha: float = 0.05, *, min_ratio: float = 1.0
) -> BandwidthSuggestion:
    """Propose near-repeat kernel bandwidths from the significant excess of a Knox table.

    Rule: a cell is *significant* when its Knox ratio is above ``min_ratio`` (default 1)
    and its p-value below ``alpha``. The *excess region* is the set of significant cells
    connected (through cells sharing an edge) to the closest cell: the shortest time band in
    the first distance row, or, with ``same_location``, in the same-location row or the first
    distance band (the same-location row holds few pairs and is often not significant on its
    own). Then

    - ``radius_m`` = upper edge of the farthest distance band in the region (0 when the
      region is only the same-location row);
    - ``window_days`` = upper edge of the longest time band in the region;
    - ``space = ExponentialSpace(scale=radius_m / 2, radius=radius_m)`` and
      ``time = ExponentialTime(scale_days=window_days / 2, window_days=window_days)``: a
      weight that is still ``exp(-2) = 0.14`` at the edge of the excess, and zero beyond.

    When the region is empty (no significant excess at the closest cell) all four are None
    and ``message`` says so; nothing is raised. An excess that reaches the last band may
    extend beyond it: ``message`` then suggests wider bands.

    Parameters
    ----------
    result : KnoxResult
        From :func:`knox_test`.
    alpha : float, default 0.05
        Significance level.
    min_ratio : float, default 1.0
        Smallest Knox ratio that counts as an excess. With many events even a ratio of 1.05
        is significant; ``min_ratio=1.2`` keeps only cells with at least 20 % more close
        pairs than expected, which gives tighter, more practical bandwidths.

    Returns
    -------
    BandwidthSuggestion

    Examples
    --------
    >>> import numpy as np
    >>> from caslite.events import Events
    >>> rng = np.random.default_rng(0)
    >>> day = 86_400
    >>> n = 40  # 40 pairs: each event repeated 3 days later within 50 m
    >>> t0 = rng.integers(0, 365 * day, n); x0 = rng.uniform(0, 5000, n)
    >>> y0 = rng.uniform(0, 5000, n)
    >>> events = Events(np.r_[t0, t0 + 3 * day], np.r_[x0, x0 + 30.0], np.r_[y0, y0 + 40.0],
    ...                 crs="EPSG:28992", tz="Europe/Amsterdam")
    >>> result = knox_test(events, n_permutations=99, random_state=0)
    >>> suggestion = suggest_bandwidths(result)
    >>> suggestion.radius_m, suggestion.window_days
    (100.0, 7.0)
    >>> suggestion.space
    ExponentialSpace(scale=50.0, radius=100.0, form='continuous')
    """
    if not isinstance(result, KnoxResult):
        raise TypeError(f"result must be a KnoxResult from knox_test, got {type(result).__name__}.")
    alpha = _check_alpha(alpha)
    if (
        isinstance(min_ratio, bool)
        or not isinstance(min_ratio, numbers.Real)
        or not 0 <= min_ratio < math.inf
    ):
        raise ValueError(f"min_ratio must be a finite number >= 0, e.g. 1.2; got {min_ratio!r}.")
    min_ratio = float(min_ratio)
    from caslite.nearrepeat import ExponentialSpace, ExponentialTime

    significant = (result.ratio > min_ratio) & (result.p_value < alpha)
    rows, cols = significant.shape
    seeds = [(0, 0)] + ([(1, 0)] if result.same_location and rows > 1 else [])
    region = np.zeros_like(significant)
    stack = [cell for cell in seeds if significant[cell]]
    while stack:
        r, c = stack.pop()
        if region[r, c]:
            continue
        region[r, c] = True
        for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= rr < rows and 0 <= cc < cols and significant[rr, cc] and not region[rr, cc]:
                stack.append((rr, cc))
    region.setflags(write=False)

    if not region.any():
        elsewhere = int(significant.sum())
        closest = " or ".join(
            f"'{result.distance_labels[r]}, {result.time_labels[0]}'" for r, _ in seeds
        )
        message = (
            f"no significant near-repeat excess (Knox ratio > {_fmt(min_ratio)} and p < "
            f"{_fmt(alpha)}) at the "
            f"closest cell {closest}; no bandwidths suggested."
        )
        if elsewhere:
            message += (
                f" {elsewhere} other cell(s) are significant but not connected to it; read "
                "them with result.to_table()."
            )
        return BandwidthSuggestion(None, None, None, None, region, message)

    region_rows = np.flatnonzero(region.any(axis=1))
    region_cols = np.flatnonzero(region.any(axis=0))
    far, late = int(region_rows.max()), int(region_cols.max())
    band = far - int(result.same_location)
    radius = 0.0 if band < 0 else float(result.distance_bands[band + 1])
    window = float(result.time_bands_days[late + 1])
    space = ExponentialSpace(scale=radius / 2.0, radius=radius) if radius > 0 else None
    time = ExponentialTime(scale_days=window / 2.0, window_days=window)
    message = (
        f"significant excess of close pairs (Knox ratio > {_fmt(min_ratio)}, p < {_fmt(alpha)}) in "
        f"{int(region.sum())} cell(s), up to {_fmt(radius)} m and {_fmt(window)} days."
    )
    if radius == 0:
        message += (
            " Only repeats at the same location are significant: use a kernel no wider than "
            "a cell (no spatial kernel suggested)."
        )
    if far == rows - 1:
        message += (
            " The excess reaches the last distance band and may extend beyond "
            f"{_fmt(result.distance_bands[-1])} m: rerun with wider distance_bands."
        )
    if late == cols - 1:
        message += (
            " The excess reaches the last time band and may extend beyond "
            f"{_fmt(result.time_bands_days[-1])} days: rerun with wider time_bands_days."
        )
    return BandwidthSuggestion(radius, window, space, time, region, message)
