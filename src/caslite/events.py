"""Incident data: validated, time-sorted events with projected coordinates.

:class:`Events` is what every other part of caslite reads. Build it with
:meth:`Events.from_frame` (pandas or geopandas), :meth:`Events.read` (CSV, GeoPackage,
GeoJSON, GeoParquet) or :func:`as_events` (any of these). Instants are stored as int64 seconds
in UTC, coordinates as float64 metres in a projected CRS, and every other column is kept in
:attr:`Events.data` for filters and features.

Nothing is cleaned silently: bad values raise a ``ValueError`` that says what is wrong and how
to fix it, unless the caller opts in to dropping them (``invalid="drop"``,
``duplicates="drop"``), in which case a :class:`~caslite.DataQualityWarning` reports the count
and :attr:`Events.report` keeps it.
"""

from __future__ import annotations

import datetime
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import scipy.sparse

from caslite import _timequality
from caslite._time import as_zone, parse_datetimes, to_utc_seconds
from caslite._validation import (
    MAX_COORDINATE,
    as_projected_crs,
    check_not_degrees,
    describe_rows,
    warn_user,
)
from caslite.shifts import Blocks

__all__ = ["Events", "as_events"]

_CHOICES = {
    "naive_times": ("local", "utc"),
    "ambiguous": ("raise", "earliest", "latest"),
    "nonexistent": ("raise", "shift_forward", "shift_backward"),
    "duplicates": ("keep", "drop", "raise"),
    "invalid": ("raise", "drop"),
    "date_only": ("window", "keep"),
    "default_times": ("window", "keep"),
}

_UNIT_SECONDS = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
_UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


_DEGREES_FIX = (
    "If they are degrees, pass crs='EPSG:4326' with to_crs='utm' (Events.from_frame, "
    "Events.read and caslite.predict then reproject them to the local UTM zone); if they "
    "are metres, check crs=."
)


def _check_choice(name: str, value) -> None:
    if value not in _CHOICES[name]:
        raise ValueError(f"{name}={value!r} is not one of {list(_CHOICES[name])}.")


