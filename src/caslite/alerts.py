r"""Near-repeat alerts: after a burglary, where and for how long the risk is raised nearby.

After a burglary the risk of another one is raised close by for days to weeks (near repeats).
Prevention teams visit the victim and the neighbours and warn neighbourhood-watch groups.
:func:`near_repeat_alerts` turns the new burglaries into

- **zones**: a disc around each new burglary and the period after it in which the risk is
  raised, with the uplift measured on the area's own history (:func:`near_repeat_uplift`);
- the grid **cells** and the **addresses** in each zone, and the **earlier victims** in it
  (for revisits) — tables for the police, never put in messages;
- one **message** per neighbourhood-watch group whose area (a polygon the user supplies)
  a zone touches, from an editable template (Dutch and English shipped), naming the group's
  area, the period and the uplift in plain words — never an address or a coordinate.

**The uplift.** For a radius ``r`` and a window ``w`` the uplift is the Knox ratio of the
cumulative cell "within ``r`` metres and ``w`` days": the pairs of earlier incidents that are
that close in both space and time, divided by the pairs expected if the times were unrelated
to the places (the Knox permutation mean, here in closed form: the spatially close pairs times
the share of all pairs of incident times that lie within ``w`` of each other). A ratio of 3
means that within ``r`` and ``w`` of a burglary there were three times as many burglaries as
the same places see in an average period of that length. Its interval comes from a bootstrap
over square tiles of the area (near repeats cluster, so single incidents are not independent).
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import string
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.spatial

from caslite._atomic import atomic_path
from caslite._time import DAY
from caslite._validation import (
    DataQualityWarning,
    check_int,
    check_number,
    check_same_crs,
    check_share,
)

__all__ = [
    "ALERT_FIELDS",
    "NearRepeatAlerts",
    "Uplift",
    "alert_template",
    "near_repeat_alerts",
    "near_repeat_uplift",
    "uplift_words",
]

#: The fields a message template may use (``$name`` or ``${name}``, see :mod:`string`).
ALERT_FIELDS = (
    "team",
    "area",
    "period",
    "start_date",
    "end_date",
    "n_burglaries",
    "burglaries",
    "uplift",
    "radius_m",
    "window",
)
_LANGUAGES = ("en", "nl")
_MONTHS = {
    "en": (
        "January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December",
    ),
    "nl": (
        "januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
        "september", "oktober", "november", "december",
    ),
}  # fmt: skip
# Fewer earlier incidents than this and the history is too short to measure near repeats.
_MIN_HISTORY = 30


# ---------------------------------------------------------------------- checks
def _check_events(events, name: str):
    from caslite.events import Events

    if not isinstance(events, Events):
        raise TypeError(
            f"{name} must be caslite Events (see caslite.as_events or Events.from_frame), "
            f"got {type(events).__name__}."
        )
    return events


def _check_language(language) -> str:
    if language not in _LANGUAGES:
        raise ValueError(f"language must be one of {_LANGUAGES}, got {language!r}.")
    return language


# ---------------------------------------------------------------------- uplift
@dataclasses.dataclass(frozen=True)
class Uplift:
    """The near-repeat uplift of a zone, measured on the area's own history.

    Attributes
    ----------
    ratio : float
        Knox ratio of the cumulative cell "within ``radius_m`` and ``window_days``": observed
        over expected pairs of incidents (NaN when no pair is expected).
    low, high : float
        Bootstrap interval of the ratio (``1 - alpha`` level; NaN without pairs, or when the
        incidents lie in a single bootstrap tile).
    radius_m, window_days : float
        The zone: distance and time after a burglary.
    observed_pairs : int
        Pairs of incidents within ``radius_m`` and ``window_days`` of each other.
    expected_pairs : float
        Pairs expected if times were unrelated to places.
    n_events : int
        Incidents of the history it was measured on.
    source : str
        ``"measured"`` when the zone is where the history shows a significant excess (Knox
        test), ``"given"`` when the caller chose it, ``"default"`` when the history is too
        short or shows no significant excess (the zone is then the default one).
    note : str
        How the zone was chosen, in words.
    """

    ratio: float
    low: float
    high: float
    radius_m: float
    window_days: float
    observed_pairs: int
    expected_pairs: float
    n_events: int
    source: str = "given"
    note: str = ""

    @property
    def significant(self) -> bool:
        """Whether the interval lies above 1 (a measurable rise in risk)."""
        return bool(self.low > 1)


def near_repeat_uplift(
    events,
    radius_m: float = 200.0,
    window_days: float = 14.0,
    *,
    alpha: float = 0.05,
    n_boot: int = 999,
    tile_m: float | None = None,
    random_state=0,
) -> Uplift:
    """Measure how much a burglary raises the risk within a radius and window after it.

    Parameters
    ----------
    events : caslite.Events
        The history (incidents before the alerts).
    radius_m : float, default 200
        Distance from a burglary, metres (pairs at distance ``<= radius_m``).
    window_days : float, default 14
        Time after a burglary, days (pairs ``<= window_days`` apart).
    alpha : float, default 0.05
        The interval is the central ``1 - alpha`` bootstrap interval.
    n_boot : int, default 999
        Bootstrap replicates.
    tile_m : float, optional
        Side of the square tiles resampled by the bootstrap; default
        ``max(1000, 5 * radius_m)``. Each pair belongs half to each of its two incidents'
        tiles. When all incidents lie in one tile there is no interval (NaN): use a smaller
        ``tile_m`` (at least a few times ``radius_m``) or a longer, wider history.
    random_state : int, numpy.random.Generator or None, default 0
        Seed of the bootstrap.

    Returns
    -------
    Uplift

    Notes
    -----
    The ratio equals the Knox ratio of the cumulative cell ``[0, radius_m] x [0,
    window_days]`` of :func:`caslite.knox.knox_test` (whose expected count is a permutation
    mean; here it is exact: the spatially close pairs times the share of all pairs of times
    within ``window_days``). It is an average over the whole history and area; it says
    nothing about a single street, and a ratio measured on few pairs is uncertain (see the
    interval).

    Examples
    --------
    >>> import numpy as np
    >>> from caslite.events import Events
    >>> rng = np.random.default_rng(0)
    >>> day = 86_400
    >>> t0 = rng.integers(0, 365 * day, 200)
    >>> x0, y0 = rng.uniform(0, 5000, 200), rng.uniform(0, 5000, 200)
    >>> events = Events(np.r_[t0, t0 + 3 * day], np.r_[x0, x0 + 50.0], np.r_[y0, y0],
    ...                 crs="EPSG:28992", tz="Europe/Amsterdam")
    >>> uplift = near_repeat_uplift(events, 100, 7)
    >>> uplift.observed_pairs >= 200, uplift.significant
    (True, True)
    """
    events = _check_events(events, "events")
    radius = check_number(radius_m, "radius_m", positive=True, example=200)
    window = check_number(window_days, "window_days", positive=True, example=14)
    check_share(alpha, "alpha", "(0, 1)", what="a significance level", example=0.05)
    check_int(n_boot, "n_boot", example=999)
    tile = (
        max(1000.0, 5.0 * radius)
        if tile_m is None
        else check_number(tile_m, "tile_m", positive=True, example=1000)
    )
    n = len(events)
    t, x, y = events.t, events.x, events.y
    if n < 2:
        nan = float("nan")
        return Uplift(nan, nan, nan, radius, window, 0, nan, n)
    pairs = scipy.spatial.cKDTree(np.c_[x, y]).query_pairs(radius, output_type="ndarray")
    close = np.abs(t[pairs[:, 0]] - t[pairs[:, 1]]) <= window * DAY
    sorted_t = np.sort(t)
    within = np.searchsorted(sorted_t, sorted_t + window * DAY, side="right") - np.arange(n) - 1
    share = within.sum() / (n * (n - 1) / 2)
    observed = np.bincount(pairs[close].ravel(), minlength=n) / 2.0
    spatial = np.bincount(pairs.ravel(), minlength=n) / 2.0
    expected = spatial.sum() * share
    n_observed = int(close.sum())
    if expected <= 0:
        nan = float("nan")
        return Uplift(nan, nan, nan, radius, window, n_observed, float(expected), n)
    tiles = np.floor((x - x.min()) / tile).astype(np.int64) * (1 << 31) + np.floor(
        (y - y.min()) / tile
    ).astype(np.int64)
    _, tile_of = np.unique(tiles, return_inverse=True)
    if tile_of.max() == 0:
        # one tile: every replicate is the whole history, and the interval would be the ratio
        # itself, a certainty the data do not give
        nan = float("nan")
        return Uplift(float(n_observed / expected), nan, nan, radius, window, n_observed,
                      float(expected), n)  # fmt: skip
    observed_by_tile = np.bincount(tile_of, observed)
    spatial_by_tile = np.bincount(tile_of, spatial)
    rng = np.random.default_rng(random_state)
    draws = rng.integers(0, len(observed_by_tile), (int(n_boot), len(observed_by_tile)))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = observed_by_tile[draws].sum(axis=1) / (spatial_by_tile[draws].sum(axis=1) * share)
    low, high = np.nanquantile(ratios, [alpha / 2, 1 - alpha / 2])
    return Uplift(
        float(n_observed / expected), float(low), float(high), radius, window, n_observed,
        float(expected), n,
    )  # fmt: skip


def _choose_zone(known, *, radius_m, window_days, min_radius_m, default_radius_m,
                 default_window_days, alpha, min_ratio, n_permutations, random_state):  # fmt: skip
    """Return ``(radius, window, source, note)``: the zone the history supports."""
    from caslite.knox import knox_test, suggest_bandwidths

    if radius_m is not None:
        radius = check_number(radius_m, "radius_m", positive=True, example=200)
        if radius < min_radius_m:
            raise ValueError(
                f"radius_m={radius_m:g} is below the minimum zone size min_radius_m="
                f"{min_radius_m:g} m (a smaller zone can point at the victim's home); use a "
                "larger radius_m, or lower min_radius_m if you are sure."
            )
    if radius_m is not None and window_days is not None:
        window = check_number(window_days, "window_days", positive=True, example=14)
        return radius, window, "given", "zone as given."
    if len(known) < _MIN_HISTORY:
        note = (
            f"the history has {len(known)} incidents, too few to measure near repeats (at least "
            f"{_MIN_HISTORY}); default zone {default_radius_m:g} m, {default_window_days:g} days."
        )
        radius, window, source = default_radius_m, default_window_days, "default"
    else:
        result = knox_test(known, n_permutations=n_permutations, random_state=random_state)
        suggestion = suggest_bandwidths(result, alpha=alpha, min_ratio=min_ratio)
        if suggestion.radius_m is None:
            note = (
                f"no significant near-repeat excess in the history ({suggestion.message}); "
                f"default zone {default_radius_m:g} m, {default_window_days:g} days."
            )
            radius, window, source = default_radius_m, default_window_days, "default"
        else:
            radius, window = suggestion.radius_m, suggestion.window_days
            source, note = "measured", f"Knox test: {suggestion.message}"
    if radius_m is not None:
        radius = check_number(radius_m, "radius_m", positive=True, example=200)
    if window_days is not None:
        window = check_number(window_days, "window_days", positive=True, example=14)
    if radius < min_radius_m:
        note += f" Radius raised from {radius:g} m to the minimum zone size {min_radius_m:g} m."
        radius = min_radius_m
    return float(radius), float(window), source, note


# ---------------------------------------------------------------------- words
def _number_words(value: float, language: str) -> str:
    text = f"{value:.0f}" if value >= 2 else f"{value:.1f}"
    return text.replace(".", ",") if language == "nl" else text


def _window_words(days: float, language: str) -> str:
    weeks = days / 7
    if days >= 7 and float(weeks).is_integer():
        unit = ("week", "weeks") if language == "en" else ("week", "weken")
        return f"{weeks:.0f} {unit[weeks != 1]}"
    unit = ("day", "days") if language == "en" else ("dag", "dagen")
    return f"{days:g} {unit[days != 1]}"


def uplift_words(uplift: Uplift, language: str = "en") -> str:
    """Say the uplift in plain words, e.g. "about 3 times the usual risk within 200 m ...".

    Parameters
    ----------
    uplift : Uplift
    language : {"en", "nl"}

    Returns
    -------
    str

    Examples
    --------
    >>> u = Uplift(3.2, 2.6, 3.9, 200.0, 14.0, 120, 37.5, 900)
    >>> uplift_words(u)
    'about 3 times the usual risk within 200 m for the next 2 weeks'
    >>> uplift_words(u, "nl")
    'ongeveer 3 keer het gebruikelijke risico binnen 200 meter in de komende 2 weken'
    """
    language = _check_language(language)
    radius = f"{uplift.radius_m:g}"
    window = _window_words(uplift.window_days, language)
    if not uplift.significant:
        if language == "nl":
            return (
                f"een verhoogd risico binnen {radius} meter in de komende {window} is in deze "
                "buurt niet gemeten, maar inbrekers komen vaker terug"
            )
        return (
            f"a raised risk within {radius} m for the next {window} could not be measured in "
            "this area's history, but burglars often return"
        )
    times = _number_words(uplift.ratio, language)
    if language == "nl":
        return (
            f"ongeveer {times} keer het gebruikelijke risico binnen {radius} meter in de "
            f"komende {window}"
        )
    return f"about {times} times the usual risk within {radius} m for the next {window}"


def _date_words(stamp: pd.Timestamp, language: str, year: bool = True) -> str:
    month = _MONTHS[language][stamp.month - 1]
    return f"{stamp.day} {month}" + (f" {stamp.year}" if year else "")


# ---------------------------------------------------------------------- templates
def alert_template(language: str = "en") -> str:
    """Return the shipped message template text for ``language`` ("en" or "nl").

    Copy it, edit it and pass it as ``template=`` to :func:`near_repeat_alerts`; the fields
    it may use are :data:`ALERT_FIELDS`.

    Examples
    --------
    >>> "${uplift}" in alert_template("en") and "BERICHT VAN POLITIE" in alert_template("nl")
    True
    """
    language = _check_language(language)
    path = importlib.resources.files("caslite").joinpath("templates", f"alert_{language}.txt")
    return path.read_text(encoding="utf-8")


def _template(template, language: str) -> string.Template:
    if template is None:
        text = alert_template(language)
    elif isinstance(template, Path):
        text = template.read_text(encoding="utf-8")
    elif isinstance(template, str):
        text = template
    else:
        raise TypeError(
            f"template must be the template text (str) or a pathlib.Path of a text file, got "
            f"{type(template).__name__}."
        )
    parsed = string.Template(text)
    if not parsed.is_valid():
        raise ValueError(
            "the message template has a stray '$' (write '$$' for a dollar sign); fields are "
            f"written $name or ${{name}} with a name among {', '.join(ALERT_FIELDS)}."
        )
    unknown = sorted(set(parsed.get_identifiers()) - set(ALERT_FIELDS))
    if unknown:
        raise ValueError(
            f"the message template uses unknown field(s) {', '.join(unknown)}; the fields are "
            f"{', '.join(ALERT_FIELDS)}."
        )
    return parsed


# ---------------------------------------------------------------------- result
@dataclasses.dataclass(frozen=True, eq=False)
class NearRepeatAlerts:
    """The result of :func:`near_repeat_alerts`.

    Attributes
    ----------
    uplift : Uplift
        The zone (radius, window), how it was chosen and its measured uplift.
    zones : geopandas.GeoDataFrame
        One row per new burglary: ``incident`` (its row label), ``start`` (its time) and
        ``end`` of the raised risk (local), ``radius_m``, ``uplift``, ``uplift_low``,
        ``uplift_high``, ``n_cells``, ``n_addresses``, ``n_revisits``, ``groups`` (names,
        ``"; "``-joined) and the disc as geometry. For the police: it locates the victim.
    cells : pandas.DataFrame
        ``incident`` and ``cell_id``: the grid cells a zone touches (empty without a grid).
    addresses : pandas.DataFrame
        ``incident`` and ``address`` (row label of the address layer) in each zone (empty
        without an address layer).
    revisits : pandas.DataFrame
        Earlier victims in each zone for revisits: ``incident``, ``earlier`` (its row label in
        the history), ``time``, ``x``, ``y``, ``distance_m``.
    messages : pandas.DataFrame
        One row per group a zone touches: ``group``, ``n_burglaries``, ``start``, ``end``,
        ``text``. No address or coordinate is in a text.
    """

    uplift: Uplift
    zones: object
    cells: pd.DataFrame
    addresses: pd.DataFrame
    revisits: pd.DataFrame
    messages: pd.DataFrame

    def __repr__(self) -> str:
        u = self.uplift
        return (
            f"NearRepeatAlerts({len(self.zones)} zones of {u.radius_m:g} m and "
            f"{u.window_days:g} days, uplift {u.ratio:.2f} [{u.low:.2f}, {u.high:.2f}] "
            f"({u.source}), {len(self.revisits)} revisits, {len(self.messages)} messages)"
        )

    def to_file(self, path) -> Path:
        """Write the zones and the earlier victims to a GeoPackage (layers zones, revisits).

        The file is written in a temporary folder beside ``path`` and moved into place only
        when both layers are complete (:mod:`caslite._atomic`): a failed write leaves an
        existing file as it was and nothing behind.

        Parameters
        ----------
        path : str or pathlib.Path
            A ``.gpkg`` file.

        Returns
        -------
        pathlib.Path

        Examples
        --------
        >>> import os, tempfile
        >>> import geopandas, numpy as np
        >>> from caslite.events import Events
        >>> rng = np.random.default_rng(0)
        >>> t = np.sort(rng.integers(0, 200 * 86_400, 40))
        >>> events = Events(t, rng.uniform(0, 2000, 40), rng.uniform(0, 2000, 40),
        ...                 crs="EPSG:28992", tz="Europe/Amsterdam")
        >>> known, new = events.select(np.arange(35)), events.select(np.arange(35, 40))
        >>> alerts = near_repeat_alerts(known, new, radius_m=200, window_days=14)
        >>> folder = tempfile.mkdtemp()
        >>> path = alerts.to_file(os.path.join(folder, "zones.gpkg"))
        >>> geopandas.list_layers(path)["name"].tolist(), os.listdir(folder)
        (['zones', 'revisits'], ['zones.gpkg'])
        """
        import geopandas

        path = Path(path)
        if path.suffix.lower() != ".gpkg":
            raise ValueError(f"path must end in .gpkg (a GeoPackage), got {path.name!r}.")
        zones = self.zones.copy()
        for column in ("start", "end"):
            zones[column] = zones[column].astype(str)
        revisits = geopandas.GeoDataFrame(
            self.revisits.assign(time=self.revisits["time"].astype(str)),
            geometry=geopandas.points_from_xy(self.revisits["x"], self.revisits["y"]),
            crs=self.zones.crs,
        )
        with atomic_path(path) as temporary:
            zones.to_file(temporary, layer="zones", driver="GPKG", engine="pyogrio")
            revisits.to_file(temporary, layer="revisits", driver="GPKG", engine="pyogrio")
        return path


# ---------------------------------------------------------------------- alerts
def near_repeat_alerts(
    known,
    new,
    *,
    groups=None,
    group_name: str = "name",
    area_column: str | None = None,
    grid=None,
    addresses=None,
    radius_m: float | None = None,
    window_days: float | None = None,
    min_radius_m: float = 200.0,
    default_radius_m: float = 200.0,
    default_window_days: float = 14.0,
    revisit_days: float = 365.0,
    alpha: float = 0.05,
    min_ratio: float = 1.2,
    n_permutations: int = 199,
    language: str = "en",
    template=None,
    team: str = "",
    random_state=0,
) -> NearRepeatAlerts:
    """Turn new burglaries into near-repeat zones, revisit lists and group messages.

    Parameters
    ----------
    known : caslite.Events
        The incidents known before the new ones: the history on which the uplift is
        measured and in which earlier victims are looked up. All of them must be earlier than
        the first new burglary (no later incident may shape an alert).
    new : caslite.Events
        The new burglaries (e.g. the last 24 hours); same CRS and time zone as ``known``.
    groups : geopandas.GeoDataFrame, optional
        Neighbourhood-watch groups: one polygon per group, in the incidents' CRS, with the
        group's name in column ``group_name``. A group gets a message when a zone touches
        its polygon.
    group_name : str, default "name"
        The column of ``groups`` with the names used in messages.
    area_column : str, optional
        Without ``groups``: a column of ``new`` naming each burglary's area (e.g. the
        neighbourhood); one message per area (a burglary without a name gets none, with a
        :class:`~caslite.DataQualityWarning`). Ignored with ``groups``.
    grid : caslite.Grid, optional
        The cells a zone touches are listed in :attr:`NearRepeatAlerts.cells`.
    addresses : geopandas.GeoDataFrame, optional
        Address or building points; those in a zone are listed in
        :attr:`NearRepeatAlerts.addresses` (never in messages).
    radius_m, window_days : float, optional
        Fix the zone. By default both come from a Knox test on ``known`` (the extent of the
        significant near-repeat excess, :func:`caslite.knox.suggest_bandwidths`), or are the
        defaults when the history is too short (fewer than 30 incidents) or shows no
        significant excess; :attr:`Uplift.source` and :attr:`Uplift.note` say which.
    min_radius_m : float, default 200
        Minimum zone radius (privacy: a small zone points at the victim's home). A measured
        radius below it is raised to it; a given ``radius_m`` below it is refused.
    default_radius_m, default_window_days : float, default 200 and 14
        The zone when the history cannot measure one.
    revisit_days : float, default 365
        Earlier victims in the zone up to this many days before the new burglary.
    alpha : float, default 0.05
        Significance level of the Knox test and ``1 - alpha`` level of the interval.
    min_ratio : float, default 1.2
        Smallest Knox ratio that counts as raised risk when the zone is read off the Knox
        test (see :func:`caslite.knox.suggest_bandwidths`): 1.2 keeps the band where close
        pairs are at least 20 % above expectation.
    n_permutations : int, default 199
        Permutations of the Knox test.
    language : {"en", "nl"}, default "en"
        Language of the shipped template and of the words filled in.
    template : str or pathlib.Path, optional
        Message template text (a :class:`string.Template`: ``$area``, ``${uplift}``), or a
        Path of a file holding it; default the shipped one (:func:`alert_template`). Fields:
        :data:`ALERT_FIELDS`.
    team : str, default ""
        The police team's name; the template's ``$team`` is it after a space, or nothing.
    random_state : int, numpy.random.Generator or None, default 0
        Seed of the Knox permutations and the bootstrap.

    Returns
    -------
    NearRepeatAlerts

    Raises
    ------
    TypeError
        If ``known`` or ``new`` are not Events, or ``groups`` is not a GeoDataFrame.
    ValueError
        For a CRS or time-zone mismatch, ``known`` not ending before ``new``, a missing
        ``group_name`` or ``area_column`` column, a ``radius_m`` below ``min_radius_m``, or a
        template with unknown fields.

    Examples
    --------
    >>> import geopandas, shapely
    >>> from caslite.datasets import load_sample
    >>> events = load_sample("toronto").to_events(duplicates="drop")
    >>> known = events.before("2019-12-20")
    >>> new = events.select((events.t >= known.t.max() + 1) & (events.t < known.t.max() + 86_400))
    >>> groups = geopandas.GeoDataFrame({"name": ["Watch A", "Far away"]},
    ...     geometry=[shapely.Point(new.x[0], new.y[0]).buffer(800),
    ...               shapely.box(0, 0, 1000, 1000)], crs=events.crs)
    >>> alerts = near_repeat_alerts(known, new, groups=groups, n_permutations=49)
    >>> alerts.messages["group"].tolist()
    ['Watch A']
    """
    import geopandas
    import shapely

    known = _check_events(known, "known")
    new = _check_events(new, "new")
    check_same_crs(new.crs, known.crs, "new", "known")
    if new.tz != known.tz:
        raise ValueError(
            f"new is in time zone {new.tz!r} but known in {known.tz!r}; read both with the same tz."
        )
    if len(known) and len(new) and known.t.max() >= new.t.min():
        first = pd.Timestamp(int(new.t.min()), unit="s", tz="UTC").tz_convert(new.tz)
        n_later = int((known.t >= new.t.min()).sum())
        raise ValueError(
            f"known has {n_later} incident(s) at or after the first new burglary "
            f"({first:%Y-%m-%d %H:%M %Z}); the history must end before the new burglaries, so "
            "that the zone and its uplift use no later incident: pass "
            f"known=events.before({str(first.tz_localize(None))!r}) or drop the new ones from it."
        )
    language = _check_language(language)
    parsed_template = _template(template, language)
    min_radius = check_number(min_radius_m, "min_radius_m", positive=True, example=200)
    revisit = check_number(revisit_days, "revisit_days", positive=True, example=365)
    radius, window, source, note = _choose_zone(
        known,
        radius_m=radius_m,
        window_days=window_days,
        min_radius_m=min_radius,
        default_radius_m=max(
            check_number(default_radius_m, "default_radius_m", positive=True, example=200),
            min_radius,
        ),
        default_window_days=check_number(
            default_window_days, "default_window_days", positive=True, example=14
        ),
        alpha=alpha,
        min_ratio=min_ratio,
        n_permutations=n_permutations,
        random_state=random_state,
    )
    uplift = near_repeat_uplift(known, radius, window, alpha=alpha, random_state=random_state)
    uplift = dataclasses.replace(uplift, source=source, note=note)

    tz = known.tz
    starts = new.times
    ends = pd.DatetimeIndex(pd.to_datetime(new.t + round(window * DAY), unit="s", utc=True))
    ends = ends.tz_convert(tz)
    discs = shapely.buffer(shapely.points(new.x, new.y), radius, quad_segs=16)
    labels = new.data.index
    zones = geopandas.GeoDataFrame(
        {
            "incident": labels.to_numpy(),
            "start": starts,
            "end": ends,
            "radius_m": radius,
            "uplift": uplift.ratio,
            "uplift_low": uplift.low,
            "uplift_high": uplift.high,
        },
        geometry=discs,
        crs=known.crs,
    )
    zone_frame = zones[["incident", "geometry"]]

    # cells and addresses in the zones
    cells = pd.DataFrame({"incident": labels[:0].to_numpy(), "cell_id": np.array([], int)})
    if grid is not None:
        check_same_crs(grid.crs, known.crs, "grid", "known")
        joined = geopandas.sjoin(zone_frame, grid.to_geodataframe()[["cell_id", "geometry"]])
        cells = joined[["incident", "cell_id"]].sort_values(["incident", "cell_id"])
        cells = cells.reset_index(drop=True)
    zones["n_cells"] = _count(cells, labels)
    found = pd.DataFrame({"incident": labels[:0].to_numpy(), "address": []})
    if addresses is not None:
        if not isinstance(addresses, geopandas.GeoDataFrame):
            raise TypeError(f"addresses must be a GeoDataFrame, got {type(addresses).__name__}.")
        check_same_crs(addresses.crs, known.crs, "addresses", "known")
        points = geopandas.GeoDataFrame(
            {"address": addresses.index.to_numpy()}, geometry=addresses.geometry.values
        ).set_crs(known.crs, allow_override=True)
        joined = geopandas.sjoin(zone_frame, points)
        found = joined[["incident", "address"]].reset_index(drop=True)
    zones["n_addresses"] = _count(found, labels)

    # earlier victims
    revisits = _revisits(known, new, radius, revisit)
    zones["n_revisits"] = _count(revisits, labels)

    # groups and messages
    members = _group_members(zones, new, groups, group_name, area_column, known.crs)
    zones["groups"] = [
        "; ".join(members.loc[members["incident"] == label, "group"]) for label in labels
    ]
    messages = _messages(members, zones, uplift, parsed_template, language=language, team=team)
    return NearRepeatAlerts(uplift, zones, cells, found, revisits, messages)


def _count(table: pd.DataFrame, labels: pd.Index) -> np.ndarray:
    counts = table.groupby("incident").size()
    return counts.reindex(labels.to_numpy(), fill_value=0).to_numpy()


def _revisits(known, new, radius: float, revisit_days: float) -> pd.DataFrame:
    labels = new.data.index.to_numpy()
    rows = []
    if len(known) and len(new):
        tree = scipy.spatial.cKDTree(np.c_[known.x, known.y])
        for k, near in enumerate(tree.query_ball_point(np.c_[new.x, new.y], radius)):
            near = np.asarray(near, dtype=np.int64)
            dt = new.t[k] - known.t[near]
            near = near[(dt > 0) & (dt <= revisit_days * DAY)]
            for j in near[np.argsort(known.t[near], kind="stable")]:
                distance = float(np.hypot(known.x[j] - new.x[k], known.y[j] - new.y[k]))
                row = (labels[k], known.data.index[j], known.t[j], known.x[j], known.y[j])
                rows.append((*row, distance))
    frame = pd.DataFrame(rows, columns=["incident", "earlier", "t", "x", "y", "distance_m"])
    frame.insert(2, "time", pd.to_datetime(frame.pop("t").astype("int64"), unit="s", utc=True))
    frame["time"] = frame["time"].dt.tz_convert(known.tz)
    return frame


def _group_members(zones, new, groups, group_name, area_column, crs) -> pd.DataFrame:
    """Return ``incident`` and ``group``: which groups each zone touches."""
    import geopandas

    if groups is not None:
        if not isinstance(groups, geopandas.GeoDataFrame):
            raise TypeError(
                f"groups must be a GeoDataFrame of polygons, got {type(groups).__name__}."
            )
        if group_name not in groups.columns:
            raise ValueError(
                f"groups has no column {group_name!r} with the group names; its columns are "
                f"{list(groups.columns)}: pass group_name=..."
            )
        if groups.crs is None:
            raise ValueError("groups has no CRS; set it with groups.set_crs('EPSG:....').")
        check_same_crs(groups.crs, crs, "groups", "the incidents")
        polygons = geopandas.GeoDataFrame(
            {"group": groups[group_name].astype(str).to_numpy()},
            geometry=groups.geometry.values,
            crs=groups.crs,
        )
        joined = geopandas.sjoin(zones[["incident", "geometry"]], polygons)
        return joined[["incident", "group"]].reset_index(drop=True)
    if area_column is not None:
        if area_column not in new.data.columns:
            raise ValueError(
                f"new has no column {area_column!r} naming the area; its columns are "
                f"{list(new.data.columns)}."
            )
        names = new.data[area_column]
        keep = names.notna().to_numpy()
        if not keep.all():
            warnings.warn(
                f"{int((~keep).sum())} of the {len(keep)} new burglaries have no "
                f"{area_column!r}: their zones get no message. Fill the column, or give the "
                "groups as polygons (groups=...) to place them.",
                DataQualityWarning,
                stacklevel=3,
            )
        return pd.DataFrame(
            {"incident": new.data.index.to_numpy()[keep], "group": names[keep].astype(str)}
        ).reset_index(drop=True)
    return pd.DataFrame({"incident": new.data.index[:0].to_numpy(), "group": []})


def _messages(members, zones, uplift, template, *, language, team) -> pd.DataFrame:
    rows = []
    by_label = zones.set_index("incident")
    for group, part in members.groupby("group", sort=True):
        zone = by_label.loc[part["incident"].unique()]
        start, end = zone["start"].min(), zone["end"].max()
        n = len(zone)
        if language == "nl":
            burglaries = "een inbraak" if n == 1 else f"{n} inbraken"
        else:
            burglaries = "a burglary" if n == 1 else f"{n} burglaries"
        period = (
            f"{_date_words(start, language, year=start.year != end.year)} - "
            f"{_date_words(end, language)}"
        )
        fields = {
            "team": f" {team}" if team else "",
            "area": group,
            "period": period,
            "start_date": _date_words(start, language),
            "end_date": _date_words(end, language),
            "n_burglaries": str(n),
            "burglaries": burglaries,
            "uplift": uplift_words(uplift, language),
            "radius_m": f"{uplift.radius_m:g}",
            "window": _window_words(uplift.window_days, language),
        }
        rows.append((group, n, start, end, template.substitute(fields).strip()))
    return pd.DataFrame(rows, columns=["group", "n_burglaries", "start", "end", "text"])
