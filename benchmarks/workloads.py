"""Seeded workload generators for the benchmark suite: study areas, burglary-like events, blocks.

Events imitate residential burglary: a mixture of

- Gaussian **hot spots** (a few hundred metres wide, unequal weights),
- a **uniform floor** over the study area,
- **near-repeat offspring**: a later event close to an earlier one (same address or a few
  houses away, days to a few weeks later),

with instants spread over the year before the forecast origin (a mild seasonal cycle), so that
scores have the clustered footprints and uneven time windows of real data. Everything is
drawn from ``np.random.default_rng(seed)``; the same profile always gives the same arrays.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from caslite.events import Events
from caslite.grid import Grid
from caslite.shifts import ShiftSchedule

CRS = "EPSG:28992"  # Amersfoort / RD New, metres
TZ = "Europe/Amsterdam"
ORIGIN = "2024-03-04 00:00"  # a Monday, local time; the horizon is the 14 days from here
CELL = 125.0
DAY = 86_400
YEAR = 365 * DAY
SCHEDULE = ShiftSchedule.every(4, tz=TZ)


# ---------------------------------------------------------------------- study areas
def square(side_m: float, x0: float = 110_000.0, y0: float = 470_000.0) -> shapely.Polygon:
    """A square study area of ``side_m`` metres, its lower-left corner on the 125 m lattice."""
    return shapely.box(x0, y0, x0 + side_m, y0 + side_m)


def country_polygon(target_cells: int, seed: int) -> shapely.Polygon:
    """An irregular, country-shaped polygon whose area is about ``target_cells`` cells.

    A star-shaped outline whose radius wanders smoothly (a few low-frequency harmonics with
    seeded phases), scaled so that its area equals ``target_cells`` cells of 125 m. The grid
    over it is masked: about a fifth of the raster's cells are inactive, as along a coast.
    """
    rng = np.random.default_rng(seed)
    angles = np.linspace(0.0, 2.0 * math.pi, 720, endpoint=False)
    radius = np.ones_like(angles)
    for k, amplitude in [(2, 0.12), (3, 0.09), (5, 0.05), (9, 0.03), (17, 0.015)]:
        radius += amplitude * np.cos(k * angles + rng.uniform(0.0, 2.0 * math.pi))
    outline = shapely.Polygon(np.column_stack([radius * np.cos(angles), radius * np.sin(angles)]))
    scale = math.sqrt(target_cells * CELL * CELL / outline.area)
    cx, cy = 155_000.0, 463_000.0  # the middle of the Netherlands in RD New
    coords = np.asarray(outline.exterior.coords) * scale + [cx, cy]
    return shapely.Polygon(coords)


# ---------------------------------------------------------------------- events
def burglary_events(
    area: shapely.Polygon,
    n: int,
    origin: int,
    seed: int,
    *,
    n_hotspots: int,
    span_s: int = YEAR,
    floor_share: float = 0.25,
    repeat_share: float = 0.3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n`` clustered events inside ``area`` in ``[origin - span_s, origin)``.

    Parameters
    ----------
    area : shapely.Polygon
        Study area; every event lies inside it.
    n : int
        Number of events.
    origin : int
        Forecast origin, UTC seconds; every event is strictly earlier.
    seed : int
        Seed of ``np.random.default_rng``.
    n_hotspots : int
        Number of Gaussian hot spots (their centres uniform over the area).
    span_s : int, default one year
        Length of the period before the origin.
    floor_share, repeat_share : float
        Shares of uniform-floor events and of near-repeat offspring; the rest are drawn from
        the hot spots.

    Returns
    -------
    t, x, y : ndarray
        int64 UTC seconds (ascending) and float64 metres.
    """
    rng = np.random.default_rng(seed)
    n_repeat = int(round(repeat_share * n))
    n_parent = n - n_repeat
    n_floor = int(round(floor_share * n_parent))
    n_hot = n_parent - n_floor

    centres = _uniform_in(area, n_hotspots, rng)
    widths = rng.uniform(300.0, 1200.0, n_hotspots)
    weights = rng.dirichlet(np.full(n_hotspots, 2.0))
    which = rng.choice(n_hotspots, size=n_hot, p=weights)
    hot = _inside(area, centres[which], widths[which], rng)
    px = np.concatenate([hot[:, 0], _uniform_in(area, n_floor, rng)[:, 0]])
    py = np.concatenate([hot[:, 1], _uniform_in(area, n_floor, rng)[:, 1]])
    # parents: a seasonal cycle (more in the dark months) over the year before the origin
    phase = rng.uniform(0.0, 1.0, 4 * n_parent)
    keep = rng.uniform(0.0, 1.0, phase.size) < 0.75 + 0.25 * np.cos(2.0 * math.pi * phase)
    phase = phase[keep][:n_parent]
    pt = origin - 1 - np.floor(phase * (span_s - 1)).astype(np.int64)

    # near repeats: a parent, then the same address or a few houses away, days to weeks later
    parent = rng.integers(0, n_parent, n_repeat)
    same = rng.uniform(0.0, 1.0, n_repeat) < 0.2
    offset = rng.normal(0.0, 80.0, (n_repeat, 2)) * ~same[:, None]
    rx = np.clip(px[parent] + offset[:, 0], *_span(area, 0))
    ry = np.clip(py[parent] + offset[:, 1], *_span(area, 1))
    outside = ~shapely.contains_xy(area, rx, ry)
    rx[outside], ry[outside] = px[parent][outside], py[parent][outside]
    lag = np.ceil(rng.exponential(6.0 * DAY, n_repeat)).astype(np.int64) + 600
    rt = pt[parent] + lag
    late = rt >= origin  # a repeat after the origin is put as long before its parent instead
    rt[late] = np.maximum(pt[parent][late] - lag[late], origin - span_s)

    t = np.concatenate([pt, rt])
    x = np.concatenate([px, rx])
    y = np.concatenate([py, ry])
    order = np.argsort(t, kind="stable")
    return t[order], x[order], y[order]


