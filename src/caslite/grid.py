"""Square-cell grids over a study area, held in numpy arrays.

A :class:`Grid` is a raster of square cells (default 125 m) of which only the *active* cells,
those that overlap the study area, get public ids ``0 .. n_cells - 1`` in row-major raster
order. Everything is stored as flat arrays (no per-cell Python objects), so a national grid of
millions of cells fits in a few tens of megabytes.

Build one with :meth:`Grid.from_area` (a polygon or GeoDataFrame of the study area) or
:meth:`Grid.from_events` (an area derived from the incidents by a documented rule), then map
points to cells with :meth:`Grid.cell_of` or :meth:`Grid.locate`.

Raster convention: the lower-left corner is ``(x0, y0)`` and raster cell ``(row, col)`` spans
``[x0 + col * s, x0 + (col + 1) * s) x [y0 + row * s, y0 + (row + 1) * s)``; a point on a shared
edge belongs to the cell to its right or above, a point on the far right or top edge of the
raster is outside.
"""

from __future__ import annotations

import math

import numpy as np
import pyproj
import scipy.ndimage
import shapely

from caslite._timequality import far_from_rest, placeholder_points
from caslite._validation import (
    as_projected_crs,
    check_int,
    check_not_degrees,
    check_number,
    check_same_crs,
    check_share,
    describe_rows,
    warn_user,
)

__all__ = ["Grid"]

_RULES = ("hull", "bbox")
_OUTSIDE = ("raise", "drop")
_MAX_SHOWN = 5
_CHUNK = 1 << 18  # points per chunk of Grid.cell_of: bounded temporaries for any input size
_AREA_FIX = (
    "Reproject the area first, e.g. area.to_crs(events.crs) or "
    "area.to_crs(area.estimate_utm_crs()) for the local UTM zone."
)
_AREA_DEGREES_FIX = (
    "If they are degrees, build the area with its geographic CRS (e.g. "
    "geopandas.GeoSeries([area], crs='EPSG:4326')) and reproject it with .to_crs(...); if "
    "they are metres, check crs=."
)


