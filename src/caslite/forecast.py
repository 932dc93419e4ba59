"""The Forecast: risk of every cell in every block of a horizon, and the hot cells to patrol."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from caslite._core import top_cells
from caslite._provenance import forecast_provenance
from caslite.grid import Grid
from caslite.shifts import Blocks

__all__ = ["Forecast"]


class Forecast:
    """Expected events per block and cell over a horizon, with the hot cells per shift.

    Parameters
    ----------
    risk : array-like of shape (len(blocks), grid.n_cells)
        Expected number of events of each cell in each block (non-negative, finite).
    blocks : Blocks
        The blocks of the horizon.
    grid : Grid
        The cells.
    origin : int
        Forecast origin, UTC seconds.
    model : object, optional
        The fitted model that made the forecast (used by :meth:`explain`).
    provenance : dict, optional
        The record of how the forecast was made; default one built from the model, grid,
        blocks and origin (see Attributes).

    Attributes
    ----------
    risk : ndarray of shape (n_blocks, n_cells)
        Expected events.
    probability : ndarray of shape (n_blocks, n_cells)
        Probability of at least one event, ``1 - exp(-risk)`` (Poisson counts).
    blocks, grid, origin, model
        As given.
    provenance : dict
        JSON-ready record of the run, enough to reproduce it: ``origin``, ``horizon``,
        ``schedule``, ``grid``, ``model`` (class, every parameter, fit origin, feature names,
        training summary), ``data`` (count, span, CRS, time zone and SHA-256 fingerprint of
        the incidents the model knew; None without a model) and ``versions`` (caslite,
        Python and libraries). Tables made from the forecast carry it in
        ``DataFrame.attrs["provenance"]``.

    Examples
    --------
    >>> import numpy as np
    >>> from shapely.geometry import box
    >>> from caslite import Grid, ShiftSchedule
    >>> grid = Grid.from_area(box(0, 0, 250, 250), cell_size=125.0, crs="EPSG:28992")
    >>> schedule = ShiftSchedule.every(12, tz="Europe/Amsterdam")
    >>> blocks = schedule.horizon("2024-03-11", "1D")
    >>> risk = np.array([[0.1, 0.4, 0.2, 0.0], [0.3, 0.1, 0.1, 0.2]])
    >>> forecast = Forecast(risk, blocks, grid, origin=blocks.start[0])
    >>> hot = forecast.top(k=1)
    >>> print(hot[["shift_start", "cell_id", "risk", "rank"]].to_string(index=False))
                  shift_start  cell_id  risk  rank
    2024-03-11 00:00:00+01:00        1   0.4     1
    2024-03-11 12:00:00+01:00        0   0.3     1
    >>> forecast.top(k=1, per="horizon")["cell_id"].tolist()  # 0.5 in cell 1 over the day
    [1]
    >>> forecast.provenance["grid"]["cell_size"], forecast.provenance["horizon"]["n_blocks"]
    (125.0, 2)
    >>> hot.attrs["provenance"]["origin"]
    '2024-03-11T00:00:00+01:00'
    """

    def __init__(self, risk, blocks, grid, *, origin, model=None, provenance=None):
        if not isinstance(blocks, Blocks):
            raise TypeError(f"blocks must be caslite Blocks, got {type(blocks).__name__}.")
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be a caslite Grid, got {type(grid).__name__}.")
        risk = np.asarray(risk, dtype=np.float64)
        if risk.shape != (len(blocks), grid.n_cells):
            raise ValueError(
                f"risk has shape {risk.shape}; expected (len(blocks), grid.n_cells) = "
                f"({len(blocks)}, {grid.n_cells})."
            )
        if not np.all(np.isfinite(risk)) or (risk.size and risk.min() < 0):
            raise ValueError("risk must be finite and non-negative (expected counts).")
        self.risk = risk
        self.blocks = blocks
        self.grid = grid
        self.origin = int(origin)
        self.model = model
        if provenance is None:
            provenance = forecast_provenance(model, grid, blocks, self.origin)
        elif not isinstance(provenance, dict):
            raise TypeError(f"provenance must be a dict, got {type(provenance).__name__}.")
        self.provenance = provenance

    def __repr__(self) -> str:
        start = pd.Timestamp(self.origin, unit="s", tz="UTC").tz_convert(self.blocks.schedule.tz)
        return (
            f"Forecast({len(self.blocks)} blocks x {self.grid.n_cells} cells from {start}, "
            f"{self.risk.sum():.1f} events expected)"
        )

    @property
    def probability(self) -> np.ndarray:
        """Probability of at least one event per block and cell, ``1 - exp(-risk)``."""
        return -np.expm1(-self.risk)

    def total(self) -> np.ndarray:
        """Return the expected events of each cell over the whole horizon, shape ``(n_cells,)``."""
        return self.risk.sum(axis=0)

    # ------------------------------------------------------------------ tables
    def to_frame(self) -> pd.DataFrame:
        """One row per (block, cell), block-major.

        Returns
        -------
        pandas.DataFrame
            Columns ``cell_id``, ``x``, ``y`` (cell centre), ``block_id``, ``shift``,
            ``label``, ``block_start``, ``block_end`` (local time), ``risk`` (expected
            events) and ``probability``. A city horizon has a few million rows; keep
            country-size forecasts as arrays.
        """
        n_blocks, n_cells = self.risk.shape
        blocks = self.blocks.to_frame()
        frame = pd.DataFrame(
            {
                "cell_id": np.tile(np.arange(n_cells, dtype=np.int64), n_blocks),
                "x": np.tile(self.grid.x, n_blocks),
                "y": np.tile(self.grid.y, n_blocks),
            }
        )
        for column in ("block_id", "shift", "label", "block_start", "block_end"):
            # Series.repeat keeps the local, time-zone-aware dtype (no objects: fast).
            frame[column] = blocks[column].repeat(n_cells).reset_index(drop=True)
        frame["risk"] = self.risk.ravel()
        frame["probability"] = self.probability.ravel()
        frame.attrs["provenance"] = self.provenance
        return frame

    def to_geodataframe(self):
        """:meth:`to_frame` with the cell squares as geometry, in the grid's CRS.

        Returns
        -------
        geopandas.GeoDataFrame
        """
        import geopandas

        frame = self.to_frame()
        squares = self.grid.to_geodataframe().geometry.to_numpy()
        out = geopandas.GeoDataFrame(
            frame, geometry=squares[frame["cell_id"].to_numpy()], crs=self.grid.crs
        )
        out.attrs["provenance"] = self.provenance
        return out

    # ------------------------------------------------------------------ hot cells
    def top(self, coverage=None, *, k=None, per="block"):
        """Return the hot cells: the highest-risk cells per block, or over the whole horizon.

        Parameters
        ----------
        coverage : float, optional
            Share of the grid's area to flag, ``0 < coverage <= 1`` (area-weighted: partial
            boundary cells count their share; see :func:`caslite.evaluation.top_cells`).
            ``coverage=1.0`` returns every cell.
        k : int, optional
            Number of cells to flag instead of a coverage.
        per : {"block", "horizon"}, default "block"
            ``"block"``: choose the top cells of each block (shift) on that block's risk.
            ``"horizon"``: one set of cells for the whole horizon, ranked on the expected
            events summed over all blocks.

        Returns
        -------
        geopandas.GeoDataFrame
            One row per flagged (block, cell) (``per="horizon"``: per cell, with the horizon
            as its shift), columns ``shift_start``, ``shift_end`` (local time), ``label``,
            ``cell_id``, ``x``, ``y``, ``risk`` (expected events in the shift or horizon),
            ``probability``, ``rank`` (1 = highest risk within the shift; ties broken by
            the lower cell id) and the cell square as geometry.
        """
        import geopandas

        if (coverage is None) == (k is None):
            raise ValueError("give exactly one of coverage= (share of the area) or k= (cells).")
        if k is not None and (not isinstance(k, numbers.Integral) or k < 1):
            raise ValueError(f"k must be a positive whole number of cells, got {k!r}.")
        if per not in ("block", "horizon"):
            raise ValueError(f"per must be 'block' or 'horizon', got {per!r}.")
        area = self.grid.area_fraction
        frame = self.blocks.to_frame()
        tz = self.blocks.schedule.tz
        if per == "horizon":
            rows = [self.total()]
            starts = pd.DatetimeIndex(frame["block_start"].iloc[:1])
            ends = pd.DatetimeIndex(frame["block_end"].iloc[-1:])
            labels = np.array(["horizon"], dtype=object)
        else:
            rows = self.risk
            starts = pd.DatetimeIndex(frame["block_start"])
            ends = pd.DatetimeIndex(frame["block_end"])
            labels = frame["label"].to_numpy()
        picked_block, picked_cell, ranks = [], [], []
        for b, risk in enumerate(rows):
            if k is not None:
                cells = top_cells(risk, k=min(int(k), risk.size))
            else:
                cells = top_cells(risk, coverage, area=area)
            picked_block.append(np.full(cells.size, b))
            picked_cell.append(cells)
            ranks.append(np.arange(1, cells.size + 1))
        block = np.concatenate(picked_block).astype(np.int64)
        cell = np.concatenate(picked_cell).astype(np.int64)
        risk = np.asarray(rows)[block, cell]
        out = pd.DataFrame(
            {
                "shift_start": starts[block].tz_convert(tz),  # tz-aware even when empty
                "shift_end": ends[block].tz_convert(tz),
                "label": labels[block],
                "cell_id": cell,
                "x": self.grid.x[cell],
                "y": self.grid.y[cell],
                "risk": risk,
                "probability": -np.expm1(-risk),
                "rank": np.concatenate(ranks).astype(np.int64),
            }
        )
        squares = self.grid.to_geodataframe().geometry.to_numpy()
        hot = geopandas.GeoDataFrame(out, geometry=squares[cell], crs=self.grid.crs)
        hot.attrs["provenance"] = self.provenance
        return hot

    def explain(self, cells, block=0, **kwargs) -> pd.DataFrame:
        """Per-feature contributions to the risk of ``cells`` in a block (see the model).

        Parameters
        ----------
        cells : int or array-like of int
            Cell ids.
        block : int, default 0
            Position of the block in the horizon.
        **kwargs
            Passed to the model's ``explain`` (e.g. ``reference="zero"``).

        Returns
        -------
        pandas.DataFrame
            See :meth:`caslite.RiskModel.explain`.
        """
        if self.model is None or not hasattr(self.model, "explain"):
            raise TypeError(
                "this forecast has no model that can explain it; forecasts from "
                "caslite.RiskModel.forecast() or caslite.predict() can."
            )
        return self.model.explain(cells, block, blocks=self.blocks, **kwargs)
