"""Baseline forecasters."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from caslite._time import to_utc_seconds
from caslite.events import Events
from caslite.grid import Grid
from caslite.nearrepeat import BowersSpace, BowersTime, score_forecast
from caslite.shifts import Blocks

__all__ = ["ProspectiveHotSpot"]


class ProspectiveHotSpot(BaseEstimator):
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
        """
        if not isinstance(events, Events):
            raise TypeError(f"events must be caslite Events, got {type(events).__name__}.")
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be a caslite Grid, got {type(grid).__name__}.")
        self.origin_ = int(to_utc_seconds(origin, events.tz, "origin"))
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
        check_is_fitted(self, "origin_")
        if not isinstance(blocks, Blocks):
            raise TypeError(f"blocks must be caslite Blocks, got {type(blocks).__name__}.")
        return score_forecast(
            self.events_,
            self.grid_,
            blocks,
            space=self.space if self.space is not None else BowersSpace(form="grid"),
            time=self.time if self.time is not None else BowersTime(),
            origin=self.origin_,
        )
