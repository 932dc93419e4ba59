"""The planners' one call: incidents in, hot cells per shift out."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import pyproj
from sklearn.base import clone

from caslite._core import check_coverage
from caslite._time import to_utc_seconds
from caslite._validation import (
    as_duration,
    check_instant,
    check_number,
    check_random_state,
    check_same_crs,
    warn_user,
)
from caslite.events import Events
from caslite.grid import Grid
from caslite.models.risk import MIN_HORIZON, SHORT_HORIZON, RiskModel, TooLittleDataError
from caslite.shifts import ShiftSchedule

__all__ = ["predict"]


def predict(
    incidents,
    origin,
    horizon="14D",
    cell_size=125.0,
    *,
    time="t",
    x=None,
    y=None,
    crs=None,
    tz=None,
    area=None,
    coverage=0.03,
    shift_hours=4,
    model=None,
    random_state=0,
    return_forecast=False,
    **events_options,
):
    """Forecast the hot cells of every shift of the horizon after ``origin``.

    Fits a :class:`caslite.RiskModel` (defaults: 4-hour shifts from midnight, features of
    :class:`caslite.features.FeatureBuilder`, Poisson loss) on the incidents known before
    ``origin`` and returns, for every shift of the horizon, the cells with the highest expected
    number of incidents covering ``coverage`` of the area.

    Parameters
    ----------
    incidents : pandas.DataFrame, geopandas.GeoDataFrame or Events
        One row per incident. Incidents at or after ``origin`` are ignored, with a warning
        that counts them.
    origin : str, datetime or int
        Start of the forecast, e.g. ``"2019-03-01"`` (naive: local time in ``tz``). A date
        whose day and month could be swapped (``"01/06/2019"``) is refused unless
        ``dayfirst=`` is given among ``events_options``.
    horizon : str, default "14D"
        Length of the forecast, with its unit (``"14D"``, ``"36h"``); at least ``"1D"``.
    cell_size : float, default 125.0
        Side of a grid cell in metres.
    time, x, y, crs, tz
        Columns and reference systems, as for :meth:`caslite.Events.from_frame` (``tz`` is
        the IANA time zone of the local times, e.g. ``"America/Toronto"``).
    area : GeoDataFrame, GeoSeries or shapely geometry, optional
        The study area (polygons); default the convex hull of the incidents known before the
        origin plus one cell. A GeoDataFrame or GeoSeries must be in the incidents' CRS (a
        mismatch raises); a shapely geometry is taken to be in it. Incidents outside the
        area count in no cell, with a warning that counts them; an area that holds none of
        them raises.
    coverage : float, default 0.03
        Share of the area flagged per shift (``1.0``: every cell, ranked); it must hold at
        least one whole cell.
    shift_hours : int, default 4
        Length of the shifts (a divisor of 24), starting at midnight. Police shifts such as
        07-15, 15-23, 23-07 go in the model:
        ``RiskModel(schedule=ShiftSchedule(["07:00", "15:00", "23:00"], tz=...))``, whose
        schedule is then used (and ``shift_hours`` ignored).
    model : RiskModel, optional
        An unfitted model with other settings; default ``RiskModel(random_state=...)``.
        Static or event layers go in its features, e.g.
        ``RiskModel(features=FeatureBuilder(event_layers={"commercial": other_events}))``
        (in the incidents' CRS; only layer incidents known before ``origin`` are counted),
        or the incidents' own counts by category:
        ``FeatureBuilder(event_layers=category_layers(incidents, "premises_type",
        ["Apartment"], ...))`` (:func:`caslite.category_layers`).
    random_state : int or None, default 0
        Seed of the model (a fixed default: the same call gives the same map); also given
        to a ``model`` whose own ``random_state`` is None.
    return_forecast : bool, default False
        Also return the :class:`caslite.Forecast` (for maps, explanations, other coverages).
    **events_options
        Passed to :meth:`caslite.Events.from_frame` (e.g. ``duplicates="drop"``,
        ``nonexistent="shift_forward"``, ``dayfirst=True``, ``date_only="keep"``,
        ``default_times="keep"``, ``default_window="6h"``). By default date-only records
        and records at a heaped default time (00:00, 12:00) become whole-day windows, whose
        weight the model spreads over the day's shifts; see :doc:`/time_quality`.

    Returns
    -------
    hot : geopandas.GeoDataFrame
        One row per hot (shift, cell): ``shift_start``, ``shift_end`` (local time),
        ``label``, ``cell_id``, ``x``, ``y``, ``risk`` (expected incidents in the shift),
        ``probability`` (of at least one), ``rank`` (1 = hottest in its shift) and the cell
        square as geometry, in the incidents' CRS. ``hot.attrs["provenance"]`` records the
        run (:attr:`caslite.Forecast.provenance` plus this call's arguments under
        ``"predict"``).
    forecast : Forecast
        Only with ``return_forecast=True``.

    Raises
    ------
    ValueError
        For invalid incidents (see :meth:`caslite.Events.from_frame`), an area in another
        CRS or holding none of the incidents, or a coverage smaller than one cell.
    TooLittleDataError
        If the incidents known before the origin are too few or span too short a history.

    Examples
    --------
    >>> import caslite
    >>> from caslite.datasets import load_sample
    >>> sample = load_sample("toronto")
    >>> hot = caslite.predict(sample.frame, origin="2019-06-01", time=sample.time,
    ...                       x=sample.x, y=sample.y, crs=sample.crs, tz=sample.tz,
    ...                       duplicates="drop", nonexistent="shift_forward",
    ...                       ambiguous="earliest")  # doctest: +SKIP
    """
    check_instant(origin, "origin")
    check_random_state(random_state)
    as_duration(horizon, "horizon", minimum=MIN_HORIZON, reason=SHORT_HORIZON)
    dayfirst = events_options.get("dayfirst")
    if isinstance(incidents, Events):  # it still says how to read the origin
        events_options.pop("dayfirst", None)
    events = _as_events(incidents, time, x, y, crs, tz, events_options)
    o = int(to_utc_seconds(origin, events.tz, "origin", dayfirst))
    known = events.before(o)
    late = len(events) - len(known)
    if late:
        warn_user(
            f"{late} of {len(events)} incidents are not known before the origin "
            f"({origin}) and are ignored; a forecast uses only what was known before it."
        )
    check_number(cell_size, "cell_size", positive=True, unit="metres", example=125.0)
    check_coverage(coverage)  # checked before the fit, not after it
    if len(known) == 0:
        raise TooLittleDataError(
            f"no incident is known before the origin ({origin}); a forecast needs history: "
            f"with the default model at least {_DEFAULT_WARMUP_DAYS} days of warm-up plus one "
            f"{horizon} horizon of incidents before the origin."
        )
    if area is None:
        grid = Grid.from_events(known, cell_size=float(cell_size))
    else:
        area_crs = getattr(area, "crs", None)
        if area_crs is not None:
            check_same_crs(
                pyproj.CRS.from_user_input(area_crs), events.crs, "the area", "the incident data"
            )
        grid = Grid.from_area(area, cell_size=float(cell_size), crs=events.crs)
        _check_area_covers(known, grid)
    _check_coverage_holds_a_cell(coverage, grid)
    if model is None:
        model = RiskModel(random_state=random_state)
    elif not isinstance(model, RiskModel):
        raise TypeError(f"model must be a caslite RiskModel, got {type(model).__name__}.")
    else:
        model = clone(model)  # the user's object stays unfitted
        if model.random_state is None:
            model.set_params(random_state=random_state)
    params = {"horizon": horizon}
    own_schedule = model.schedule is not None  # shift_hours does not apply then
    if not own_schedule:
        params["schedule"] = ShiftSchedule.every(shift_hours, tz=events.tz)
    model.set_params(**params)
    model.fit(known, grid, origin=o)
    forecast = model.forecast()
    forecast.provenance["predict"] = {
        "origin": str(origin),
        "horizon": str(horizon),
        "cell_size": float(cell_size),
        "coverage": float(coverage),
        "shift_hours": None if own_schedule else shift_hours,
        "shifts": list(model.schedule.labels),
        "area": None if area is None else [float(v) for v in grid.bounds],
        "incidents": len(events),
        "ignored_not_known_before_origin": late,
        "random_state": (
            random_state
            if random_state is None
            else int(random_state)
            if isinstance(random_state, numbers.Integral)
            else repr(random_state)
        ),
    }
    hot = forecast.top(coverage=coverage, per="block")
    return (hot, forecast) if return_forecast else hot


_DEFAULT_WARMUP_DAYS = int(pd.Timedelta(RiskModel().warmup).days)


def _check_coverage_holds_a_cell(coverage, grid: Grid) -> None:
    """Refuse a coverage too small for one whole cell: no shift would get a hot cell."""
    total, largest = float(grid.area_fraction.sum()), float(grid.area_fraction.max())
    if coverage < 1.0 and coverage * total < largest * (1 - 1e-9):
        raise ValueError(
            f"coverage={coverage} of a study area of {total:,.2f} cells is "
            f"{coverage * total:.2f} cells, less than one cell: no shift would get a hot cell. "
            f"Pass coverage >= {largest / total:.4g} (one cell), or a larger area."
        )


def _check_area_covers(known: Events, grid: Grid) -> None:
    """Refuse an area that holds none of the incidents; warn about those outside it."""
    outside = int(np.count_nonzero(grid.cell_of(known.x, known.y) < 0))
    if outside == len(known):
        ex0, ey0, ex1, ey1 = known.bounds
        gx0, gy0, gx1, gy1 = grid.bounds
        raise ValueError(
            f"none of the {len(known):,} incidents known before the origin lies in the study "
            f"area: the incidents span x {ex0:,.0f} .. {ex1:,.0f}, y {ey0:,.0f} .. {ey1:,.0f} but "
            f"the area's cells span x {gx0:,.0f} .. {gx1:,.0f}, y {gy0:,.0f} .. {gy1:,.0f} "
            f"({grid.crs.to_string()}). Check that the area is in the incidents' CRS, or "
            "leave area=None to derive it from the incidents."
        )
    if outside:
        warn_user(
            f"{outside:,} of {len(known):,} incidents known before the origin lie outside the "
            "study area and count in no cell (they still add to the near-repeat scores of "
            "cells within reach); pass a larger area= to include them."
        )


def _as_events(incidents, time, x, y, crs, tz, options) -> Events:
    if isinstance(incidents, Events):
        if options or x is not None or y is not None or crs is not None:
            raise TypeError(
                "incidents are already caslite Events; column and CRS options apply only to "
                "tables. Pass the table instead, or drop the options."
            )
        return incidents
    return Events.from_frame(incidents, time=time, x=x, y=y, crs=crs, tz=tz, **options)
