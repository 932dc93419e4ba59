r"""The dark-months outlook: expected burglaries per week and district for the coming months.

Burglary peaks in the dark months; municipalities fund extra prevention and need to know where
and in which weeks to put it. :func:`dark_months_outlook` forecasts the incidents per district
and week for the next ``weeks`` weeks (default 26) with prediction intervals, from

- **seasonality**: one yearly harmonic of the week's mid-point;
- **darkness**: the share of the evening hours 17:00-21:00 (local) after civil dusk, averaged
  over the week's days (it jumps when the clocks change, which a smooth harmonic cannot);
- **the districts' levels**: one term per district;
- **the recent level**: the forecasts are scaled by observed / fitted incidents of the whole
  area over the last ``recent_weeks`` weeks (shrunk towards 1 by 20 pseudo-incidents), so a
  year that runs high or low carries on.

The model is a Poisson GLM (:class:`sklearn.linear_model.PoissonRegressor`) fit on the
``lookback_weeks`` weeks before the origin; the intervals are quantiles of a negative binomial
with the forecast as mean and the dispersion of the training residuals (method of moments).

:func:`outlook_backtest` runs it from rolling origins with two seasonal naive baselines (the
same week last year; the mean of the same week in the previous years) and
:func:`outlook_scores` scores them: weekly district mean absolute scaled error (MASE, scaled
by each district's in-sample error of the same-week-last-year forecast) and interval coverage.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from caslite._time import DAYS_PER_WEEK
from caslite._validation import check_int, check_number, check_share

__all__ = ["Outlook", "dark_months_outlook", "district_names", "outlook_backtest", "outlook_scores"]

_EVENING = (17, 21)  # local hours whose darkness is a feature


# ---------------------------------------------------------------------- districts and weeks
def district_names(events, *, areas=None, name_column="name", area_column=None,
                   district_size_m=None) -> np.ndarray:  # fmt: skip
    """Return the district of every incident: a polygon's name, a column or a square tile.

    Exactly one of ``areas`` (polygons named in ``name_column``; incidents in none are in
    ``"(outside)"``, an incident on the border of several is in the first of them in the
    order of the rows), ``area_column`` (missing names are ``"(none)"``) and ``district_size_m``
    (square tiles of that side, named ``"E<i>N<j>"``) must be given. The tiles are aligned on
    multiples of ``district_size_m`` in the CRS (tile ``i`` spans ``i * district_size_m`` to
    ``(i + 1) * district_size_m``), so that a tile's name does not depend on which incidents
    are given: the same place has the same name in every run.

    Examples
    --------
    >>> from caslite.events import Events
    >>> events = Events([0, 60, 120], [100.0, 2500.0, 2500.0], [100.0, 100.0, 4100.0],
    ...                 crs="EPSG:28992", tz="Europe/Amsterdam")
    >>> district_names(events, district_size_m=2000).tolist()
    ['E0N0', 'E1N0', 'E1N2']
    """
    given = [v is not None for v in (areas, area_column, district_size_m)]
    if sum(given) != 1:
        raise ValueError(
            "give the districts in exactly one way: areas=GeoDataFrame of polygons, "
            "area_column='neighbourhood' (a column of the incidents) or district_size_m=2000 "
            f"(square tiles); got {sum(given)}."
        )
    if area_column is not None:
        from caslite.neighbourhood import _column_names

        return _column_names(events, area_column, "(none)")
    if district_size_m is not None:
        check_number(district_size_m, "district_size_m", positive=True, example=2000)
        i = np.floor(events.x / district_size_m).astype(np.int64)
        j = np.floor(events.y / district_size_m).astype(np.int64)
        return np.array([f"E{a}N{b}" for a, b in zip(i, j, strict=True)])
    import geopandas

    from caslite._validation import check_same_crs
    from caslite.neighbourhood import _polygon_names

    if not isinstance(areas, geopandas.GeoDataFrame):
        raise TypeError(f"areas must be a GeoDataFrame of polygons, got {type(areas).__name__}.")
    if name_column not in areas.columns:
        raise ValueError(
            f"areas has no column {name_column!r}; its columns are {list(areas.columns)}."
        )
    check_same_crs(areas.crs, events.crs, "areas", "the incidents")
    polygons = geopandas.GeoDataFrame(
        {"district": areas[name_column].astype(str).to_numpy()},
        geometry=areas.geometry.values,
        crs=areas.crs,
    )
    names = _polygon_names(events.x, events.y, polygons, "district", events.crs)
    return np.where(pd.isna(names), "(outside)", names).astype(str)


def _local_midnight(stamp: pd.Timestamp, tz: str, shift_days: int = 0) -> pd.Timestamp:
    naive = stamp.tz_convert(tz).tz_localize(None).normalize() + pd.Timedelta(days=shift_days)
    return naive.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")


def _week_starts(origin: pd.Timestamp, first: int, last: int, tz: str) -> pd.DatetimeIndex:
    """Local midnights ``origin + 7k days`` for ``k`` in ``first .. last`` (inclusive)."""
    return pd.DatetimeIndex(
        [_local_midnight(origin, tz, DAYS_PER_WEEK * k) for k in range(first, last + 1)]
    )


def _lon_lat(events) -> tuple[float, float]:
    import pyproj

    to_wgs84 = pyproj.Transformer.from_crs(events.crs, "EPSG:4326", always_xy=True)
    lon, lat = to_wgs84.transform(float(np.median(events.x)), float(np.median(events.y)))
    return float(lon), float(lat)


def _week_features(starts: pd.DatetimeIndex, lon: float, lat: float, tz: str) -> np.ndarray:
    """Per week: yearly harmonic (sin, cos) of the mid-point and the evening darkness share."""
    from caslite._solar import darkness_share

    middle = starts + pd.Timedelta(days=3.5)
    phase = 2 * np.pi * (middle.day_of_year.to_numpy() - 1) / 365.25
    days = pd.DatetimeIndex(
        [s.tz_localize(None) + pd.Timedelta(days=d) for s in starts for d in range(DAYS_PER_WEEK)]
    )
    lo = (days + pd.Timedelta(hours=_EVENING[0])).tz_localize(
        tz, ambiguous=True, nonexistent="shift_forward"
    )
    hi = (days + pd.Timedelta(hours=_EVENING[1])).tz_localize(
        tz, ambiguous=True, nonexistent="shift_forward"
    )
    share = darkness_share(
        lo.as_unit("s").asi8, hi.as_unit("s").asi8, lon, lat, step=600.0
    ).reshape(len(starts), DAYS_PER_WEEK)
    return np.column_stack([np.sin(phase), np.cos(phase), share.mean(axis=1)])


def _weekly_counts(t, names, edges_utc, districts) -> np.ndarray:
    """Incidents per (week, district) for week edges in UTC seconds."""
    week = np.searchsorted(edges_utc, t, side="right") - 1
    inside = (week >= 0) & (week < len(edges_utc) - 1)
    column = pd.Index(districts).get_indexer(names)
    keep = inside & (column >= 0)
    counts = np.zeros((len(edges_utc) - 1, len(districts)), dtype=np.int64)
    np.add.at(counts, (week[keep], column[keep]), 1)
    return counts


# ---------------------------------------------------------------------- result
@dataclasses.dataclass(frozen=True, eq=False)
class Outlook:
    """The result of :func:`dark_months_outlook`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per district and week: ``district``, ``week_start`` (local), ``expected``,
        ``low``, ``high`` (the ``1 - alpha`` prediction interval of the count) and
        ``darkness`` (the evening darkness share of the week).
    history : pandas.DataFrame
        The observed weekly counts the model was fit on (``district``, ``week_start``,
        ``observed``, ``fitted``).
    level : float
        The recent-level factor applied to the forecasts.
    dispersion : float
        Negative binomial size ``k`` (variance ``mu + mu**2 / k``; inf for Poisson).
    origin : pandas.Timestamp
    alpha : float
    """

    table: pd.DataFrame
    history: pd.DataFrame
    level: float
    dispersion: float
    origin: pd.Timestamp
    alpha: float

    def __repr__(self) -> str:
        n_weeks = self.table["week_start"].nunique()
        return (
            f"Outlook({self.table['district'].nunique()} districts x {n_weeks} weeks from "
            f"{self.origin:%Y-%m-%d}, {self.table['expected'].sum():.0f} incidents expected)"
        )

    @property
    def ranking(self) -> pd.DataFrame:
        """District-weeks by expected incidents, highest first (ties: district, week)."""
        order = self.table.sort_values(
            ["expected", "district", "week_start"], ascending=[False, True, True], kind="stable"
        )
        return order.reset_index(drop=True)

    def figure(self, districts=None, *, n: int = 9):
        """Small multiples: per district the last year observed and the outlook with its band.

        Parameters
        ----------
        districts : list of str, optional
            Default the ``n`` districts with the most expected incidents.
        n : int, default 9
        """
        from matplotlib.figure import Figure

        if districts is None:
            total = self.table.groupby("district")["expected"].sum()
            districts = total.sort_values(ascending=False, kind="stable").index[:n].tolist()
        cols = min(3, len(districts))
        rows = -(-len(districts) // cols)
        fig = Figure(figsize=(4 * cols, 2.6 * rows), layout="constrained")
        axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, squeeze=False)).ravel()
        recent = self.history[self.history["week_start"] >= self.origin - pd.Timedelta(weeks=52)]
        for ax, name in zip(axes, districts, strict=False):
            past = recent[recent["district"] == name]
            ahead = self.table[self.table["district"] == name]
            ax.plot(past["week_start"], past["observed"], ".", color="grey", ms=3)
            ax.fill_between(ahead["week_start"], ahead["low"], ahead["high"], color="#f5b7b1",
                            step="post", label=f"{1 - self.alpha:.0%} interval")  # fmt: skip
            ax.plot(ahead["week_start"], ahead["expected"], color="#c0392b", label="expected")
            ax.set_title(str(name), fontsize=9)
            ax.tick_params(labelsize=7)
        for ax in axes[len(districts) :]:
            ax.set_axis_off()
        axes[0].legend(fontsize=7)
        return fig


# ---------------------------------------------------------------------- the model
def _fit_predict(counts, features_past, features_ahead, *, recent_weeks, alpha_ridge=1e-4):
    """Fit the Poisson GLM on (week, district) counts; return fitted, forecast, level, k."""
    from sklearn.linear_model import PoissonRegressor

    n_past, n_districts = counts.shape
    eye = np.eye(n_districts)

    def design(features):
        n = len(features)
        return np.hstack([np.repeat(features, n_districts, axis=0), np.tile(eye, (n, 1))])

    model = PoissonRegressor(alpha=alpha_ridge, max_iter=1000)
    model.fit(design(features_past), counts.ravel())
    fitted = model.predict(design(features_past)).reshape(n_past, n_districts)
    ahead = model.predict(design(features_ahead)).reshape(len(features_ahead), n_districts)
    observed_recent = counts[-recent_weeks:].sum()
    fitted_recent = fitted[-recent_weeks:].sum()
    level = (observed_recent + 20.0) / (fitted_recent + 20.0)
    excess = ((counts - fitted) ** 2 - fitted).sum()
    k = (fitted**2).sum() / excess if excess > 0 else np.inf
    return fitted, ahead * level, float(level), float(k)


def _interval(mean, k, alpha):
    import scipy.stats

    if not np.isfinite(k):
        dist = scipy.stats.poisson(mean)
    else:
        dist = scipy.stats.nbinom(k, k / (k + mean))
    return dist.ppf(alpha / 2), dist.ppf(1 - alpha / 2)


def dark_months_outlook(
    events,
    *,
    areas=None,
    name_column: str = "name",
    area_column: str | None = None,
    district_size_m: float | None = None,
    origin=None,
    weeks: int = 26,
    lookback_weeks: int = 156,
    recent_weeks: int = 8,
    alpha: float = 0.2,
) -> Outlook:
    """Forecast the incidents per district and week for the coming months, with intervals.

    Parameters
    ----------
    events : caslite.Events
        The incidents; only those known before ``origin`` are used (an incident with a time
        window once its window has ended, as in :meth:`caslite.Events.before`): the districts,
        the model and the place whose darkness is computed do not depend on later incidents.
    areas, name_column, area_column, district_size_m
        The districts, given in exactly one way: polygons (``areas``, named in
        ``name_column``), a column of the incidents (``area_column``) or square tiles of
        ``district_size_m`` metres (grid aggregates).
    origin : str, datetime or None
        Start of the first forecast week, a local midnight (another time is refused); default
        the midnight after the last incident. Weeks are 7 local calendar days from it.
    weeks : int, default 26
        Weeks ahead (26: six months).
    lookback_weeks : int, default 156
        Weeks of history the model is fit on (at least 52).
    recent_weeks : int, default 8
        Weeks over which the recent level is measured.
    alpha : float, default 0.2
        The intervals are central ``1 - alpha`` prediction intervals (0.2: 80 %).

    Returns
    -------
    Outlook

    Examples
    --------
    >>> from caslite.datasets import load_sample
    >>> events = load_sample("toronto").to_events(duplicates="drop")
    >>> outlook = dark_months_outlook(events, district_size_m=3000, origin="2019-10-01",
    ...                               weeks=13, lookback_weeks=104)
    >>> outlook
    Outlook(6 districts x 13 weeks from 2019-10-01, ... incidents expected)
    >>> outlook.table.columns.tolist()
    ['district', 'week_start', 'expected', 'low', 'high', 'darkness']
    """
    from caslite._time import to_utc_seconds
    from caslite.events import Events

    if not isinstance(events, Events):
        raise TypeError(f"events must be caslite Events, got {type(events).__name__}.")
    weeks = check_int(weeks, "weeks", 1)
    lookback = check_int(lookback_weeks, "lookback_weeks", 52)
    recent = check_int(recent_weeks, "recent_weeks", 1)
    check_share(alpha, "alpha", "(0, 1)", what="1 - the interval level", example=0.2)
    if not len(events):
        raise ValueError("events is empty: there is nothing to forecast from.")
    tz = events.tz
    if origin is None:
        last = pd.Timestamp(int(events.t.max()), unit="s", tz="UTC")
        start = _local_midnight(last, tz, 1)
    else:
        start = pd.Timestamp(int(to_utc_seconds(origin, tz, "origin")), unit="s", tz="UTC")
        start = start.tz_convert(tz)
        midnight = _local_midnight(start, tz)
        if start != midnight:
            raise ValueError(
                f"origin={origin!r} is {start:%Y-%m-%d %H:%M %Z}, not a local midnight; the "
                f"weeks run from midnight: pass origin='{midnight:%Y-%m-%d}' (or the next day)."
            )
    starts = _week_starts(start, -lookback, weeks, tz)
    edges = starts.as_unit("s").asi8
    first = int(events.t.min())
    if first > edges[0]:
        began = pd.Timestamp(first, unit="s", tz="UTC").tz_convert(tz)
        raise ValueError(
            f"the incidents start on {began:%Y-%m-%d}"
            f", less than lookback_weeks={lookback} weeks before the origin {start:%Y-%m-%d}; "
            "use a later origin or a smaller lookback_weeks (at least 52)."
        )
    # from here on only the incidents before the origin: the districts, their names and the
    # place whose darkness is computed must not depend on later incidents.
    # (an incident with a time window is known once its window has ended, as in Events.before)
    past = events.select(events.t_end < edges[lookback])
    names = district_names(past, areas=areas, name_column=name_column,
                           area_column=area_column, district_size_m=district_size_m)  # fmt: skip
    districts = sorted(set(names))
    counts = _weekly_counts(past.t, names, edges[: lookback + 1], districts)
    lon, lat = _lon_lat(past)
    features = _week_features(starts[:-1], lon, lat, tz)
    fitted, expected, level, k = _fit_predict(
        counts, features[:lookback], features[lookback:], recent_weeks=recent
    )
    low, high = _interval(expected, k, alpha)
    ahead = starts[lookback:-1]
    table = pd.DataFrame(
        {
            "district": np.tile(districts, weeks),
            "week_start": np.repeat(ahead, len(districts)),
            "expected": expected.ravel(),
            "low": low.ravel(),
            "high": high.ravel(),
            "darkness": np.repeat(features[lookback:, 2], len(districts)),
        }
    )
    history = pd.DataFrame(
        {
            "district": np.tile(districts, lookback),
            "week_start": np.repeat(starts[:lookback], len(districts)),
            "observed": counts.ravel(),
            "fitted": fitted.ravel(),
        }
    )
    return Outlook(table.sort_values(["district", "week_start"], kind="stable").reset_index(
        drop=True), history, level, k, start, float(alpha))  # fmt: skip


# ---------------------------------------------------------------------- backtest
def outlook_backtest(events, origins, *, weeks=26, lookback_weeks=156, alpha=0.2,
                     **districts) -> pd.DataFrame:  # fmt: skip
    """Forecast from each origin and collect the outlook, the baselines and what happened.

    Parameters
    ----------
    events : caslite.Events
    origins : sequence of str or datetime
        Local origins; each needs ``lookback_weeks`` weeks of history before it and ``weeks``
        weeks after it.
    weeks, lookback_weeks, alpha
        As in :func:`dark_months_outlook`; ``weeks`` at most 52 (beyond it the same week
        last year lies after the origin).
    **districts
        ``areas``/``name_column``, ``area_column`` or ``district_size_m``.

    Returns
    -------
    pandas.DataFrame
        One row per origin, district and week ahead: ``origin``, ``district``, ``week``
        (1-based), ``observed``, ``outlook``, ``low``, ``high``, ``last_year`` (the count of
        the same district 52 weeks earlier), ``multi_year_mean`` (the mean of the same week
        in the previous years of the lookback), ``scale`` (the district's in-sample mean
        absolute error of the same-week-last-year forecast, for MASE), ``dispersion`` and
        ``alpha`` (the outlook's predictive distribution and interval level).

    Raises
    ------
    ValueError
        For ``weeks`` above 52, and as :func:`dark_months_outlook` for each origin.

    Examples
    --------
    >>> from caslite.datasets import load_sample
    >>> events = load_sample("toronto").to_events(duplicates="drop")
    >>> backtest = outlook_backtest(events, ["2019-03-04"], weeks=2, lookback_weeks=104,
    ...                             district_size_m=5000)
    >>> backtest.columns.tolist()[:5]
    ['origin', 'district', 'week', 'observed', 'outlook']
    >>> len(backtest) == 2 * backtest["district"].nunique()
    True
    >>> outlook_scores(backtest)["method"].tolist()
    ['outlook', 'last_year', 'multi_year_mean']
    """
    weeks = check_int(weeks, "weeks", 1)
    if weeks > 52:
        raise ValueError(
            f"weeks={weeks}: the seasonal baselines (the same week last year) are known for at "
            "most 52 weeks ahead; use weeks=52 or fewer."
        )
    names = district_names(events, **districts)
    frames = []
    for origin in origins:
        outlook = dark_months_outlook(events, origin=origin, weeks=weeks,
                                      lookback_weeks=lookback_weeks, alpha=alpha,
                                      **districts)  # fmt: skip
        tz = events.tz
        starts = _week_starts(outlook.origin, -lookback_weeks, weeks, tz)
        edges = starts.as_unit("s").asi8
        districts_ = sorted(outlook.table["district"].unique())
        counts = _weekly_counts(events.t, names, edges, districts_)
        past, future = counts[:lookback_weeks], counts[lookback_weeks:]
        years = lookback_weeks // 52
        same_weeks = np.stack([counts[lookback_weeks - 52 * y : lookback_weeks - 52 * y + weeks]
                               for y in range(1, years + 1)])  # fmt: skip
        scale = np.abs(past[52:] - past[:-52]).mean(axis=0)
        table = outlook.table
        expected = table["expected"].to_numpy().reshape(len(districts_), weeks).T
        low = table["low"].to_numpy().reshape(len(districts_), weeks).T
        high = table["high"].to_numpy().reshape(len(districts_), weeks).T
        frames.append(
            pd.DataFrame(
                {
                    "origin": outlook.origin,
                    "district": np.tile(districts_, weeks),
                    "week": np.repeat(np.arange(1, weeks + 1), len(districts_)),
                    "observed": future.ravel(),
                    "outlook": expected.ravel(),
                    "low": low.ravel(),
                    "high": high.ravel(),
                    "last_year": same_weeks[0].ravel(),
                    "multi_year_mean": same_weeks.mean(axis=0).ravel(),
                    "scale": np.tile(scale, weeks),
                    "dispersion": outlook.dispersion,
                    "alpha": outlook.alpha,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def outlook_scores(backtest: pd.DataFrame) -> pd.DataFrame:
    """Score a :func:`outlook_backtest`: weekly district MASE, MAE and interval coverage.

    MASE is the mean over district-weeks of ``|observed - forecast| / scale`` (districts whose
    scale is 0 are left out); coverage is the share of observed counts inside ``[low, high]``
    (the outlook only). For small counts that share is above ``1 - alpha`` even for a perfect
    forecast (a count is a whole number: with a mean of 0.5 the 80 % interval [0, 1] holds
    91 % of the outcomes), so ``pit_coverage`` gives the coverage of the randomised PIT
    (probability integral transform): the expected share of ``u`` in ``[alpha/2, 1 - alpha/2]``
    for ``u`` uniform on ``[F(y - 1), F(y)]``, which is ``1 - alpha`` for a calibrated forecast
    at any count.

    Returns
    -------
    pandas.DataFrame
        One row per method (``outlook``, ``last_year``, ``multi_year_mean``): ``mase``,
        ``mae``, ``bias`` (mean forecast - observed), ``coverage`` and ``pit_coverage`` (NaN
        for the baselines, and ``pit_coverage`` NaN without the ``dispersion`` and ``alpha``
        columns).

    Examples
    --------
    >>> import pandas as pd
    >>> backtest = pd.DataFrame({"observed": [2, 0], "outlook": [1.0, 1.0], "low": [0, 1],
    ...                          "high": [3, 2], "last_year": [2, 2],
    ...                          "multi_year_mean": [1.5, 0.5], "scale": [1.0, 2.0]})
    >>> print(outlook_scores(backtest)[["method", "mase", "coverage"]].to_string(index=False))
             method  mase  coverage
            outlook 0.750       0.5
          last_year 0.500       NaN
    multi_year_mean 0.375       NaN
    """
    usable = backtest[backtest["scale"] > 0]
    rows = []
    for method in ("outlook", "last_year", "multi_year_mean"):
        error = usable[method] - usable["observed"]
        coverage = pit = np.nan
        if method == "outlook":
            inside = (backtest["observed"] >= backtest["low"]) & (
                backtest["observed"] <= backtest["high"]
            )
            coverage = float(inside.mean())
            if {"dispersion", "alpha"} <= set(backtest.columns):
                pit = _pit_coverage(backtest)
        rows.append({
            "method": method,
            "mase": float((error.abs() / usable["scale"]).mean()),
            "mae": float(error.abs().mean()),
            "bias": float(error.mean()),
            "coverage": coverage,
            "pit_coverage": pit,
        })  # fmt: skip
    return pd.DataFrame(rows)


def _pit_coverage(backtest: pd.DataFrame) -> float:
    import scipy.stats

    y = backtest["observed"].to_numpy(dtype=np.float64)
    mean = backtest["outlook"].to_numpy(dtype=np.float64)
    k = backtest["dispersion"].to_numpy(dtype=np.float64)
    alpha = backtest["alpha"].to_numpy(dtype=np.float64)
    finite = np.isfinite(k)
    kk = np.where(finite, k, 1.0)
    nb = scipy.stats.nbinom(kk, kk / (kk + mean))
    po = scipy.stats.poisson(mean)
    upper = np.where(finite, nb.cdf(y), po.cdf(y))
    lower = np.where(finite, nb.cdf(y - 1), po.cdf(y - 1))
    overlap = np.clip(np.minimum(upper, 1 - alpha / 2) - np.maximum(lower, alpha / 2), 0, None)
    width = upper - lower
    share = np.where(width > 0, overlap / np.where(width > 0, width, 1.0), 0.0)
    return float(share.mean())