class Events:
    """Validated incidents sorted by time.

    Most users build it with :meth:`from_frame` or :meth:`read`; this constructor takes
    clean arrays and only checks them.

    Parameters
    ----------
    t : array-like of int
        Occurrence instants (start of the window for uncertain times), int64 seconds UTC.
    x, y : array-like of float
        Coordinates in metres in ``crs``.
    crs : str, int or pyproj.CRS
        Projected CRS of ``x`` and ``y``.
    tz : str
        IANA time zone of the study area (used for shifts and local-time output).
    t_end : array-like of int, optional
        End of each event's time window (int64 seconds UTC); equal to ``t`` for an exact time.
    data : pandas.DataFrame, optional
        Other columns, one row per event in the order of ``t``; its index holds the user's row
        labels.
    report : dict, optional
        What was found and done while reading (duplicates, dropped rows, shifted times).

    Attributes
    ----------
    t, t_end : ndarray of int64
        Window start and end in UTC seconds, sorted by ``t`` (stable).
    x, y : ndarray of float64
        Coordinates in metres.
    crs : pyproj.CRS
    tz : str
    data : pandas.DataFrame
        Extra columns aligned with ``t``.
    report : dict
        Counts of what was found in the input: ``rows_read``, ``duplicates``,
        ``duplicates_dropped``, ``invalid_dropped``, ``placeholder_locations``,
        ``ambiguous_times``, ``nonexistent_times``, and ``time_quality`` (date-only records,
        heaps at default times, the day/month order; see :meth:`from_frame`).

    Raises
    ------
    ValueError
        For NaN or infinite coordinates, coordinates beyond 10**9 m (farther than any place on
        Earth), coordinates that look like longitude/latitude in degrees given in a projected
        CRS, windows that end before they start, or a CRS that is missing, geographic or not
        in metres.

    Notes
    -----
    No events is valid (a quiet period is data); what needs events says so, e.g.
    :class:`~caslite.TooLittleDataError` from the models. Events are sorted by ``t`` with a
    stable sort: rows with equal times keep their input order, and every result is the same
    for any order of the input rows. Coordinates look like degrees when every ``x`` lies in
    [-180, 180] and every ``y`` in [-90, 90] (or the other way round), read as metres they
    fall outside the CRS's area of use, and read as degrees they fall inside it or are written
    like geocoded degrees (more than two decimals); a CRS whose area of use is the whole world
    (e.g. EPSG:3857) cannot be checked.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"t": ["2019-03-02 10:00", "2019-03-01 23:00"],
    ...                       "x": [628000.0, 628100.0], "y": [4835000.0, 4835000.0],
    ...                       "premises": ["House", "Apartment"]})
    >>> events = Events.from_frame(frame, crs="EPSG:32617", tz="America/Toronto")
    >>> len(events), list(events.data["premises"])
    (2, ['Apartment', 'House'])
    >>> str(events.times[0])
    '2019-03-01 23:00:00-05:00'
    """

    def __init__(self, t, x, y, *, crs, tz, t_end=None, data=None, report=None):
        t = np.asarray(t)
        if t.dtype.kind not in "iu":
            raise TypeError(
                f"t must hold int64 UTC seconds, got dtype {t.dtype}; use Events.from_frame "
                "to parse datetimes or strings."
            )
        t = t.astype(np.int64).ravel()  # a copy: the events own their arrays
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        exact = t_end is None
        t_end = t if exact else np.asarray(t_end, dtype=np.int64).ravel()
        n = len(t)
        if not len(x) == len(y) == len(t_end) == n:
            raise ValueError(
                f"t, x, y and t_end must have one value per event; got lengths "
                f"{n}, {len(x)}, {len(y)}, {len(t_end)}."
            )
        if data is None:
            data = pd.DataFrame(index=pd.RangeIndex(n))
        if len(data) != n:
            raise ValueError(f"data has {len(data)} rows for {n} events.")
        bad = ~(np.isfinite(x) & np.isfinite(y))
        if bad.any():
            raise ValueError(
                f"{int(bad.sum())} events have NaN or infinite coordinates "
                f"({describe_rows(data.index[bad])}); fix or drop them first."
            )
        far = (np.abs(x) > MAX_COORDINATE) | (np.abs(y) > MAX_COORDINATE)
        if far.any():
            raise ValueError(
                f"{int(far.sum())} events have a coordinate beyond {MAX_COORDINATE:g} m "
                f"({describe_rows(data.index[far])}, e.g. x={x[far][0]:g}, y={y[far][0]:g}), "
                "farther from the CRS origin than any place on Earth; a unit error or a "
                "corrupt value? Fix or drop them first."
            )
        backwards = t_end < t
        if backwards.any():
            raise ValueError(
                f"{int(backwards.sum())} events have a time window that ends before it starts "
                f"({describe_rows(data.index[backwards])}); check the start and end columns."
            )
        crs = as_projected_crs(crs, "events")
        if n:
            check_not_degrees(
                (x.min(), y.min(), x.max(), y.max()), crs, "events", _DEGREES_FIX, elsewhere=True
            )
        # Sort by time (stable: rows with equal times keep their order), one array at a time
        # so that at most one temporary copy is alive besides the permutation.
        if n > 1 and np.any(t[1:] < t[:-1]):
            order = np.argsort(t, kind="stable")
            t = t[order]
            t_end = t if exact else t_end[order]
            x = x[order]
            y = y[order]
            data = data.iloc[order]
            del order
        else:  # already in time order: own copies, no reordering
            x = x.copy()
            y = y.copy()
            t_end = t if exact else t_end.copy()
            data = data.iloc[:]
        self.t, self.t_end = t, t.copy() if exact else t_end
        if exact:  # no windows, known without reading the times
            self._windows = (self.t, self.t_end, False)
        self.x, self.y = x, y
        self.data = data
        self.crs = crs
        self.tz = as_zone(tz)
        self.report = dict(report or {})

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frame(
        cls,
        frame,
        *,
        time="t",
        x=None,
        y=None,
        time_end=None,
        crs=None,
        tz,
        to_crs=None,
        naive_times="local",
        ambiguous="raise",
        nonexistent="raise",
        time_format=None,
        time_unit=None,
        duplicates="keep",
        duplicate_columns=None,
        invalid="raise",
        dayfirst=None,
        date_only="window",
        default_times="window",
        default_window="day",
    ) -> Events:
        """Validate a table of incidents and build :class:`Events`.

        Parameters
        ----------
        frame : pandas.DataFrame or geopandas.GeoDataFrame
            One row per incident.
        time : str, default "t"
            Column of occurrence times: datetimes, ISO strings, or numbers with ``time_unit``.
            For an uncertain time it is the start of the window.
        x, y : str, optional
            Coordinate columns; default ``"x"``/``"y"`` for a DataFrame and the point geometry
            for a GeoDataFrame.
        time_end : str, optional
            Column with the end of each incident's time window ("between leaving for work and
            coming home"); a missing value means the time is exact. Enables
            :meth:`aoristic_weights`.
        crs : str, int or pyproj.CRS, optional
            CRS of the coordinates; taken from a GeoDataFrame when omitted there.
        tz : str
            IANA time zone of the study area, e.g. ``"America/Toronto"``.
        to_crs : str, int or pyproj.CRS, optional
            Reproject to this CRS; ``"utm"`` picks the UTM zone of the data's centre. Needed
            for geographic (longitude/latitude) input, which is otherwise refused.
        naive_times : {"local", "utc"}, default "local"
            How to read times without a UTC offset: as wall-clock time in ``tz`` or as UTC.
            Times with an offset are always converted to UTC exactly.
        ambiguous : {"raise", "earliest", "latest"}, default "raise"
            Local times that occur twice (the repeated hour when clocks go back).
        nonexistent : {"raise", "shift_forward", "shift_backward"}, default "raise"
            Local times that do not exist (the skipped hour when clocks go forward): move them
            to the first instant after the gap or the last one before it.
        time_format : str, optional
            ``strftime`` format of time strings, or ``"ISO8601"`` / ``"mixed"``; inferred when
            omitted.
        time_unit : {"s", "ms", "us", "ns"}, optional
            Unit of numeric times, read as Unix times in UTC.
        duplicates : {"keep", "drop", "raise"}, default "keep"
            Rows identical to an earlier row in time, place and every other column are
            counted and reported in a warning; "drop" removes them (keeping the first).
        duplicate_columns : list of str, optional
            Which other columns must also agree for two rows at the same time and place to be
            duplicates; default all of them. ``[]`` compares time and place only.
        invalid : {"raise", "drop"}, default "raise"
            Rows with missing, non-finite or unparseable times or coordinates, empty
            geometry, or placeholder coordinates (at (0, 0), or one point repeated far outside
            all others); "drop" removes them and reports the count.
        dayfirst : bool, optional
            Order of day and month in numeric dates such as ``01/06/2019``: True for
            day/month/year, False for month/day/year. By default a column of such dates is
            read only when a value proves the order (``13/06/2019``: day-first), and that
            order is reported; a column that could be read either way, or whose values
            contradict each other, is refused. ISO dates are never ambiguous.
        date_only : {"window", "keep"}, default "window"
            Times without a time of day (``"2019-06-01"``): "window" makes each a whole-day
            window, from local midnight to the next local midnight, so that aoristic weights
            spread it over the day's shifts; "keep" reads it as the instant 00:00.
        default_times : {"window", "keep"}, default "window"
            Records at a default instant (00:00 or 12:00; in minute-precision data also 00:01
            and 23:59) when that instant holds significantly more records than its
            neighbouring hours or minutes imply (a heap: times entered when the real one was
            unknown). "window" gives every record at a heaped instant the window
            ``default_window`` (which of them are real cannot be told); "keep" keeps them as
            exact times. Either way the counts are reported.
        default_window : "day" or str or pandas.Timedelta, default "day"
            The window of a record at a heaped default instant: the local day containing it,
            or a duration (e.g. ``"6h"``) centred on it.

        Returns
        -------
        Events

        Raises
        ------
        ValueError
            With a message naming the column, the rows and the fix.

        Notes
        -----
        What was found about the times is in ``report["time_quality"]`` (see
        :doc:`/time_quality`): the precision, the day/month order used, the date-only
        records, the count at every candidate default instant (observed, expected from the
        neighbours, excess, p-value) and how many records became windows. Only records whose
        window is still an instant (:attr:`exact_times`) have a trustworthy time.
        A :class:`~caslite.DataQualityWarning` summarises it when records became windows or
        heaps were kept.

        Examples
        --------
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"t": ["2019-03-01 10:00", "not a time"],
        ...                       "x": [628000.0, 1.0], "y": [4835000.0, 1.0]})
        >>> Events.from_frame(frame, crs="EPSG:32617", tz="America/Toronto")
        Traceback (most recent call last):
        ...
        ValueError: column 't' has 1 value that cannot be read as a time (row 1: 'not a time'); ...
        """
        for name, value in [
            ("naive_times", naive_times),
            ("ambiguous", ambiguous),
            ("nonexistent", nonexistent),
            ("duplicates", duplicates),
            ("invalid", invalid),
            ("date_only", date_only),
            ("default_times", default_times),
        ]:
            _check_choice(name, value)
        window_label = str(default_window)  # as given: "day", "6h", ...
        default_window = _check_default_window(default_window)
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(
                f"expected a pandas DataFrame or GeoDataFrame, got {type(frame).__name__}; "
                "use Events.read(path) for files."
            )
        repeated = frame.columns[frame.columns.duplicated()].unique().tolist()
        if repeated:
            raise ValueError(
                f"the table has duplicate column names {repeated}; rename them so each column "
                "has its own name (e.g. frame.columns = [...], or frame.loc[:, "
                "~frame.columns.duplicated()] to keep the first)."
            )
        tz = as_zone(tz)
        report = {"rows_read": len(frame)}
        xs, ys, crs, used = _coordinates(frame, x, y, crs)
        coordinate_names = list(used) or ["geometry x", "geometry y"]
        _require_columns(frame, [time] + ([time_end] if time_end is not None else []))
        used += [time] + ([time_end] if time_end is not None else [])

        problems = {}  # description -> boolean mask of bad rows
        orders = []
        start, bad_start, start_date_only = _parse_times(
            frame[time],
            time,
            tz,
            naive_times,
            ambiguous,
            nonexistent,
            time_format,
            time_unit,
            report,
            dayfirst=dayfirst,
            orders=orders,
        )
        problems.update(bad_start)
        if time_end is not None:
            end, bad_end, end_date_only = _parse_times(
                frame[time_end],
                time_end,
                tz,
                naive_times,
                ambiguous,
                nonexistent,
                time_format,
                time_unit,
                report,
                missing_ok=True,
                dayfirst=dayfirst,
                orders=orders,
            )
            problems.update(bad_end)
            given_end = frame[time_end].notna().to_numpy()
            end = np.where(given_end, end, start)
            end_date_only &= given_end
        else:
            end = start
            end_date_only = np.zeros(len(frame), dtype=bool)
        for name, values in zip(coordinate_names, (xs, ys), strict=True):
            column = frame[name] if name in frame else pd.Series(values, index=frame.index)
            bad = ~np.isfinite(values)
            if bad.any():
                problems[_problem(name, bad, "missing or non-finite value", "", column)] = bad
            far = ~bad & (np.abs(np.where(bad, 0.0, values)) > MAX_COORDINATE)
            if far.any():
                rest = f" beyond {MAX_COORDINATE:g} m, farther than any place on Earth"
                problems[_problem(name, far, "value", rest, column)] = far
        finite = np.isfinite(xs) & np.isfinite(ys)
        placeholder, where = _timequality.placeholder_points(
            np.where(finite, xs, np.nan), np.where(finite, ys, np.nan)
        )
        if placeholder.any():
            report["placeholder_locations"] = int(placeholder.sum())
            names = " and ".join(repr(n) for n in coordinate_names)
            problems[
                f"{names} hold placeholder coordinates, stand-ins for an unknown location: "
                f"{where} ({describe_rows(frame.index[placeholder])})"
            ] = placeholder

        keep = np.ones(len(frame), dtype=bool)
        if problems:
            _raise_or_drop_invalid(problems, frame.index, invalid)
            for mask in problems.values():
                keep &= ~mask
            report["invalid_dropped"] = int((~keep).sum())
        if time_end is not None:
            backwards = keep & (end < start)
            if backwards.any():
                raise ValueError(
                    f"{int(backwards.sum())} time windows end before they start "
                    f"({describe_rows(frame.index[backwards])}): column {time_end!r} must not "
                    f"be earlier than column {time!r}. Swap or fix those rows."
                )
        read_start, read_end = start, end  # duplicates compare the times as read
        start, end, report["time_quality"] = _apply_time_quality(
            start, end, start_date_only & keep, end_date_only & keep, keep, tz, time,
            date_only, default_times, (default_window, window_label), orders,
        )  # fmt: skip

        if to_crs is not None:
            if crs is not None and keep.any():
                source = pyproj.CRS.from_user_input(crs)
                if source.is_projected:
                    bounds = (xs[keep].min(), ys[keep].min(), xs[keep].max(), ys[keep].max())
                    check_not_degrees(bounds, source, "events", _DEGREES_FIX, elsewhere=True)
            xs, ys, crs = _reproject(xs, ys, crs, to_crs, keep)
        crs = as_projected_crs(crs, "events")

        extra = frame.drop(columns=[c for c in used if c in frame.columns])
        if hasattr(frame, "geometry") and getattr(frame, "_geometry_column_name", None):
            extra = pd.DataFrame(extra.drop(columns=frame.geometry.name, errors="ignore"))
        if duplicate_columns is None:
            compared = extra
        else:
            _require_columns(extra, list(duplicate_columns))
            compared = extra[list(duplicate_columns)]
        keep = _handle_duplicates(read_start, read_end, xs, ys, compared, keep, duplicates, report)
        return cls(
            start[keep], xs[keep], ys[keep], crs=crs, tz=tz, t_end=end[keep],
            data=extra.loc[keep], report=report,
        )  # fmt: skip

    @classmethod
    def read(cls, path, *, layer=None, sep=None, decimal=None, encoding=None, **kwargs) -> Events:
        r"""Read incidents from a CSV, GeoPackage, GeoJSON, Shapefile or (Geo)Parquet file.

        Parameters
        ----------
        path : str or os.PathLike
            The file; the format follows its extension (``.csv``, also ``.csv.gz`` and
            ``.csv.zip``; ``.gpkg``, ``.geojson``, ``.json``, ``.shp``, ``.fgb``, ``.parquet``).
        layer : str, optional
            Layer of a GeoPackage; required when the file has more than one (the error lists
            them).
        sep : str, optional
            CSV only: the field separator; default ``","``. A file read whole into one column
            whose name holds ``;`` (a semicolon-separated file) is refused with the fix.
        decimal : str, optional
            CSV only: the decimal mark; default ``"."`` (``","`` for ``1,5``).
        encoding : str, optional
            CSV only: the text encoding, e.g. ``"utf-16"`` or ``"cp1252"``; default UTF-8.
        **kwargs
            Passed to :meth:`from_frame` (``time``, ``x``, ``y``, ``crs``, ``tz``, ...).

        Returns
        -------
        Events

        Raises
        ------
        ValueError
            For a file that cannot be read as its extension says (naming the file and the
            fix: ``sep=``, ``decimal=``, ``encoding=``, ``layer=``), duplicate column names,
            or CSV options given for another format.

        Examples
        --------
        >>> import os, tempfile, pandas as pd
        >>> path = os.path.join(tempfile.mkdtemp(), "incidents.csv")
        >>> pd.DataFrame({"t": ["2019-03-01 10:00"], "x": [628000.0], "y": [4835000.0]}
        ...              ).to_csv(path, index=False)
        >>> len(Events.read(path, crs="EPSG:32617", tz="America/Toronto"))
        1
        >>> with open(path, "w") as file:
        ...     _ = file.write("t;x;y\n2019-03-01 10:00;628000,5;4835000,5\n")
        >>> events = Events.read(path, crs="EPSG:32617", tz="America/Toronto")
        Traceback (most recent call last):
        ...
        ValueError: 'incidents.csv' looks like a semicolon-separated file ...
        >>> Events.read(path, sep=";", decimal=",", crs="EPSG:32617", tz="America/Toronto").x
        array([628000.5])
        """
        csv_options = {"sep": sep, "decimal": decimal, "encoding": encoding}
        csv_options = {key: value for key, value in csv_options.items() if value is not None}
        frame = _read_table(path, layer, csv_options)
        try:
            return cls.from_frame(frame, **kwargs)
        except ValueError as exc:
            hint = _decimal_comma_hint(frame, csv_options, path)
            if hint:
                raise ValueError(f"{exc} {hint}") from None
            raise

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return len(self.t)

    def __repr__(self) -> str:
        if not len(self):
            return f"Events(0 events, {self.crs.to_string()}, tz={self.tz!r})"
        first, last = self.times[[0, -1]]
        return (
            f"Events({len(self):,} events, {first:%Y-%m-%d} .. {last:%Y-%m-%d}, "
            f"{self.crs.to_string()}, tz={self.tz!r})"
        )

    @property
    def times(self) -> pd.DatetimeIndex:
        """Start instants as time-zone-aware local timestamps."""
        return pd.DatetimeIndex(pd.to_datetime(self.t, unit="s", utc=True)).tz_convert(self.tz)

    @property
    def has_windows(self) -> bool:
        """Whether any event has an uncertain time (a window longer than zero).

        Read from the times once and remembered (free for events built without ``t_end``):
        events are not changed in place (:meth:`select` and :meth:`before` build new ones),
        and the answer is read again if ``t`` or ``t_end`` is replaced by another array.
        """
        known = getattr(self, "_windows", None)
        if known is None or known[0] is not self.t or known[1] is not self.t_end:
            known = (self.t, self.t_end, bool((self.t_end > self.t).any()))
            self._windows = known
        return known[2]

    @property
    def exact_times(self) -> np.ndarray:
        """Mask of events whose time is trustworthy: an instant, not a window.

        Date-only records and records at a heaped default instant are windows after
        :meth:`from_frame` (see ``report["time_quality"]``), so they are not exact.
        """
        return self.t_end == self.t

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of the event locations."""
        if not len(self):
            raise ValueError("no events: bounds are undefined.")
        return (self.x.min(), self.y.min(), self.x.max(), self.y.max())

    def select(self, mask) -> Events:
        """Return the events where ``mask`` is true (a boolean array or an index array).

        Examples
        --------
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"t": ["2019-03-01 10:00", "2019-03-02 10:00"],
        ...                       "x": [628000.0, 628100.0], "y": [4835000.0, 4835000.0],
        ...                       "premises": ["House", "Shop"]})
        >>> events = Events.from_frame(frame, crs="EPSG:32617", tz="America/Toronto")
        >>> len(events.select(events.data["premises"].to_numpy() == "House"))
        1
        """
        mask = np.asarray(mask)
        if mask.dtype == bool and mask.shape != self.t.shape:
            raise ValueError(f"mask has shape {mask.shape}; expected ({len(self)},).")
        subset = object.__new__(Events)
        subset.t, subset.t_end = self.t[mask], self.t_end[mask]
        subset.x, subset.y = self.x[mask], self.y[mask]
        subset.data = self.data.iloc[np.flatnonzero(mask) if mask.dtype == bool else mask]
        subset.crs, subset.tz, subset.report = self.crs, self.tz, dict(self.report)
        known = getattr(self, "_windows", None)
        if known is not None and known[0] is self.t and known[1] is self.t_end and not known[2]:
            subset._windows = (subset.t, subset.t_end, False)  # a subset has no windows either
        return subset

    def before(self, origin) -> Events:
        """Return the events known before ``origin``: those whose whole window ends before it.

        An exact time counts when ``t < origin``; an uncertain one only when its window's end
        is before ``origin`` (it cannot have been reported earlier), so nothing at or after
        the origin leaks into a forecast.

        Parameters
        ----------
        origin : str, datetime or int
            Naive values are local wall-clock time in ``tz``.

        Returns
        -------
        Events
        """
        cut = int(to_utc_seconds(origin, self.tz, "origin"))
        return self.select(self.t_end < cut if self.has_windows else self.t < cut)

    def to_frame(self) -> pd.DataFrame:
        """Return a DataFrame: ``time`` (local), ``time_end``, ``x``, ``y``, extra columns."""
        out = pd.DataFrame(
            {
                "time": self.times,
                "time_end": pd.to_datetime(self.t_end, unit="s", utc=True).tz_convert(self.tz),
                "x": self.x,
                "y": self.y,
            },
            index=self.data.index,
        )
        return pd.concat([out, self.data], axis=1)

    def to_geodataframe(self):
        """Return a GeoDataFrame of points carrying the CRS (see :meth:`to_frame`)."""
        import geopandas

        frame = self.to_frame()
        return geopandas.GeoDataFrame(
            frame, geometry=geopandas.points_from_xy(self.x, self.y), crs=self.crs
        )

    # ------------------------------------------------------------------ aoristic weights
    def aoristic_weights(self, blocks: Blocks) -> scipy.sparse.csr_array:
        """Share of each event's time window that falls in each block.

        An exact time puts weight 1 in the block that contains it. A window
        ``[t, t_end)`` spreads weight in proportion to its overlap with each block.
        Weight outside the given blocks is not counted, so a row sums to less than 1 when the
        window reaches past them.

        Parameters
        ----------
        blocks : Blocks
            Consecutive blocks, e.g. from :meth:`ShiftSchedule.blocks`.

        Returns
        -------
        scipy.sparse.csr_array of shape (n_events, n_blocks)

        Examples
        --------
        >>> import pandas as pd
        >>> from caslite.shifts import ShiftSchedule
        >>> frame = pd.DataFrame({"t": ["2019-03-01 07:00"], "t_end": ["2019-03-01 17:00"],
        ...                       "x": [628000.0], "y": [4835000.0]})
        >>> events = Events.from_frame(frame, time_end="t_end", crs="EPSG:32617",
        ...                            tz="America/Toronto")
        >>> blocks = ShiftSchedule.every(4, tz="America/Toronto").blocks("2019-03-01",
        ...                                                              "2019-03-02")
        >>> events.aoristic_weights(blocks).toarray().round(2).tolist()
        [[0.0, 0.1, 0.4, 0.4, 0.1, 0.0]]
        """
        if not isinstance(blocks, Blocks):
            raise TypeError(f"blocks must be a caslite Blocks, got {type(blocks).__name__}.")
        n_events, n_blocks = len(self), len(blocks)
        if n_blocks and np.any(blocks.start[1:] != blocks.end[:-1]):
            raise ValueError("blocks must be consecutive (each starting where the last ends).")
        if n_blocks == 0 or n_events == 0:
            return scipy.sparse.csr_array((n_events, n_blocks))
        edges = blocks.edges
        point = self.t_end == self.t
        # Exact times: the block with start <= t < end.
        first = np.searchsorted(edges, self.t, side="right") - 1
        # Windows: every block overlapping [t, t_end).
        last = np.where(point, first, np.searchsorted(edges, self.t_end, side="left") - 1)
        first = np.clip(first, 0, n_blocks)
        last = np.clip(last, -1, n_blocks - 1)
        span = np.maximum(last - first + 1, 0)
        rows = np.repeat(np.arange(n_events), span)
        cols = np.repeat(first, span) + _ramp(span)
        within = (cols >= 0) & (cols < n_blocks)
        rows, cols = rows[within], cols[within]
        lo = np.maximum(self.t[rows], edges[cols])
        hi = np.minimum(self.t_end[rows], edges[cols + 1])
        duration = (self.t_end - self.t)[rows]
        values = np.where(duration > 0, (hi - lo) / np.maximum(duration, 1), 1.0)
        point_rows = point[rows]
        in_block = (self.t[rows] >= edges[cols]) & (self.t[rows] < edges[cols + 1])
        values = np.where(point_rows, in_block.astype(float), values)
        weights = scipy.sparse.csr_array((values, (rows, cols)), shape=(n_events, n_blocks))
        weights.eliminate_zeros()
        return weights

    # ------------------------------------------------------------------ stored form
    def to_dict(self) -> dict:
        """Return the incidents' times and places, the form :meth:`from_dict` reads.

        The extra columns (``data``) are not part of it.

        Returns
        -------
        dict
            The arrays ``t``, ``t_end`` (int64 UTC seconds, in time order), ``x`` and ``y``
            (float64 metres), and ``crs`` (PROJJSON), ``crs_name`` (for reading), ``tz`` and
            ``report`` (a JSON-ready record of the data-quality report).

        Examples
        --------
        >>> frame = pd.DataFrame({"t": ["2024-01-02 10:00", "2024-01-01 09:00"],
        ...                       "x": [155000.0, 155100.0], "y": [463000.0, 463000.0]})
        >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
        >>> form = events.to_dict()
        >>> form["x"].tolist(), form["tz"]
        ([155100.0, 155000.0], 'Europe/Amsterdam')
        >>> restored = Events.from_dict(form)
        >>> bool(np.array_equal(restored.t, events.t)), restored.crs == events.crs
        (True, True)
        """
        from caslite._forms import record

        return {
            "t": self.t,
            "t_end": self.t_end,
            "x": self.x,
            "y": self.y,
            "crs": self.crs.to_json(),
            "crs_name": self.crs.to_string(),
            "tz": self.tz,
            "report": record(self.report),
        }

    @classmethod
    def from_dict(cls, form: dict) -> Events:
        """Rebuild incidents from the form of :meth:`to_dict`, checked as the constructor checks.

        Raises
        ------
        ValueError
            If the form's values are refused by the constructor, or its times are not in
            time order (a stored form always is).
        KeyError
            If the form lacks one of its entries.
        pyproj.exceptions.CRSError
            If ``crs`` is not a coordinate reference system.
        """
        report = form.get("report")
        events = cls(
            form["t"],
            form["x"],
            form["y"],
            crs=pyproj.CRS.from_json(form["crs"]),
            tz=form["tz"],
            t_end=form["t_end"],
            report=report if isinstance(report, dict) else None,
        )
        if not np.array_equal(events.t, np.asarray(form["t"])):
            raise ValueError("the stored events are not in time order, as a stored form is.")
        return events


def _ramp(span: np.ndarray) -> np.ndarray:
    """``[0..span[0]-1, 0..span[1]-1, ...]`` without a Python loop."""
    total = int(span.sum())
    starts = np.repeat(np.cumsum(span) - span, span)
    return np.arange(total) - starts


def as_events(source, **kwargs) -> Events:
    """Return ``source`` as :class:`Events`: Events, a (Geo)DataFrame, or a file path.

    Parameters
    ----------
    source : Events, pandas.DataFrame, geopandas.GeoDataFrame, str or os.PathLike
        The incidents.
    **kwargs
        Passed to :meth:`Events.from_frame` (ignored keywords are refused for Events input).

    Returns
    -------
    Events

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"t": ["2019-03-01 10:00"], "x": [628000.0], "y": [4835000.0]})
    >>> as_events(frame, crs="EPSG:32617", tz="America/Toronto").tz
    'America/Toronto'
    """
    if isinstance(source, Events):
        if kwargs:
            raise TypeError(
                f"source is already Events; options {sorted(kwargs)} apply only when reading "
                "a table or a file."
            )
        return source
    if isinstance(source, (str, os.PathLike)):
        return Events.read(source, **kwargs)
    return Events.from_frame(source, **kwargs)


# ---------------------------------------------------------------------- helpers
_CSV_SUFFIXES = (".csv", ".txt", ".csv.gz", ".csv.zip")
_OGR_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".fgb"}


def _read_table(path, layer, csv_options=None):
    """Read a file into a (Geo)DataFrame; errors name the file and the fix."""
    csv_options = csv_options or {}
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such incident file: {str(path)!r}.")
    suffix = path.suffix.lower()
    if path.name.lower().endswith(_CSV_SUFFIXES):
        if layer is not None:
            raise ValueError(f"layer={layer!r} is for GeoPackages; {path.name!r} is a CSV file.")
        return _read_csv(path, csv_options)
    if csv_options:
        given = " and ".join(f"{key}=" for key in csv_options)
        raise ValueError(f"{given} (the CSV options) are for CSV files; {path.name!r} is not one.")
    import geopandas

    if suffix == ".parquet":
        try:
            return geopandas.read_parquet(path)
        except ValueError:  # plain Parquet without geometry metadata
            return pd.read_parquet(path)
    if suffix in _OGR_SUFFIXES:
        return _read_ogr(path, layer)
    raise ValueError(
        f"cannot tell the format of {path.name!r}: use a .csv, .gpkg, .geojson, .shp, .fgb or "
        ".parquet file, or read it yourself and call Events.from_frame."
    )


def _read_csv(path: Path, options: dict) -> pd.DataFrame:
    import zipfile
    import zlib

    name = path.name
    try:
        header = pd.read_csv(path, header=None, nrows=1, dtype=str, **options)
        frame = pd.read_csv(path, **options)
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{name!r} is empty: no header and no rows. A file with no incidents "
            "still needs its header line (e.g. 't,x,y')."
        ) from None
    except UnicodeError as exc:
        raise ValueError(_encoding_message(path, exc, options)) from None
    except (EOFError, zlib.error, zipfile.BadZipFile, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(
            f"cannot read {name!r}: the compressed file is truncated or damaged "
            f"({type(exc).__name__}: {exc}). Download or copy it again, or check it with "
            "gzip -t / unzip -t."
        ) from None
    except pd.errors.ParserError as exc:
        raise ValueError(
            f"cannot read {name!r} as CSV ({exc}). If its fields are separated by ';' or "
            "tabs, pass sep=';' or sep='\\t'; if it is not UTF-8 text, pass encoding=."
        ) from None
    if "sep" not in options and len(frame.columns) == 1:
        only = str(frame.columns[0])
        for mark, called in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if mark in only:
                shown = "\\t" if mark == "\t" else mark
                raise ValueError(
                    f"{name!r} looks like a {called}-separated file (its one column is named "
                    f"{only!r}): pass sep='{shown}', and decimal=',' "
                    "if its numbers are written with decimal commas (1,5)."
                )
    names = [str(v) for v in header.iloc[0].tolist()] if len(header) else []
    repeated = sorted({v for v in names if names.count(v) > 1})
    if repeated:
        raise ValueError(
            f"{name!r} has duplicate column names {repeated} in its header; rename them so "
            "each column has its own name (pandas would rename the second one silently)."
        )
    return frame


def _encoding_message(path: Path, exc, options) -> str:
    head = b""
    try:
        with open(path, "rb") as file:
            head = file.read(4)
    except OSError:  # pragma: no cover - it was readable a moment ago
        pass
    given = options.get("encoding", "utf-8")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) == 4 and head[1::2] == b"\0\0"):
        fix = "it looks like UTF-16 text: pass encoding='utf-16'"
    else:
        fix = "pass its encoding, e.g. encoding='cp1252' or 'latin-1', or save it as UTF-8"
    return f"cannot read {path.name!r} as {given} text ({exc}); {fix}."


def _read_ogr(path: Path, layer):
    """Read a GIS file with pyogrio, choosing the layer explicitly when there are several."""
    import geopandas
    import pyogrio

    name = path.name
    if path.stat().st_size == 0:
        raise ValueError(
            f"{name!r} is empty (0 bytes): not a {path.suffix.lower()} file with incidents. "
            "Write the incidents into it again, or give the file that has them."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # GDAL's notes on a bad file
            layers = [str(row[0]) for row in pyogrio.list_layers(path)]
    except pyogrio.errors.DataSourceError as exc:
        with open(path, "rb") as file:
            head = file.read(16)
        if head == b"SQLite format 3\0":
            raise ValueError(
                f"{name!r} is a database without any GIS layer (an empty GeoPackage, or "
                f"another SQLite file): there are no incidents in it ({exc})."
            ) from None
        text = head.decode("utf-8", errors="replace")
        readable = text.replace("\n", " ").replace("\r", " ").replace("\t", " ").isprintable()
        starts = f"it starts with {text!r}" if readable else f"{exc}"
        raise ValueError(
            f"cannot read {name!r} as a {path.suffix.lower()} file ({starts}). Check that it "
            "is one (a text or CSV file needs the .csv extension)."
        ) from None
    listed = ", ".join(repr(v) for v in layers)
    if not layers:
        raise ValueError(
            f"{name!r} has no layers (an empty GeoPackage): there are no incidents in it. "
            "Write the incidents into it, or give the file that has them."
        )
    if layer is None and len(layers) > 1:
        raise ValueError(
            f"{name!r} has {len(layers)} layers: {listed}; choose the incidents' layer with "
            f"layer={layers[0]!r}."
        )
    if layer is not None and str(layer) not in layers:
        raise ValueError(f"{name!r} has no layer {layer!r}; its layers are {listed}.")
    return geopandas.read_file(path, layer=layer, engine="pyogrio")


def _decimal_comma_hint(frame, csv_options, path) -> str:
    """Return the fix for numbers written with decimal commas in a CSV file, or ""."""
    if csv_options.get("decimal") == "," or not Path(path).name.lower().endswith(_CSV_SUFFIXES):
        return ""
    pattern = r"^\s*[-+]?\d+,\d+\s*$"
    for column in ("x", "y", *frame.columns):
        if column in frame.columns and not pd.api.types.is_numeric_dtype(frame[column]):
            values = frame[column].dropna().astype(str)
            if len(values) and values.str.match(pattern).all():
                return (
                    f"Column {column!r} holds numbers with decimal commas (e.g. "
                    f"{values.iloc[0]!r}): pass decimal=','."
                )
    return ""


def _require_columns(frame: pd.DataFrame, names) -> None:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ValueError(
            f"column {missing[0]!r} not found; the table has columns {list(frame.columns)}. "
            "Name the right ones with time=, x=, y= (and time_end=)."
        )


def _coordinates(frame, x, y, crs):
    """Return x and y as float arrays, the CRS, and the columns they came from."""
    geometry_name = getattr(frame, "_geometry_column_name", None)
    is_geo = geometry_name is not None and geometry_name in frame.columns
    if is_geo:
        frame_crs = frame.crs
        if crs is not None and frame_crs is not None:
            given = pyproj.CRS.from_user_input(crs)
            if not given.equals(frame_crs, ignore_axis_order=True):
                raise ValueError(
                    f"crs={given.to_string()} contradicts the GeoDataFrame's own CRS "
                    f"{frame_crs.to_string()}; drop crs= or reproject with gdf.to_crs(...)."
                )
        if frame_crs is None and crs is None:
            raise ValueError(
                "the GeoDataFrame has no CRS; set it with gdf.set_crs('EPSG:....') or pass crs=."
            )
        crs = frame_crs if frame_crs is not None else crs
    if is_geo and x is None and y is None:
        geometry = frame.geometry
        empty = (geometry.isna() | geometry.is_empty).to_numpy()
        kinds = set(geometry[~empty].geom_type.unique())
        if kinds - {"Point"}:
            raise ValueError(
                f"geometry must be points, found {sorted(kinds)}; use representative points "
                "(gdf.geometry.representative_point()) or centroids if that is what you mean."
            )
        xs = np.full(len(frame), np.nan)
        ys = np.full(len(frame), np.nan)
        xs[~empty] = geometry[~empty].x.to_numpy()
        ys[~empty] = geometry[~empty].y.to_numpy()
        return xs, ys, crs, []
    x = "x" if x is None else x
    y = "y" if y is None else y
    _require_columns(frame, [x, y])
    return _as_float(frame[x], x), _as_float(frame[y], y), crs, [x, y]


def _as_float(column: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(column):
        raise ValueError(
            f"column {name!r} holds True/False values, not coordinates in metres; name the "
            "coordinate columns with x= and y=."
        )
    values = pd.to_numeric(column, errors="coerce")
    not_numbers = values.isna() & column.notna()
    if not_numbers.any():
        raise ValueError(
            f"column {name!r} must hold numbers (metres); found "
            f"{describe_rows(column.index[not_numbers.to_numpy()])} with values such as "
            f"{column[not_numbers].iloc[0]!r}."
        )
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _parse_times(
    column, name, tz, naive_times, ambiguous, nonexistent, time_format, time_unit, report,
    missing_ok=False, dayfirst=None, orders=None,
):  # fmt: skip
    """Return int64 UTC seconds (0 where invalid), a dict of bad-row masks, and a mask.

    The mask marks the values that are dates without a time of day.
    """
    problems = {}
    date_only = np.zeros(len(column), dtype=bool)
    missing = column.isna().to_numpy()
    if missing.any() and not missing_ok:
        problems[_problem(name, missing, "missing time", "", column)] = missing
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        if time_unit is None:
            raise ValueError(
                f"column {name!r} holds numbers (e.g. {_plain(column.dropna().iloc[0])!r}), not "
                "times; "
                "pass time_unit='s' (or 'ms') if they are Unix times in UTC, or convert them "
                "to datetimes first."
            )
        implausible = _check_epoch_unit(column, name, time_unit)
        if implausible.any():
            problems[
                _problem(name, implausible, "number", f" outside {_plausible_years()}", column)
            ] = implausible
        numbers = column.where(~implausible)
        parsed = pd.to_datetime(numbers, unit=time_unit, utc=True, errors="coerce")
        parsed[implausible] = pd.NaT
    elif isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(column):
        parsed = column
    else:
        parsed = parse_datetimes(
            column, f"column {name!r}", time_format, dayfirst=dayfirst, orders=orders
        )
        date_only = _without_time_of_day(column, time_format) & parsed.notna().to_numpy()
    unparsed = parsed.isna().to_numpy() & ~missing
    if unparsed.any():
        problems[_problem(name, unparsed, "value", " that cannot be read as a time", column)] = (
            unparsed
        )
    parsed = pd.Series(pd.DatetimeIndex(parsed), index=column.index)
    if parsed.dt.tz is None:
        parsed = _localize(parsed, name, tz, naive_times, ambiguous, nonexistent, report)
    valid = parsed.notna().to_numpy()
    seconds = np.zeros(len(parsed), dtype=np.int64)
    seconds[valid] = parsed[valid].dt.tz_convert("UTC").dt.as_unit("s").astype("int64")
    return seconds, problems, date_only & valid


def _count(mask: np.ndarray, noun: str, rest: str = "") -> str:
    """``"1 value that ..."`` / ``"3 values that ..."`` for the true entries of ``mask``."""
    count = int(np.count_nonzero(mask))
    return f"{count} {noun}{'' if count == 1 else 's'}{rest}"


def _problem(name: str, mask: np.ndarray, noun: str, rest: str, column: pd.Series) -> str:
    """Describe bad rows of a column: count, labels and, for a single one, its value."""
    single = np.count_nonzero(mask) == 1 and column[mask].notna().all()
    example = f": {_plain(column[mask].iloc[0])!r}" if single else ""
    rows = describe_rows(column.index[mask])
    return f"column {name!r} has {_count(mask, noun, rest)} ({rows}{example})"


def _plain(value):
    """Return a numpy scalar as the Python value it holds, for readable messages."""
    return value.item() if isinstance(value, np.generic) else value


def _localize(parsed, name, tz, naive_times, ambiguous, nonexistent, report):
    """Attach the time zone to naive wall-clock times, resolving DST as asked."""
    if naive_times == "utc":
        return parsed.dt.tz_localize("UTC")
    n = len(parsed)
    early = parsed.dt.tz_localize(tz, ambiguous=np.ones(n, bool), nonexistent="NaT")
    late = parsed.dt.tz_localize(tz, ambiguous=np.zeros(n, bool), nonexistent="NaT")
    gap = (early.isna() & parsed.notna()).to_numpy()
    doubled = (early != late).to_numpy() & ~gap & parsed.notna().to_numpy()
    report["nonexistent_times"] = report.get("nonexistent_times", 0) + int(gap.sum())
    report["ambiguous_times"] = report.get("ambiguous_times", 0) + int(doubled.sum())
    if gap.any() and nonexistent == "raise":
        raise ValueError(
            f"column {name!r} has {_count(gap, 'local time')} inside the hour skipped when "
            f"clocks go forward in {tz} ({describe_rows(parsed.index[gap])}, e.g. "
            f"{parsed[gap].iloc[0]}). Pass nonexistent='shift_forward' (or 'shift_backward') "
            "to move them out of the gap."
        )
    if doubled.any() and ambiguous == "raise":
        raise ValueError(
            f"column {name!r} has {_count(doubled, 'local time')} inside the hour repeated "
            f"when clocks go back in {tz} ({describe_rows(parsed.index[doubled])}, e.g. "
            f"{parsed[doubled].iloc[0]}). Pass ambiguous='earliest' or 'latest' to choose, or "
            "give the times with their UTC offset."
        )
    result = late if ambiguous == "latest" else early
    if gap.any():
        moved = parsed[gap].dt.tz_localize(tz, nonexistent=nonexistent, ambiguous="raise")
        result = result.copy()
        result[gap] = moved
    return result


def _raise_or_drop_invalid(problems: dict, index: pd.Index, invalid: str) -> None:
    total = np.logical_or.reduce(list(problems.values()))
    if invalid == "raise":
        extra = f" (and {len(problems) - 1} other problems)" if len(problems) > 1 else ""
        raise ValueError(
            f"{next(iter(problems))}{extra}; fix these rows, or pass invalid='drop' to drop "
            f"the {int(total.sum())} invalid rows with a report."
        )
    warn_user(
        f"dropped {int(total.sum())} of {len(index)} rows with invalid times or coordinates: "
        + "; ".join(problems)
    )


def _reproject(xs, ys, crs, to_crs, keep):
    if crs is None:
        raise ValueError("to_crs needs the source CRS: pass crs= (e.g. crs='EPSG:4326').")
    source = pyproj.CRS.from_user_input(crs)
    if isinstance(to_crs, str) and to_crs.lower() == "utm":
        lon, lat = xs[keep], ys[keep]
        if not source.is_geographic:
            lon, lat = pyproj.Transformer.from_crs(source, "EPSG:4326", always_xy=True).transform(
                lon, lat
            )
        if not len(lon):
            raise ValueError("to_crs='utm' needs at least one valid point to choose the zone.")
        centre_lon, centre_lat = float(np.median(lon)), float(np.median(lat))
        from pyproj.aoi import AreaOfInterest
        from pyproj.database import query_utm_crs_info

        infos = query_utm_crs_info(
            datum_name="WGS 84",
            area_of_interest=AreaOfInterest(centre_lon, centre_lat, centre_lon, centre_lat),
        )
        if not infos:
            raise ValueError(
                f"no UTM zone found for ({centre_lon:.4f}, {centre_lat:.4f}); is the CRS right?"
            )
        target = pyproj.CRS.from_authority(infos[0].auth_name, infos[0].code)
    else:
        target = pyproj.CRS.from_user_input(to_crs)
    transformer = pyproj.Transformer.from_crs(source, target, always_xy=True)
    new_x, new_y = transformer.transform(xs, ys)
    return np.asarray(new_x, dtype=float), np.asarray(new_y, dtype=float), target


def _handle_duplicates(start, end, xs, ys, extra, keep, duplicates, report):
    key = pd.DataFrame({"__t": start, "__e": end, "__x": xs, "__y": ys}, index=extra.index)
    key = pd.concat([key, extra], axis=1)[keep]
    try:
        repeated_rows = key.duplicated(keep="first")
    except TypeError:  # unhashable cells (lists, dicts): compare their text
        repeated_rows = key.astype(str).duplicated(keep="first")
    repeated = np.zeros(len(keep), dtype=bool)
    repeated[np.flatnonzero(keep)] = repeated_rows.to_numpy()
    count = int(repeated.sum())
    report["duplicates"] = count
    if not count:
        return keep
    same = "same time, place and " + (
        f"columns {list(extra.columns)}" if len(extra.columns) else "no other column compared"
    )
    verb = "repeats" if count == 1 else "repeat"
    what = f"{_count(repeated, 'row')} that {verb} an earlier row ({same}; "
    what += f"{describe_rows(extra.index[repeated])})"
    if duplicates == "raise":
        raise ValueError(
            f"found {what}. Pass duplicates='drop' to remove them or 'keep' to keep them."
        )
    if duplicates == "drop":
        report["duplicates_dropped"] = count
        warn_user(f"dropped {what}.")
        return keep & ~repeated
    warn_user(f"found {what}; kept. Pass duplicates='drop' to remove them.")
    return keep


# ---------------------------------------------------------------------- time quality
_TIME_OF_DAY = r"\d:\d{2}|T\d{2}|\d\s*[AaPp]\.?[Mm]\b"
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%X", "%T", "%R", "%c", "%p")


def _without_time_of_day(column: pd.Series, time_format) -> np.ndarray:
    """Mask of strings that hold a date but no time of day (``"2019-06-01"``)."""
    if column.dtype.kind == "M" or isinstance(column.dtype, pd.DatetimeTZDtype):
        return np.zeros(len(column), dtype=bool)
    present = column.notna().to_numpy()
    if time_format is not None and time_format not in ("ISO8601", "mixed"):
        has_time = any(d in time_format for d in _TIME_DIRECTIVES)
        return present & (not has_time)
    is_text = column.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    if not is_text.any():
        return np.zeros(len(column), dtype=bool)
    text = column.astype("string").str.strip()
    clock = text.str.contains(_TIME_OF_DAY, regex=True).fillna(False).to_numpy(dtype=bool)
    return present & is_text & ~clock


def _check_default_window(window):
    if isinstance(window, str) and window == "day":
        return window
    try:
        duration = pd.Timedelta(window)
    except (TypeError, ValueError):
        duration = pd.NaT
    if duration is pd.NaT or duration <= pd.Timedelta(0):
        raise ValueError(
            f"default_window={window!r} is not 'day' or a positive duration such as '6h'."
        )
    return duration


def _plausible_years() -> str:
    return f"the years 1900 .. {datetime.date.today().year + 1}"


def _check_epoch_unit(column: pd.Series, name: str, time_unit) -> np.ndarray:
    """Refuse a unit that puts Unix times outside 1900 .. next year; return odd rows."""
    if time_unit not in _UNIT_SECONDS:
        raise ValueError(f"time_unit={time_unit!r} is not one of {list(_UNIT_SECONDS)}.")
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    low = -2_208_988_800.0  # 1900-01-01 UTC
    high = pd.Timestamp(datetime.date.today().year + 2, 1, 1, tz="UTC").timestamp()

    def plausible(unit):
        seconds = values / _UNIT_SECONDS[unit]
        return (seconds >= low) & (seconds < high)

    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(len(values), dtype=bool)
    ok = plausible(time_unit)
    if np.count_nonzero(ok & finite) * 2 > np.count_nonzero(finite):
        return finite & ~ok  # most are plausible: the rest are bad rows
    seconds = values[finite] / _UNIT_SECONDS[time_unit]
    first, last = (int(1970 + v / 31_556_952) for v in (seconds.min(), seconds.max()))
    found = f"dates in the years {first} .. {last}" if first != last else f"dates in {first}"
    likely = [
        unit for unit in _UNIT_SECONDS
        if np.count_nonzero(plausible(unit) & finite) * 2 > np.count_nonzero(finite)
    ]  # fmt: skip
    advice = (
        f"these look like {_UNIT_WORDS[likely[0]]}: pass time_unit={likely[0]!r}."
        if likely
        else "no unit makes them plausible; check that they are Unix times."
    )
    raise ValueError(
        f"column {name!r} holds numbers (e.g. {_plain(column.dropna().iloc[0])!r}) that with "
        f"time_unit={time_unit!r} are {found}, outside {_plausible_years()}; {advice}"
    )


def _apply_time_quality(
    start, end, start_date_only, end_date_only, keep, tz, name, date_only, default_times,
    window, orders,
):  # fmt: skip
    """Make date-only records and records at heaped default instants windows; report it.

    ``window`` is the checked ``default_window`` and its label as the user gave it.
    """
    default_window, window_label = window
    start, end = start.copy(), end.copy()
    quality = {}
    if orders:
        order, how = orders[0]
        quality["date_order"] = order
        quality["date_order_from"] = how
    instant = keep & (end == start)
    day_records = start_date_only & instant
    end_days = end_date_only & ~instant
    quality["date_only"] = int(day_records.sum())
    quality["date_only_policy"] = date_only
    messages = []
    if date_only == "window":
        if day_records.any():
            local = pd.DatetimeIndex(pd.to_datetime(start[day_records], unit="s", utc=True))
            start[day_records], end[day_records] = _timequality.day_window(local.tz_convert(tz))
        if end_days.any():  # an end given as a date means the end of that day
            local = pd.DatetimeIndex(pd.to_datetime(end[end_days], unit="s", utc=True))
            end[end_days] = _timequality.day_window(local.tz_convert(tz))[1]
    if day_records.any():
        done = (
            "made whole-day windows (local midnight to midnight; date_only='keep' reads "
            "them as 00:00 instead)"
            if date_only == "window"
            else "read as 00:00 as asked (date_only='keep')"
        )
        messages.append(
            f"column {name!r} has {_count(day_records, 'date')} without a time of day; {done}"
        )

    exact = keep & (end == start) & ~start_date_only  # kept dates are no default times
    local = pd.DatetimeIndex(pd.to_datetime(start[exact], unit="s", utc=True)).tz_convert(tz)
    minute_of_day = (local.hour * 60 + local.minute).to_numpy()
    second = local.second.to_numpy()
    precision, heaps = _timequality.detect_heaps(minute_of_day, second)
    quality["precision"] = precision if exact.any() else None
    quality["heaps"] = heaps
    quality["default_times_policy"] = default_times
    quality["default_window"] = window_label
    if precision == "minute" and exact.any():
        quality["rounded_to_hour"] = _timequality.rounding_to_hour(minute_of_day)
    at_heap = np.zeros(len(start), dtype=bool)
    found = [h for h in heaps if h["heaped"]]
    for heap in found:
        hour, minute = (int(v) for v in heap["instant"].split(":"))
        hit = (minute_of_day == hour * 60 + minute) & (second == 0)
        at_heap[np.flatnonzero(exact)[hit]] = True
    quality["default_times"] = int(at_heap.sum())
    if at_heap.any():
        if default_times == "window":
            local_heap = pd.DatetimeIndex(pd.to_datetime(start[at_heap], unit="s", utc=True))
            start[at_heap], end[at_heap] = _timequality.window_around(
                local_heap.tz_convert(tz), default_window
            )
            window = "whole-day" if default_window == "day" else f"{window_label}"
            done = (
                f"made {window} windows (default_times='keep' keeps them exact; "
                "default_window= sets the window)"
            )
        else:
            done = "kept as exact times as asked (default_times='keep')"
        unit = "hours" if precision == "hour" else "hours or minutes"
        counts = ", ".join(
            f"{h['observed']:,} at {h['instant']} (about {h['expected']:,.0f} expected from "
            f"the neighbouring {unit}, excess {h['excess']:,.0f})"
            for h in found
        )
        messages.append(
            f"column {name!r} has heaps at default times, entered when the real time was "
            f"unknown: {counts}; all {int(at_heap.sum()):,} records there were {done}"
        )
    quality["windowed"] = int(
        (day_records.sum() if date_only == "window" else 0)
        + (at_heap.sum() if default_times == "window" else 0)
    )
    quality["exact_times"] = int((keep & (end == start)).sum())
    if messages:
        warn_user("; ".join(messages) + ". Details in events.report['time_quality'].")
    return start, end, quality