class Grid:
    """A square-cell grid over a study area.

    Most users build it with :meth:`from_area` or :meth:`from_events`; this constructor takes
    the raster description and the mask of active cells, and only checks and indexes them.

    Parameters
    ----------
    x0, y0 : float
        Lower-left corner of the raster, in metres in ``crs``.
    cell_size : float
        Side of a cell in metres.
    n_cols, n_rows : int
        Raster size in cells.
    crs : str, int or pyproj.CRS
        Projected CRS in metres.
    active : ndarray of bool, shape (n_rows, n_cols), optional
        Which raster cells belong to the study area (row 0 is the bottom row). Default: all.
    area_fraction : ndarray of float, shape (n_rows, n_cols), optional
        Share of each cell inside the study area, in (0, 1] for active cells (values of
        inactive cells are ignored). Default: 1 for every active cell.

    Attributes
    ----------
    cell_row, cell_col : ndarray of int32
        Raster row and column of each active cell.
    area_fraction : ndarray of float64
        Share of each active cell inside the study area.

    Examples
    --------
    >>> import numpy as np
    >>> active = np.array([[True, True, False], [True, False, False]])
    >>> grid = Grid(x0=0.0, y0=0.0, cell_size=125.0, n_cols=3, n_rows=2,
    ...             crs="EPSG:32617", active=active)
    >>> grid
    Grid(125 m, 3 of 6 cells active, EPSG:32617)
    >>> grid.cell_col.tolist(), grid.cell_row.tolist()
    ([0, 1, 0], [0, 0, 1])
    """

    def __init__(self, *, x0, y0, cell_size, n_cols, n_rows, crs, active=None, area_fraction=None):
        self._x0 = check_number(x0, "x0", unit="metres")
        self._y0 = check_number(y0, "y0", unit="metres")
        self._cell_size = _positive_cell_size(cell_size)
        self._n_cols = check_int(n_cols, "n_cols")
        self._n_rows = check_int(n_rows, "n_rows")
        self._crs = as_projected_crs(crs, "the grid")
        shape = (self._n_rows, self._n_cols)
        active = _active_mask(active, shape)
        flat_active = np.flatnonzero(active)
        if flat_active.size == 0:
            raise ValueError(
                "the grid has no active cells; pass an `active` mask with at least one True "
                "value (or a study area that overlaps the raster)."
            )
        index_dtype = np.int32 if flat_active.size < np.iinfo(np.int32).max else np.int64
        raster_to_cell = np.full(active.size, -1, dtype=index_dtype)
        raster_to_cell[flat_active] = np.arange(flat_active.size, dtype=index_dtype)
        self._raster_to_cell = _read_only(raster_to_cell)
        self._cell_row = _read_only((flat_active // self._n_cols).astype(np.int32))
        self._cell_col = _read_only((flat_active % self._n_cols).astype(np.int32))
        self._area_fraction = _read_only(_active_fractions(area_fraction, shape, flat_active))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_area(
        cls, area, *, cell_size=125.0, crs=None, origin=None, min_overlap=0.0, max_cells=50_000_000
    ) -> Grid:
        """Build the grid of the cells that overlap a study area.

        Parameters
        ----------
        area : shapely Polygon or MultiPolygon, geopandas GeoDataFrame or GeoSeries
            The study area. The polygons of a GeoDataFrame/GeoSeries are unioned and its
            ``.crs`` is used.
        cell_size : float, default 125.0
            Side of a cell in metres.
        crs : str, int or pyproj.CRS, optional
            Projected CRS in metres. Required for a shapely geometry; for a GeoDataFrame it
            must equal the frame's CRS when both are given.
        origin : tuple of float, optional
            A point that the grid lines pass through; default ``(0, 0)``, so that grids of the
            same CRS and cell size align. The raster starts at the last grid line at or below
            the area's lower-left corner. Shift it by half a cell, e.g.
            ``origin=(cell_size / 2, cell_size / 2)``, for a sensitivity check.
        min_overlap : float, default 0.0
            A cell is active when the share of its square inside the area is greater than
            this (default: any positive overlap). Must be in [0, 1).
        max_cells : int, default 50_000_000
            Refuse (with ``ValueError``, before allocating anything) an area whose bounding
            raster has more cells than this. Building the grid takes about 50 bytes per raster
            cell at its peak (2.5 GB at the default); a larger raster usually means an area in
            other units than metres (degrees, feet, millimetres) or a wrong CRS.

        Returns
        -------
        Grid
            ``area_fraction`` holds the exact share of each active cell inside the area.

        Raises
        ------
        ValueError
            For an area without a CRS, in a geographic CRS or one not in metres, with
            coordinates that look like degrees passed as metres, invalid or empty, or too
            large for ``max_cells``.

        Notes
        -----
        Cells whose centre lies inside the area and that the area's boundary does not cross
        have fraction 1; cells away from the boundary with their centre outside have fraction
        0. The cells the boundary crosses are found from the boundary densified to at most
        half a cell between vertices (the cells of its vertices and their 8 neighbours), and
        only for those is the overlap computed exactly with shapely.

        Examples
        --------
        >>> import shapely
        >>> square = shapely.box(0.0, 0.0, 500.0, 250.0)
        >>> grid = Grid.from_area(square, cell_size=125.0, crs="EPSG:32617")
        >>> grid.shape, grid.n_cells
        ((2, 4), 8)
        >>> Grid.from_area(square, crs="EPSG:32617", origin=(62.5, 62.5)).shape
        (3, 5)
        """
        cell_size = _positive_cell_size(cell_size)
        min_overlap = _check_min_overlap(min_overlap)
        max_cells = check_int(max_cells, "max_cells")
        geometry, crs = _area_and_crs(area, crs)
        check_not_degrees(geometry.bounds, crs, "the study area", _AREA_DEGREES_FIX)
        x0, y0, n_cols, n_rows = _snapped_raster(geometry.bounds, cell_size, origin)
        if n_cols * n_rows > max_cells:
            size = np.format_float_positional(cell_size, trim="-")
            width, height = n_cols * cell_size / 1000, n_rows * cell_size / 1000
            raise ValueError(
                f"the study area's bounding raster would have {n_cols * n_rows:,} cells of "
                f"{size} m ({width:,.1f} km x {height:,.1f} km), more than "
                f"max_cells={max_cells:,}. Check that the area is in metres of "
                f"{crs.to_string()}; otherwise use a larger cell_size or raise max_cells= "
                f"(about 50 bytes per cell: {50 * n_cols * n_rows / 1e9:,.1f} GB)."
            )
        fraction = _overlap_fractions(geometry, x0, y0, cell_size, n_cols, n_rows)
        active = fraction > min_overlap
        if not active.any():
            raise ValueError(
                f"no cell overlaps the study area by more than min_overlap={min_overlap}; "
                "lower min_overlap or use a smaller cell_size."
            )
        return cls(
            x0=x0,
            y0=y0,
            cell_size=cell_size,
            n_cols=n_cols,
            n_rows=n_rows,
            crs=crs,
            active=active,
            area_fraction=np.minimum(fraction, 1.0),
        )

    @classmethod
    def from_events(
        cls, events, *, cell_size=125.0, rule="hull", buffer=None, origin=None, max_cells=2_000_000
    ) -> Grid:
        """Build a grid over a study area derived from the events.

        Parameters
        ----------
        events : Events or object with ``x``, ``y`` and ``crs`` attributes
            Event coordinates in metres. Row labels for messages are read from
            ``events.data.index`` when present, else positions are used.
        cell_size : float, default 125.0
            Side of a cell in metres.
        rule : {"hull", "bbox"}, default "hull"
            ``"hull"``: the convex hull of the events buffered by ``buffer`` metres.
            ``"bbox"``: the bounding box of the events enlarged by ``buffer`` on every side.
        buffer : float, optional
            Margin around the events in metres; default one ``cell_size``. It also gives a
            single event (or events all at one spot) a valid, small area.
        origin : tuple of float, optional
            A point the grid lines pass through (see :meth:`from_area`).
        max_cells : int, default 2_000_000
            Refuse (with ``ValueError``) a bounding raster larger than this many cells, which
            usually means a few events with wrong coordinates far away from the rest; the
            message names them. Also passed to :meth:`from_area`.

        Returns
        -------
        Grid

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> import numpy as np
        >>> events = SimpleNamespace(x=np.array([0.0, 1000.0, 0.0]),
        ...                          y=np.array([0.0, 0.0, 1000.0]), crs="EPSG:32617")
        >>> Grid.from_events(events, rule="bbox").shape
        (10, 10)
        >>> Grid.from_events(events, rule="hull").n_cells < 100
        True
        """
        if rule not in _RULES:
            raise ValueError(f"rule={rule!r} is not one of {list(_RULES)}.")
        cell_size = _positive_cell_size(cell_size)
        buffer = cell_size if buffer is None else check_number(buffer, "buffer", unit="metres")
        if buffer < 0:
            raise ValueError(f"buffer={buffer} is negative; pass a margin in metres >= 0.")
        max_cells = check_int(max_cells, "max_cells")
        x, y, crs, labels = _event_points(events)
        bounds = (x.min() - buffer, y.min() - buffer, x.max() + buffer, y.max() + buffer)
        *_, n_cols, n_rows = _snapped_raster(bounds, cell_size, origin)
        if n_cols * n_rows > max_cells:
            raise ValueError(
                _too_many_cells_message(x, y, labels, n_cols * n_rows, cell_size, buffer, max_cells)
            )
        area = _events_area(x, y, rule, buffer)
        if area.is_empty or area.area <= 0:
            raise ValueError(
                f"the events with rule={rule!r} and buffer={buffer} span no area (they lie on "
                "a line or at one point); pass buffer > 0."
            )
        return cls.from_area(area, cell_size=cell_size, crs=crs, origin=origin, max_cells=max_cells)

    # ------------------------------------------------------------------ properties
    @property
    def n_cells(self) -> int:
        """Number of active cells."""
        return int(self._cell_row.size)

    @property
    def shape(self) -> tuple[int, int]:
        """Raster shape ``(n_rows, n_cols)``."""
        return (self._n_rows, self._n_cols)

    @property
    def cell_size(self) -> float:
        """Side of a cell in metres."""
        return self._cell_size

    @property
    def x0(self) -> float:
        """X coordinate of the raster's lower-left corner."""
        return self._x0

    @property
    def y0(self) -> float:
        """Y coordinate of the raster's lower-left corner."""
        return self._y0

    @property
    def crs(self) -> pyproj.CRS:
        """Projected CRS of the grid."""
        return self._crs

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of the whole raster."""
        s = self._cell_size
        return (self._x0, self._y0, self._x0 + self._n_cols * s, self._y0 + self._n_rows * s)

    @property
    def cell_row(self) -> np.ndarray:
        """Raster row of each active cell (int32, row 0 at the bottom)."""
        return self._cell_row

    @property
    def cell_col(self) -> np.ndarray:
        """Raster column of each active cell (int32)."""
        return self._cell_col

    @property
    def area_fraction(self) -> np.ndarray:
        """Share of each active cell inside the study area (float64 in (0, 1])."""
        return self._area_fraction

    @property
    def x(self) -> np.ndarray:
        """X coordinate of each active cell's centre (float64)."""
        return self._x0 + (self._cell_col + 0.5) * self._cell_size

    @property
    def y(self) -> np.ndarray:
        """Y coordinate of each active cell's centre (float64)."""
        return self._y0 + (self._cell_row + 0.5) * self._cell_size

    def __repr__(self) -> str:
        size = np.format_float_positional(self._cell_size, trim="-")
        return (
            f"Grid({size} m, {self.n_cells:,} of {self._n_rows * self._n_cols:,} cells active, "
            f"{self._crs.to_string()})"
        )

    # ------------------------------------------------------------------ stored form
    def to_dict(self) -> dict:
        """Return the grid as plain values and two rasters, the form :meth:`from_dict` reads.

        Returns
        -------
        dict
            ``x0``, ``y0``, ``cell_size``, ``n_cols``, ``n_rows``, ``n_cells`` (active),
            ``crs`` (PROJJSON) and ``crs_name`` (for reading), and the rasters of shape
            ``(n_rows, n_cols)``: ``active`` (bool) and ``area_fraction`` (float64, 0 outside
            the active cells).

        Examples
        --------
        >>> from shapely.geometry import box
        >>> grid = Grid.from_area(box(0, 0, 250, 125), cell_size=125.0, crs="EPSG:28992")
        >>> form = grid.to_dict()
        >>> form["n_cells"], form["active"].shape, form["crs_name"]
        (2, (1, 2), 'EPSG:28992')
        >>> restored = Grid.from_dict(form)
        >>> restored.n_cells, restored.bounds == grid.bounds
        (2, True)
        """
        n_rows, n_cols = self.shape
        flat = self._cell_row.astype(np.int64) * n_cols + self._cell_col.astype(np.int64)
        active = np.zeros(n_rows * n_cols, dtype=bool)
        active[flat] = True
        fraction = np.zeros(n_rows * n_cols, dtype=np.float64)
        fraction[flat] = self._area_fraction
        return {
            "x0": float(self._x0),
            "y0": float(self._y0),
            "cell_size": float(self._cell_size),
            "n_cols": int(n_cols),
            "n_rows": int(n_rows),
            "n_cells": int(self.n_cells),
            "crs": self._crs.to_json(),
            "crs_name": self._crs.to_string(),
            "active": active.reshape(n_rows, n_cols),
            "area_fraction": fraction.reshape(n_rows, n_cols),
        }

    @classmethod
    def from_dict(cls, form: dict) -> Grid:
        """Rebuild a grid from the form of :meth:`to_dict`, checked as the constructor checks.

        Raises
        ------
        ValueError
            If the form's values are refused by the constructor, or its active cells are not
            ``n_cells``.
        KeyError
            If the form lacks one of its entries.
        pyproj.exceptions.CRSError
            If ``crs`` is not a coordinate reference system.
        """
        grid = cls(
            x0=form["x0"],
            y0=form["y0"],
            cell_size=form["cell_size"],
            n_cols=form["n_cols"],
            n_rows=form["n_rows"],
            crs=pyproj.CRS.from_json(form["crs"]),
            active=form["active"],
            area_fraction=form["area_fraction"],
        )
        if grid.n_cells != form["n_cells"]:
            raise ValueError(f"the grid has {grid.n_cells} cells; its form says {form['n_cells']}.")
        return grid

    # ------------------------------------------------------------------ points to cells
    def cell_of(self, x, y) -> np.ndarray:
        """Return the id of the active cell holding each point.

        Parameters
        ----------
        x, y : float or array-like of float
            Coordinates in metres in the grid's CRS; broadcast against each other.

        Returns
        -------
        ndarray of int64
            Cell ids, ``-1`` for points outside the raster, in an inactive cell, or with a
            NaN coordinate. A scalar input gives an array of shape ``()``.

        Examples
        --------
        >>> import shapely
        >>> grid = Grid.from_area(shapely.box(0, 0, 250, 250), crs="EPSG:32617")
        >>> grid.cell_of([10.0, 125.0, 250.0, float("nan")], [10.0, 10.0, 10.0, 10.0]).tolist()
        [0, 1, -1, -1]
        >>> int(grid.cell_of(130.0, 130.0))
        3
        """
        x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        shape = x.shape
        x, y = x.reshape(-1), y.reshape(-1)
        cells = np.empty(x.size, dtype=np.int64)
        for lo in range(0, x.size, _CHUNK):
            cells[lo : lo + _CHUNK] = self._cells_of(x[lo : lo + _CHUNK], y[lo : lo + _CHUNK])
        return cells.reshape(shape)

    def _cells_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Cell ids of 1-d coordinate arrays (see :meth:`cell_of`)."""
        u = (x - self._x0) / self._cell_size
        v = (y - self._y0) / self._cell_size
        inside = (u >= 0) & (u < self._n_cols) & (v >= 0) & (v < self._n_rows)
        cols = np.floor(u[inside]).astype(np.int64)
        rows = np.floor(v[inside]).astype(np.int64)
        cells = np.full(u.shape, -1, dtype=np.int64)
        cells[inside] = self._raster_to_cell[rows * self._n_cols + cols]
        return cells

    def locate(self, x, y, *, outside="raise", labels=None) -> tuple[np.ndarray, np.ndarray]:
        """Map points to cells, refusing or dropping those outside the grid's area.

        Area membership is decided at cell resolution: a point in an active cell counts as
        inside, even if it lies in the part of a boundary cell outside the study polygon.

        Parameters
        ----------
        x, y : array-like of float
            Coordinates in metres in the grid's CRS, one value per point.
        outside : {"raise", "drop"}, default "raise"
            What to do with points outside the area (or with NaN coordinates): raise a
            ``ValueError`` naming them, or drop them with a
            :class:`~caslite.DataQualityWarning`.
        labels : array-like, optional
            Row labels of the points for messages; default their positions.

        Returns
        -------
        cells : ndarray of int64
            Cell id of each kept point.
        keep : ndarray of bool
            Which input points were kept.

        Examples
        --------
        >>> import shapely
        >>> grid = Grid.from_area(shapely.box(0, 0, 250, 250), crs="EPSG:32617")
        >>> cells, keep = grid.locate([10.0, 130.0], [10.0, 130.0])
        >>> cells.tolist(), keep.tolist()
        ([0, 3], [True, True])
        """
        if outside not in _OUTSIDE:
            raise ValueError(f"outside={outside!r} is not one of {list(_OUTSIDE)}.")
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape:
            raise ValueError(
                f"x and y must be 1-d arrays of equal length; got shapes {x.shape} and {y.shape}."
            )
        labels = np.arange(x.size) if labels is None else np.asarray(labels)
        if labels.shape != x.shape:
            raise ValueError(f"labels has shape {labels.shape}; expected {x.shape}.")
        cells = self.cell_of(x, y)
        keep = cells >= 0
        n_out = int(x.size - keep.sum())
        if n_out:
            which = describe_rows(labels[~keep])
            if outside == "raise":
                raise ValueError(
                    f"{n_out} of {x.size} points fall outside the grid's area ({which}). "
                    "Pass outside='drop' to drop them with a warning, or build the grid over a "
                    "larger area."
                )
            warn_user(f"dropped {n_out} of {x.size} points outside the grid's area ({which}).")
        return cells[keep], keep

    # ------------------------------------------------------------------ export
    def to_geodataframe(self):
        """Return one row per active cell with its square as geometry.

        Returns
        -------
        geopandas.GeoDataFrame
            Columns ``cell_id``, ``row``, ``col``, ``x``, ``y`` (centre), ``area_fraction``
            and ``geometry`` (the full cell square), in the grid's CRS.

        Examples
        --------
        >>> import shapely
        >>> grid = Grid.from_area(shapely.box(0, 0, 250, 125), crs="EPSG:32617")
        >>> frame = grid.to_geodataframe()
        >>> frame["cell_id"].tolist(), frame.total_bounds.tolist()
        ([0, 1], [0.0, 0.0, 250.0, 125.0])
        """
        import geopandas

        s = self._cell_size
        left = self._x0 + self._cell_col * s
        bottom = self._y0 + self._cell_row * s
        return geopandas.GeoDataFrame(
            {
                "cell_id": np.arange(self.n_cells, dtype=np.int64),
                "row": self._cell_row,
                "col": self._cell_col,
                "x": left + 0.5 * s,
                "y": bottom + 0.5 * s,
                "area_fraction": self._area_fraction,
            },
            geometry=shapely.box(left, bottom, left + s, bottom + s),
            crs=self._crs,
        )


# ---------------------------------------------------------------------- argument checks
def _positive_cell_size(value) -> float:
    return check_number(value, "cell_size", positive=True, unit="metres", example=125.0)


def _check_min_overlap(value) -> float:
    return check_share(
        value,
        "min_overlap",
        "[0, 1)",
        what="the share of a cell that must lie inside the area for the cell to be active,",
        example=0.5,
    )


def _active_mask(active, shape: tuple[int, int]) -> np.ndarray:
    if active is None:
        return np.ones(shape, dtype=bool)
    active = np.asarray(active)
    if active.dtype != bool:
        raise TypeError(f"active must be a boolean array, got dtype {active.dtype}.")
    if active.shape != shape:
        raise ValueError(f"active has shape {active.shape}; expected (n_rows, n_cols) = {shape}.")
    return active


def _active_fractions(area_fraction, shape, flat_active: np.ndarray) -> np.ndarray:
    if area_fraction is None:
        return np.ones(flat_active.size, dtype=np.float64)
    area_fraction = np.asarray(area_fraction)
    if area_fraction.dtype.kind not in "fiu":
        raise TypeError(f"area_fraction must be a float array, got dtype {area_fraction.dtype}.")
    if area_fraction.shape != shape:
        raise ValueError(
            f"area_fraction has shape {area_fraction.shape}; expected (n_rows, n_cols) = {shape}."
        )
    values = area_fraction.ravel()[flat_active].astype(np.float64)
    bad = ~((values > 0) & (values <= 1))
    if bad.any():
        raise ValueError(
            f"area_fraction must be in (0, 1] for active cells; {int(bad.sum())} active cells "
            f"have other values (e.g. {values[bad][0]!r}). Mark cells with no overlap inactive."
        )
    return values


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


# ---------------------------------------------------------------------- raster geometry
def _snapped_raster(bounds, cell_size: float, origin) -> tuple[float, float, int, int]:
    """Return ``x0, y0, n_cols, n_rows`` of the grid-aligned raster covering ``bounds``."""
    ox, oy = _origin(origin)
    xmin, ymin, xmax, ymax = bounds
    x0 = ox + math.floor((xmin - ox) / cell_size) * cell_size
    y0 = oy + math.floor((ymin - oy) / cell_size) * cell_size
    n_cols = max(1, math.ceil((xmax - x0) / cell_size))
    n_rows = max(1, math.ceil((ymax - y0) / cell_size))
    return x0, y0, n_cols, n_rows


def _origin(origin) -> tuple[float, float]:
    if origin is None:
        return 0.0, 0.0
    try:
        ox, oy = origin
    except (TypeError, ValueError):
        raise TypeError(f"origin must be a pair (x, y) of numbers, got {origin!r}.") from None
    return check_number(ox, "origin x", unit="metres"), check_number(oy, "origin y", unit="metres")


def _overlap_fractions(area, x0, y0, cell_size, n_cols, n_rows) -> np.ndarray:
    """Share of every raster cell inside ``area``, shape ``(n_rows, n_cols)``.

    The boundary cells get exact fractions. Every other cell is wholly inside or outside, and
    so is every connected patch of them (the boundary touches none of their squares): one
    centre-in-polygon test per patch decides the whole patch.
    """
    shapely.prepare(area)
    rows, cols = _boundary_cells(area, x0, y0, cell_size, n_cols, n_rows)
    off_boundary = np.ones((n_rows, n_cols), dtype=bool)
    off_boundary[rows, cols] = False
    patches, n_patches = scipy.ndimage.label(off_boundary)  # 0 marks boundary cells
    labels, first_cell = np.unique(patches.ravel(), return_index=True)
    patch_rows, patch_cols = np.divmod(first_cell[labels > 0], n_cols)
    patch_inside = np.zeros(n_patches + 1, dtype=bool)
    patch_inside[1:] = shapely.contains_xy(
        area, x0 + (patch_cols + 0.5) * cell_size, y0 + (patch_rows + 0.5) * cell_size
    )
    fraction = patch_inside[patches].astype(np.float64)
    fraction[rows, cols] = _exact_fractions(area, rows, cols, x0, y0, cell_size)
    return fraction


def _boundary_cells(area, x0, y0, cell_size, n_cols, n_rows) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a superset of the cells whose squares the area's boundary touches.

    Consecutive vertices of the densified boundary are at most half a cell apart, so every
    point of the boundary lies within a quarter cell of a vertex; a cell whose (closed) square
    holds such a point is therefore the cell of that vertex or one of its 8 neighbours.
    """
    boundary = shapely.segmentize(shapely.boundary(area), cell_size / 2)
    xy = shapely.get_coordinates(boundary)
    # Vertices lie in the raster up to rounding (and on its far edges): clip to one cell beyond.
    cols = np.clip(np.floor((xy[:, 0] - x0) / cell_size), -1, n_cols).astype(np.int64)
    rows = np.clip(np.floor((xy[:, 1] - y0) / cell_size), -1, n_rows).astype(np.int64)
    flat = np.unique((rows + 1) * (n_cols + 2) + (cols + 1))  # dedupe vertices before dilating
    rows, cols = np.divmod(flat, n_cols + 2)
    step_rows, step_cols = (d.ravel() for d in np.mgrid[-1:2, -1:2])  # the 3 x 3 block
    rows = (rows[:, np.newaxis] - 1 + step_rows).ravel()
    cols = (cols[:, np.newaxis] - 1 + step_cols).ravel()
    ok = (rows >= 0) & (rows < n_rows) & (cols >= 0) & (cols < n_cols)
    flat = np.unique(rows[ok] * n_cols + cols[ok])
    return np.divmod(flat, n_cols)


def _exact_fractions(area, rows, cols, x0, y0, cell_size) -> np.ndarray:
    """Exact share of each listed cell inside ``area``.

    The area is clipped to nested tiles (a quadtree with 4 x 4 children, down to single
    cells), so that each intersection only sees the nearby part of a large, detailed polygon.
    """
    if rows.size == 0:
        return np.zeros(0, dtype=np.float64)
    tile = 1
    while tile * 4 < max(rows.max(), cols.max()) + 1:
        tile *= 4
    pieces = np.array([area], dtype=object)
    piece_of_cell = np.zeros(rows.size, dtype=np.int64)
    while tile >= 1:
        keys = (rows // tile) * (cols.max() // tile + 1) + cols // tile
        _, first, piece_index = np.unique(keys, return_index=True, return_inverse=True)
        left = x0 + (cols[first] // tile) * tile * cell_size
        bottom = y0 + (rows[first] // tile) * tile * cell_size
        boxes = shapely.box(left, bottom, left + tile * cell_size, bottom + tile * cell_size)
        pieces = shapely.intersection(boxes, pieces[piece_of_cell[first]])
        piece_of_cell = piece_index.ravel()
        tile //= 4
    return shapely.area(pieces)[piece_of_cell] / cell_size**2


# ---------------------------------------------------------------------- study areas
def _area_and_crs(area, crs) -> tuple[shapely.Geometry, pyproj.CRS]:
    """Return the study area as one valid (Multi)Polygon and its projected CRS."""
    if isinstance(area, shapely.Geometry):
        geometry = area
        _check_polygonal(np.array([geometry]), labels=None)
        if crs is None:
            raise ValueError(
                "a shapely geometry carries no CRS; pass crs='EPSG:....' naming the projected "
                "CRS of the area (in metres), or pass a GeoDataFrame with a CRS."
            )
        return _checked_area(geometry), as_projected_crs(crs, "the area", _AREA_FIX)
    geometries = _geometries_of(area)
    _check_polygonal(geometries, getattr(area, "index", range(len(geometries))))
    frame_crs = area.crs
    if frame_crs is None:
        crs = as_projected_crs(crs, "the area", _AREA_FIX)
    elif crs is None:
        crs = as_projected_crs(frame_crs, "the area", _AREA_FIX)
    else:
        crs = as_projected_crs(crs, "crs=", _AREA_FIX)
        check_same_crs(pyproj.CRS.from_user_input(frame_crs), crs, "the area", "crs=")
    return _checked_area(shapely.union_all(geometries)), crs


def _geometries_of(area) -> np.ndarray:
    geometry = getattr(area, "geometry", None)
    if geometry is None or not hasattr(area, "crs"):
        raise TypeError(
            "area must be a shapely Polygon or MultiPolygon, or a geopandas GeoDataFrame or "
            f"GeoSeries of polygons; got {type(area).__name__}."
        )
    return np.asarray(geometry, dtype=object)


def _check_polygonal(geometries: np.ndarray, labels) -> None:
    """Refuse anything but (Multi)Polygons; ``labels`` names rows (None: a single geometry)."""
    kinds = shapely.get_type_id(geometries)
    bad = ~np.isin(kinds, [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON])
    if bad.any():
        names = ", ".join(
            sorted({"missing" if g is None else g.geom_type for g in geometries[bad]})
        )
        if labels is None:
            subject = "it is"
        else:
            subject = (
                f"{describe_rows(np.asarray(labels)[bad])} {'is' if bad.sum() == 1 else 'are'}"
            )
        raise ValueError(
            f"the study area must be polygons, but {subject} {names}. Buffer points or lines "
            "into polygons (e.g. geometry.buffer(100)) or drop them."
        )


def _checked_area(geometry):
    if not geometry.is_valid:
        raise ValueError(
            f"the study area is not a valid polygon ({shapely.is_valid_reason(geometry)}); "
            "repair it first, e.g. with shapely.make_valid(area) or GeoDataFrame.make_valid()."
        )
    if geometry.is_empty or geometry.area <= 0:
        raise ValueError("the study area is empty (no polygon with a positive area).")
    return geometry


def _event_points(events):
    """Return ``x, y, crs, labels`` of an events-like object, checked."""
    missing = [name for name in ("x", "y", "crs") if not hasattr(events, name)]
    if missing:
        raise TypeError(
            f"events must have x, y and crs attributes (e.g. caslite.Events); "
            f"{type(events).__name__} lacks {', '.join(missing)}."
        )
    x = np.asarray(events.x, dtype=np.float64).ravel()
    y = np.asarray(events.y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"events.x has {x.size} values but events.y has {y.size}.")
    if x.size == 0:
        raise ValueError("there are no events to derive a study area from; pass area to from_area.")
    data = getattr(events, "data", None)
    index = getattr(data, "index", None)
    labels = np.arange(x.size) if index is None or len(index) != x.size else np.asarray(index)
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} events have NaN or infinite coordinates "
            f"({describe_rows(labels[bad])}); fix or drop them first."
        )
    return x, y, as_projected_crs(events.crs, "the events"), labels


def _events_area(x, y, rule: str, buffer: float):
    if rule == "bbox":
        return shapely.box(x.min() - buffer, y.min() - buffer, x.max() + buffer, y.max() + buffer)
    hull = shapely.convex_hull(shapely.multipoints(np.column_stack([x, y])))
    return hull.buffer(buffer) if buffer > 0 else hull


def _too_many_cells_message(x, y, labels, n_cells, cell_size, buffer, max_cells) -> str:
    size = np.format_float_positional(cell_size, trim="-")
    message = (
        f"the events' bounding raster would have {n_cells:,} cells of {size} m, more than "
        f"max_cells={max_cells:,}."
    )
    placeholder, where = placeholder_points(x, y)
    placeholder &= far_from_rest(x, y)  # (0, 0) inside the events' own spread is a place
    if placeholder.any():  # no limit should grow to fit a stand-in for an unknown place
        return message + (
            f" {describe_rows(labels[placeholder])} look like placeholder coordinates for "
            f"unknown locations, not places: {where}. Drop them (Events.from_frame and "
            "Events.read refuse them, or drop them with a count with invalid='drop') and "
            "build the grid again."
        )
    stray = _stray_points(x, y, margin=max(buffer, cell_size))
    if stray.any():
        coords = ", ".join(f"({x[i]:.1f}, {y[i]:.1f})" for i in np.flatnonzero(stray)[:_MAX_SHOWN])
        message += (
            f" {_count(stray.sum(), 'event lies', 'events lie')} far from the rest: "
            f"{describe_rows(labels[stray])} "
            f"at (x, y) = {coords}. Drop them if their coordinates are wrong,"
        )
    else:
        width, height = np.ptp(x) / 1000, np.ptp(y) / 1000
        message += f" The events span {width:,.1f} km x {height:,.1f} km. Use a larger cell_size,"
    return (
        message + " pass an explicit study area to Grid.from_area, or raise max_cells= "
        f"(e.g. max_cells={n_cells})."
    )


def _count(n, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _stray_points(x, y, margin: float) -> np.ndarray:
    """Mask of points outside the robust core box of the points.

    The core box spans the 0.5% .. 99.5% quantiles in x and y (inner order statistics, so a
    lone far point never stretches it) and is enlarged by half its width on each side, and by
    at least ``margin``.
    """
    stray = np.zeros(x.shape, dtype=bool)
    for values in (x, y):
        low = np.quantile(values, 0.005, method="higher")
        high = np.quantile(values, 0.995, method="lower")
        low, high = min(low, high), max(low, high)
        pad = max((high - low) / 2, margin)
        stray |= (values < low - pad) | (values > high + pad)
    return stray