def _span(area, axis: int) -> tuple[float, float]:
    lo = area.bounds[axis]
    hi = area.bounds[axis + 2]
    return lo, hi


def _uniform_in(area, n: int, rng) -> np.ndarray:
    """``n`` points uniform inside ``area`` (rejection from its bounding box)."""
    x0, y0, x1, y1 = area.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        m = max(2 * (n - len(out)), 16)
        pts = np.column_stack([rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)])
        out = np.concatenate([out, pts[shapely.contains_xy(area, pts[:, 0], pts[:, 1])]])
    return out[:n]


def _inside(area, centres: np.ndarray, widths: np.ndarray, rng) -> np.ndarray:
    """One Gaussian draw around each centre, redrawn until it falls inside ``area``."""
    pts = centres + rng.normal(0.0, 1.0, centres.shape) * widths[:, None]
    bad = ~shapely.contains_xy(area, pts[:, 0], pts[:, 1])
    while bad.any():
        idx = np.flatnonzero(bad)
        pts[idx] = centres[idx] + rng.normal(0.0, 1.0, (len(idx), 2)) * widths[idx, None]
        bad[idx] = ~shapely.contains_xy(area, pts[idx, 0], pts[idx, 1])
    return pts


# ---------------------------------------------------------------------- workloads
@dataclass(frozen=True)
class Scene:
    """A grid with its events and the blocks to score."""

    name: str
    grid: Grid
    events: Events
    blocks: object  # caslite.shifts.Blocks
    origin: int

    @property
    def n_cells(self) -> int:
        return self.grid.n_cells

    def subsample(self, stride: int) -> Events:
        """Every ``stride``-th event (still time-sorted): the small workload of the twin."""
        ev = self.events
        return Events(ev.t[::stride], ev.x[::stride], ev.y[::stride], crs=CRS, tz=TZ)


def origin_seconds() -> int:
    """The forecast origin in UTC seconds."""
    return int(SCHEDULE.horizon(ORIGIN, "1D").start[0])


@functools.lru_cache(maxsize=8)
def city(side_m: float, n_events: int, horizon_days: int, seed: int = 20240304) -> Scene:
    """A square city of ``side_m`` metres; forecast blocks of ``horizon_days`` after the origin.

    ``horizon_days`` may be fractional (e.g. 2 days = 12 blocks of 4 hours).
    """
    area = square(side_m)
    grid = Grid.from_area(area, cell_size=CELL, crs=CRS)
    origin = origin_seconds()
    n_hot = max(3, int(round((side_m / 20_000.0) ** 2 * 40)))
    t, x, y = burglary_events(area, n_events, origin, seed, n_hotspots=n_hot)
    blocks = SCHEDULE.horizon(origin, f"{int(horizon_days * 24)}h")
    events = Events(t, x, y, crs=CRS, tz=TZ)
    return Scene("city", grid, events, blocks, origin)


@functools.lru_cache(maxsize=2)
def country(target_cells: int, n_events: int, horizon_days: int, seed: int = 1815) -> Scene:
    """A country-shaped polygon of about ``target_cells`` cells, ``n_events`` over the year."""
    area = country_polygon(target_cells, seed)
    grid = Grid.from_area(area, cell_size=CELL, crs=CRS)
    origin = origin_seconds()
    n_hot = max(3, target_cells // 2_500)  # about one hot spot per 40 km2, as in the city
    t, x, y = burglary_events(area, n_events, origin, seed + 1, n_hotspots=n_hot)
    blocks = SCHEDULE.horizon(origin, f"{int(horizon_days * 24)}h")
    events = Events(t, x, y, crs=CRS, tz=TZ)
    return Scene("country", grid, events, blocks, origin)


def history_blocks(days: int):
    """The 4-hour blocks of the ``days`` local calendar days before the origin."""
    start = pd.Timestamp(ORIGIN) - pd.Timedelta(days=days)
    return SCHEDULE.blocks(str(start), ORIGIN)


def knox_events(n: int, side_m: float, seed: int = 1996) -> Events:
    """``n`` burglary-like events in a square city of ``side_m`` metres, for the Knox test.

    The events span ``n / 10,000`` years before the origin (the city's rate), at least one.
    """
    area = square(side_m)
    n_hot = max(3, int(round((side_m / 20_000.0) ** 2 * 40)))
    span = int(max(1.0, n / 10_000.0) * YEAR)
    t, x, y = burglary_events(area, n, origin_seconds(), seed, n_hotspots=n_hot, span_s=span)
    return Events(t, x, y, crs=CRS, tz=TZ)
