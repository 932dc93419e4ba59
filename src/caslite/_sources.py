"""Incident files as they come (private): several files, split time columns, file lines.

The command line reads incidents the way cities publish them: a file per year (several paths
or a quoted glob), the time split over columns (``YEAR,MONTH,DAY,HOUR,MINUTE``), and other
crime types in the same file, with their own broken rows. :func:`read_tables` reads the files
into one table whose row labels are the file lines a text editor shows (header = line 1), so
that every message of :meth:`caslite.Events.from_frame` points to them (see
:func:`caslite._validation.describe_rows`); :func:`assemble_time` joins split time columns;
:func:`filter_view` gives ``--filter`` the time and coordinate columns as values it can
compare, so that the filter runs on the raw rows, before any validation.
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from caslite._validation import LINE_LABELS

__all__ = [
    "TIME_PARTS",
    "assemble_time",
    "expand_paths",
    "filter_view",
    "read_tables",
    "record_lines",
]

#: What the columns of a split time are, in the order they are given.
TIME_PARTS = ("year", "month", "day", "hour", "minute", "second")
_MONTHS = {
    name: number
    for number in range(1, 13)
    for name in (
        pd.Timestamp(2000, number, 1).strftime("%B").lower(),
        pd.Timestamp(2000, number, 1).strftime("%b").lower(),
    )
}
_TEXT_SUFFIXES = (".csv", ".txt", ".csv.gz", ".csv.zip")
_GLOB_CHARACTERS = set("*?[")


def expand_paths(values) -> list[Path]:
    """Return the files of ``values``: paths, and quoted globs expanded in sorted order.

    A value that names an existing file is taken as it is (even if it holds ``*``); a value
    with glob characters is expanded (a pattern that matches nothing is refused). The same
    file given twice is refused: its incidents would be counted twice.
    """
    paths = []
    for value in values:
        text = str(value)
        if not Path(text).exists() and _GLOB_CHARACTERS & set(text):
            matches = sorted(glob.glob(text))
            if not matches:
                raise FileNotFoundError(
                    f"no file matches {text!r}; check the folder and the pattern (quote it, "
                    "e.g. 'exports/burglary_*.csv', or list the files)."
                )
            paths += [Path(m) for m in matches]
        else:
            paths.append(Path(text))
    seen = {}
    for path in paths:
        key = path.resolve() if path.exists() else path
        if key in seen:
            raise ValueError(
                f"the incident file {str(path)!r} is given twice (also as "
                f"{str(seen[key])!r}); its incidents would be counted twice. Give each file "
                "once."
            )
        seen[key] = path
    return paths


def read_tables(paths, read, csv_options=None) -> pd.DataFrame:
    """Read incident files into one table labelled by file line; check they agree.

    Parameters
    ----------
    paths : list of pathlib.Path
        The files, in the order given.
    read : callable
        ``read(path)`` returns the file's table (:func:`caslite.events._read_table`).
    csv_options : dict, optional
        ``sep`` and ``encoding`` of CSV files, to find the line of each record.

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        The rows of every file, in order, with the columns of the first file. The index,
        named :data:`~caslite._validation.LINE_LABELS`, holds ``"FILE:LINE"`` labels: the
        line in a text file (header = line 1, as an editor shows it), the feature number
        (from 1) in a GIS or Parquet file. FILE is the file's name, or its path as given
        when two files have the same name.

    Raises
    ------
    ValueError
        If a file's columns differ from the first file's (naming both files and the columns
        that differ), or GIS files are in different CRSs.
    """
    frames = []
    first_path = first_columns = first_crs = None
    names = [path.name for path in paths]
    if len(set(names)) < len(names):  # 2018/burglary.csv and 2019/burglary.csv
        names = [str(path) for path in paths]
    for path, name in zip(paths, names, strict=True):
        frame = read(path)
        columns = [str(c) for c in frame.columns]
        if first_columns is None:
            first_path, first_columns = path, columns
            first_crs = getattr(frame, "crs", None) if hasattr(frame, "geometry") else None
        elif set(columns) != set(first_columns):
            missing = [c for c in first_columns if c not in columns]
            extra = [c for c in columns if c not in first_columns]
            what = "; ".join(
                part
                for part in (
                    f"it lacks {missing}" if missing else "",
                    f"it has {extra} in addition" if extra else "",
                )
                if part
            )
            raise ValueError(
                f"the incident file {path.name!r} has other columns than {first_path.name!r}: "
                f"{what}. Every file of one call must have the same columns (the first has "
                f"{first_columns}); export them alike, or rename the columns of "
                f"{path.name!r}."
            )
        else:
            crs = getattr(frame, "crs", None) if hasattr(frame, "geometry") else None
            if (crs is None) != (first_crs is None) or (
                crs is not None and not crs.equals(first_crs, ignore_axis_order=True)
            ):
                shown = [c.to_string() if c is not None else "none" for c in (crs, first_crs)]
                raise ValueError(
                    f"the incident file {path.name!r} is in CRS {shown[0]} but "
                    f"{first_path.name!r} in {shown[1]}; every file of one call must be in "
                    "the same CRS: reproject it in a GIS first."
                )
            frame = frame[first_columns]
        labels = _labels(path, name, len(frame), csv_options or {})
        frame.index = pd.Index(labels, name=LINE_LABELS)
        frames.append(frame)
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames)


def _labels(path: Path, name: str, n: int, csv_options: dict) -> list:
    """``"NAME:LINE"`` of every data row of a file (see :func:`read_tables`)."""
    if path.name.lower().endswith(_TEXT_SUFFIXES):
        lines = record_lines(path, csv_options.get("sep"), csv_options.get("encoding"))
        if lines is not None and len(lines) == n:
            return [f"{name}:{line}" for line in lines]
        # The records could not be matched with the lines (an unusual dialect): number the
        # data records from 1 instead, and say so in the label.
        return [f"{name}:record {i}" for i in range(1, n + 1)]
    return [f"{name}:{i}" for i in range(1, n + 1)]


def record_lines(path: Path, sep=None, encoding=None):
    """First line (from 1) of every data record of a CSV file, or None if unreadable.

    Blank lines are skipped, as pandas skips them, and a quoted field may span lines.
    """
    sep = "," if sep is None else sep
    encoding = encoding or "utf-8"
    name = path.name.lower()
    try:
        if name.endswith(".zip"):
            archive = zipfile.ZipFile(path)
            members = archive.namelist()
            if len(members) != 1:
                return None
            handle = io.TextIOWrapper(archive.open(members[0]), encoding=encoding, newline="")
        elif name.endswith(".gz"):
            handle = gzip.open(path, "rt", encoding=encoding, newline="")
        else:
            handle = open(path, encoding=encoding, newline="")  # noqa: SIM115
        with handle:
            reader = csv.reader(handle, delimiter=sep if len(sep) == 1 else ",")
            starts, previous = [], 0
            for record in reader:
                start, previous = previous + 1, reader.line_num
                if record:
                    starts.append(start)
    except (OSError, UnicodeError, csv.Error, zipfile.BadZipFile, EOFError):
        return None
    return starts[1:]  # the header is no data record


def assemble_time(frame: pd.DataFrame, columns: list, name: str) -> tuple[pd.Series, str]:
    """Join split time columns into text times and return them with their format.

    Parameters
    ----------
    frame : pandas.DataFrame
        The incidents.
    columns : list of str
        The year, month, day and optionally the hour, minute and second columns, in this
        order (as :func:`pandas.to_datetime` assembles a table of them). A month may be a
        number or an English month name (``"January"``, ``"Jan"``).
    name : str
        What the joined column is called, for messages.

    Returns
    -------
    times : pandas.Series
        ``"YYYY-MM-DD HH:MM:SS"`` text (as far as the parts go); missing where a part is
        missing, and the parts as found (``"2019-Foo-03 10:00"``) where one is not a whole
        number, so that validation reports the row with its value.
    time_format : str
        The ``strftime`` format of the text: ``"%Y-%m-%d"`` for dates only.

    Examples
    --------
    >>> table = pd.DataFrame({"Y": [2019, 2019], "M": ["March", "3"], "D": [1, 31],
    ...                       "H": [7, 23]})
    >>> times, time_format = assemble_time(table, ["Y", "M", "D", "H"], "time")
    >>> times.tolist(), time_format
    (['2019-03-01 07:00', '2019-03-31 23:00'], '%Y-%m-%d %H:%M')
    """
    if not 3 <= len(columns) <= len(TIME_PARTS):
        raise ValueError(
            f"--time {','.join(columns)} names {len(columns)} columns; a time split over "
            "columns needs the year, month and day columns, then optionally hour, minute and "
            "second, in this order, e.g. --time YEAR,MONTH,DAY,HOUR,MINUTE."
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"column {missing[0]!r} not found; the table has columns {list(frame.columns)}. "
            "Name the time columns with --time YEAR,MONTH,DAY[,HOUR[,MINUTE[,SECOND]]]."
        )
    parts = []
    absent = np.zeros(len(frame), dtype=bool)
    for part, column in zip(TIME_PARTS, columns, strict=False):
        text, gone = _time_part(frame[column], part)
        parts.append(text)
        absent |= gone
    time = parts[0] + "-" + parts[1] + "-" + parts[2]
    clock = parts[3:]
    if len(clock) == 1:  # hour only: read it as the hour's start, HH:00
        clock.append(pd.Series("00", index=frame.index))
    for number, piece in enumerate(clock):
        time = time + (" " if number == 0 else ":") + piece
    time = time.astype(object).where(~absent, None)
    time_format = "%Y-%m-%d" + {0: "", 2: " %H:%M", 3: " %H:%M:%S"}[len(clock)]
    return time.rename(name), time_format


def _time_part(column: pd.Series, part: str) -> tuple[pd.Series, np.ndarray]:
    """Return one part of a split time as zero-padded text, and the mask of missing ones."""
    absent = column.isna().to_numpy()
    values = column
    if part == "month" and not pd.api.types.is_numeric_dtype(column):
        words = column.astype("string").str.strip().str.lower()
        values = words.map(_MONTHS).where(words.isin(list(_MONTHS)), column)
    numbers = pd.to_numeric(values, errors="coerce")
    whole = numbers.notna() & (numbers == np.floor(numbers))
    width = 4 if part == "year" else 2
    text = column.astype("string").str.strip().fillna("")
    padded = numbers[whole].astype("int64").map(lambda v: f"{v:0{width}d}")
    text = text.astype(object)
    text[whole.to_numpy()] = padded.to_numpy()
    return pd.Series(text, index=column.index, dtype=object), absent


def filter_view(frame: pd.DataFrame, time_columns, parse) -> pd.DataFrame:
    """Return the columns ``--filter`` reads: the raw table, with times it can compare.

    Parameters
    ----------
    frame : pandas.DataFrame
        The raw incidents.
    time_columns : list of str
        Columns of times, given to ``--filter`` as local wall-clock datetimes
        (``parse(column)``; unreadable values are missing, and so match no comparison). A
        GIS table also gets ``x`` and ``y`` from its point geometry unless it has such
        columns.
    parse : callable
        Reads a time column into naive local datetimes.

    Returns
    -------
    pandas.DataFrame
        One row per row of ``frame``, without the geometry.
    """
    view = pd.DataFrame(frame.drop(columns=getattr(frame, "_geometry_column_name", None) or [],
                                   errors="ignore"))  # fmt: skip
    for column in time_columns:
        if column in view.columns:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                view[column] = parse(view[column])
    geometry = getattr(frame, "_geometry_column_name", None)
    if geometry is not None and geometry in frame.columns:
        points = frame.geometry
        empty = (points.isna() | points.is_empty).to_numpy()
        is_point = np.zeros(len(frame), dtype=bool)
        is_point[~empty] = (points[~empty].geom_type == "Point").to_numpy()
        for axis in ("x", "y"):
            if axis not in view.columns:
                values = np.full(len(frame), np.nan)
                values[is_point] = getattr(points[is_point], axis).to_numpy()
                view[axis] = values
    return view
