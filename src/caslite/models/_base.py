"""The base of every forecaster: the checks that open ``fit`` and ``predict``."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from caslite._time import to_utc_seconds
from caslite._validation import check_same_crs
from caslite.events import Events
from caslite.grid import Grid
from caslite.shifts import Blocks

__all__ = ["Forecaster"]


class Forecaster(BaseEstimator):
    """Base class of caslite's forecasters: one interface, one set of input checks.

    A forecaster follows the scikit-learn estimator contract (``__init__`` takes keyword-only
    parameters and only stores them; ``fit`` sets attributes ending in ``_``) and has

    - ``fit(events, grid, *, origin)``: learn from the events known before ``origin`` only,
      and return ``self``;
    - ``predict(blocks)``: an array of shape ``(len(blocks), grid.n_cells)``, the risk of
      every cell in every block (higher meaning more risk), for blocks that start at or after
      the origin.

    This class holds the checks every forecaster opens ``fit`` and ``predict`` with, so that
    they are written (and worded) once: :meth:`_check_fit_input`, :meth:`_origin_seconds`,
    :meth:`_check_fitted`, :meth:`_check_blocks` and :meth:`_checked_output`. A forecaster
    registered in :mod:`caslite.models.registry` is tested by the contract test
    (``tests/test_contract.py``): ``clone``, the fitted check, causality, output shape and
    determinism.

    Examples
    --------
    A forecaster that scores every cell by its events in the week before the origin:

    >>> import numpy as np
    >>> import pandas as pd
    >>> from shapely.geometry import box
    >>> from caslite import Events, Grid, ShiftSchedule
    >>> from caslite.models import Forecaster
    >>> class LastWeek(Forecaster):
    ...     def fit(self, events, grid, *, origin):
    ...         self._check_fit_input(events, grid)
    ...         self.origin_ = self._origin_seconds(origin, events)
    ...         recent = events.before(self.origin_)
    ...         recent = recent.select(recent.t >= self.origin_ - 7 * 86_400)
    ...         cells = grid.cell_of(recent.x, recent.y)
    ...         self.counts_ = np.bincount(cells[cells >= 0], minlength=grid.n_cells) * 1.0
    ...         self.grid_ = grid
    ...         return self
    ...     def predict(self, blocks):
    ...         self._check_fitted()
    ...         self._check_blocks(blocks)
    ...         return self._checked_output(np.tile(self.counts_, (len(blocks), 1)), blocks)
    >>> frame = pd.DataFrame({"t": ["2024-03-08 10:00"], "x": [60.0], "y": [60.0]})
    >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
    >>> grid = Grid.from_area(box(0, 0, 500, 500), cell_size=125.0, crs="EPSG:28992")
    >>> blocks = ShiftSchedule.every(4, tz="Europe/Amsterdam").horizon("2024-03-11", "1D")
    >>> LastWeek().fit(events, grid, origin="2024-03-11").predict(blocks)[:, 0].tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """

    #: The fitted attribute whose absence means "not fitted" (:meth:`_check_fitted`).
    _fitted_attribute = "origin_"

    def _check_fit_input(self, events, grid) -> None:
        """Refuse anything but :class:`Events` and a :class:`Grid` of the same CRS."""
        if not isinstance(events, Events):
            raise TypeError(f"events must be caslite Events, got {type(events).__name__}.")
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be a caslite Grid, got {type(grid).__name__}.")
        check_same_crs(events.crs, grid.crs, "events", "the grid")

    @staticmethod
    def _origin_seconds(origin, events: Events) -> int:
        """Return the origin in UTC seconds; naive times are local time of the events."""
        return int(to_utc_seconds(origin, events.tz, "origin"))

    def _check_fitted(self) -> None:
        """Raise :class:`sklearn.exceptions.NotFittedError` before :meth:`fit`."""
        check_is_fitted(self, self._fitted_attribute)

    def _check_blocks(self, blocks) -> None:
        """Refuse anything but :class:`Blocks`, and blocks that start before the origin."""
        if not isinstance(blocks, Blocks):
            raise TypeError(f"blocks must be caslite Blocks, got {type(blocks).__name__}.")
        if len(blocks) and int(blocks.start.min()) < self.origin_:
            raise ValueError(
                f"origin {self.origin_} is after the start of the first block "
                f"({int(blocks.start.min())}, UTC seconds); a forecast may not see events "
                "inside its own horizon. Fit with an origin at or before the first block."
            )

    def _checked_output(self, risk: np.ndarray, blocks) -> np.ndarray:
        """Return ``risk`` after checking that it has one row per block and a column per cell."""
        expected = (len(blocks), self.grid_.n_cells)
        if np.shape(risk) != expected:
            raise RuntimeError(
                f"{type(self).__name__}.predict returned shape {np.shape(risk)}, expected "
                f"{expected} (blocks, cells); this is a bug of the forecaster."
            )
        return risk
