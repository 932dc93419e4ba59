"""GIS files of hot cells and incidents: GeoPackage, GeoJSON, GeoParquet and CSV.

:func:`write_hot_cells` writes the hot cells of :func:`caslite.predict` (or
:meth:`caslite.Forecast.top`) in the format of the file's suffix, with the CRS carried
through, and :func:`read_hot_cells` reads any of those files back into the same columns and
dtypes. :func:`write_incidents` writes a table of incidents (for example a simulated city) so
that :meth:`caslite.Events.read` reads it back.

Times in the files
------------------
A GeoPackage, a GeoJSON file and a CSV file hold the shift times as text in local time with
the UTC offset (ISO 8601, ``2019-03-01T00:00:00-05:00``), which a GIS shows as it is, and
again in UTC (``shift_start_utc``, ``shift_end_utc``: a date-time field in a GeoPackage, for
QGIS's temporal controller; ISO text ending in ``+00:00`` or ``Z`` elsewhere). A GeoParquet
file keeps time-zone-aware datetimes. Every file also has ``shift_number`` (0 for the first
shift of the horizon, 1 for the next, ...; filter a layer with ``"shift_number" = 3``) and
``time_zone`` (the IANA zone, so that the local times can be restored exactly).

.. deprecated:: 0.1.0
   The column ``shift``, the same number as ``shift_number``, is still written but will be
   removed in a future version: its name is also a method of pandas tables
   (``table.shift``), so that ``table.shift`` does not give the column. Read
   ``shift_number`` instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj

from caslite._atomic import atomic_path

__all__ = [
    "HOT_CELL_COLUMNS",
    "SUFFIXES",
    "read_hot_cells",
    "write_hot_cells",
    "write_incidents",
]

#: File formats by suffix.
SUFFIXES = {".gpkg": "GeoPackage", ".geojson": "GeoJSON", ".parquet": "GeoParquet", ".csv": "CSV"}

#: Columns of a hot-cells table (``caslite.predict``), besides the geometry.
HOT_CELL_COLUMNS = (
    "shift_start",
    "shift_end",
    "label",
    "cell_id",
    "x",
    "y",
    "risk",
    "probability",
    "rank",
)
# Columns added in the files and dropped again by read_hot_cells.
_FILE_COLUMNS = ("shift_number", "shift", "shift_start_utc", "shift_end_utc", "time_zone")
#: The deprecated name of ``shift_number`` in the files, still written (see the module notes).
_DEPRECATED_SHIFT = "shift"
_CSV_GEOMETRY, _CSV_CRS = "wkt", "crs"
_LAYOUTS = ("column", "layers")
_DEFAULT_LAYER = "hot_cells"
_SHIFT_LAYER = re.compile(r"^shift_\d{4}-\d{2}-\d{2}T\d{2}-\d{2}")
_INTEGER_COLUMNS = ("cell_id", "rank")
_FLOAT_COLUMNS = ("x", "y", "risk", "probability")


# ---------------------------------------------------------------------- hot cells: write
def write_hot_cells(hot, path, *, layout="column", layer=None) -> list:
    """Write hot cells to a GeoPackage, GeoJSON, GeoParquet or CSV file (by suffix).

    Parameters
    ----------
    hot : geopandas.GeoDataFrame
        As returned by :func:`caslite.predict` or :meth:`caslite.Forecast.top`: columns
        ``shift_start``, ``shift_end`` (time-zone-aware local times), ``label``,
        ``cell_id``, ``x``, ``y``, ``risk``, ``probability``, ``rank`` and the cell squares as
        geometry, with a CRS. Other columns are written as they are.
    path : str or os.PathLike
        The file: ``.gpkg``, ``.geojson``, ``.parquet`` (GeoParquet) or ``.csv`` (geometry as
        WKT text in a ``wkt`` column and the CRS in a ``crs`` column, which QGIS's
        delimited-text reader recognises). An existing file is replaced, only once the new
        one is complete (a failed write leaves it as it was); the folder must exist.
    layout : {"column", "layers"}, default "column"
        ``"column"``: one table, the shift in columns (see the module notes on times;
        ``shift_number`` numbers the shifts of the horizon, the deprecated ``shift`` too).
        ``"layers"``: a GeoPackage with one layer per shift named by its local start,
        ``shift_2019-03-01T00-00`` (the UTC offset is appended, ``...T01-00-0400``, when two
        shifts start at the same wall-clock time, as can happen when clocks go back).
    layer : str, optional
        Layer name of the ``"column"`` layout in a GeoPackage; default ``"hot_cells"``.

    Returns
    -------
    list of pathlib.Path
        The files written (one).

    Raises
    ------
    ValueError
        For an unknown suffix (the message lists the supported ones), a missing column,
        a table without rows, naive shift times, a missing CRS, a bad layer name or a layout
        the format cannot hold.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from shapely.geometry import box
    >>> from caslite import Forecast, Grid, ShiftSchedule
    >>> grid = Grid.from_area(box(0, 0, 250, 250), cell_size=125.0, crs="EPSG:28992")
    >>> blocks = ShiftSchedule.every(12, tz="Europe/Amsterdam").horizon("2024-03-11", "1D")
    >>> risk = np.array([[0.1, 0.4, 0.2, 0.0], [0.3, 0.1, 0.1, 0.2]])
    >>> hot = Forecast(risk, blocks, grid, origin=blocks.start[0]).top(k=2)
    >>> folder = tempfile.mkdtemp()
    >>> [p.name for p in write_hot_cells(hot, os.path.join(folder, "hot.gpkg"))]
    ['hot.gpkg']
    >>> back = read_hot_cells(os.path.join(folder, "hot.gpkg"))
    >>> back.crs == hot.crs, str(back["shift_start"].iloc[-1])
    (True, '2024-03-11 12:00:00+01:00')
    >>> paths = write_hot_cells(hot, os.path.join(folder, "hot.gpkg"), layout="layers")
    >>> import pyogrio
    >>> pyogrio.list_layers(paths[0])[:, 0].tolist()
    ['shift_2024-03-11T00-00', 'shift_2024-03-11T12-00']
    """
    path = Path(path)
    suffix = _suffix(path, "hot-cells")
    if layout not in _LAYOUTS:
        raise ValueError(f"layout={layout!r} is not one of {list(_LAYOUTS)}.")
    if layout == "layers" and suffix != ".gpkg":
        raise ValueError(
            f"layout='layers' (a layer per shift) needs a GeoPackage (.gpkg); {path.name!r} "
            f"is {SUFFIXES[suffix]}, which holds one table. Use layout='column' (a shift "
            "column) or a .gpkg file."
        )
    if layer is not None:
        if layout == "layers":
            raise ValueError(
                "layer= names the single layer of layout='column'; with layout='layers' the "
                "layers are named by their shift (shift_2019-03-01T00-00, ...). Drop layer=."
            )
        if suffix != ".gpkg":
            raise ValueError(
                f"layer= applies to a GeoPackage (.gpkg); {path.name!r} is {SUFFIXES[suffix]}, "
                "which has no layers. Drop layer=."
            )
        _check_layer_name(layer)
    _check_folder(path)
    table, tz = _file_table(hot)
    with atomic_path(path) as temporary:  # the old file stays intact if the write fails
        _write_table(table, temporary, suffix, layout, layer, hot.crs)
    return [path]


def _write_table(table, path: Path, suffix: str, layout: str, layer, crs) -> None:
    """Write the checked table to a new file ``path`` (which does not exist yet)."""
    if suffix == ".parquet":
        table.to_parquet(path, index=False)
        return
    text = table.copy()
    for column in ("shift_start", "shift_end"):
        text[column] = _iso(text[column])
    if suffix == ".csv":
        frame = pd.DataFrame(text.drop(columns=text.geometry.name))
        for column in ("shift_start_utc", "shift_end_utc"):
            frame[column] = _iso(frame[column])
        frame[_CSV_GEOMETRY] = text.geometry.to_wkt()
        frame[_CSV_CRS] = _crs_text(crs)
        frame.to_csv(path, index=False)
        return
    if suffix == ".geojson":
        text.to_file(path, driver="GeoJSON", engine="pyogrio")
        return
    if layout == "column":
        text.to_file(path, layer=layer or _DEFAULT_LAYER, driver="GPKG", engine="pyogrio")
        return
    names = _layer_names(pd.factorize(table["shift_start"], sort=True)[1])
    for shift, name in enumerate(names):
        part = text[table["shift_number"].to_numpy() == shift]
        part.to_file(path, layer=name, driver="GPKG", engine="pyogrio")


def _file_table(hot):
    """Check ``hot`` and return the table to write (with the file-only columns) and its zone."""
    import geopandas

    if not isinstance(hot, geopandas.GeoDataFrame):
        raise TypeError(
            f"hot must be a GeoDataFrame of hot cells (caslite.predict), got {type(hot).__name__}."
        )
    missing = [c for c in HOT_CELL_COLUMNS if c not in hot.columns]
    if missing:
        raise ValueError(
            f"hot cells lack column {missing[0]!r}; expected {list(HOT_CELL_COLUMNS)} and a "
            f"geometry, got {list(hot.columns)}. Pass the table caslite.predict returns."
        )
    reserved = [c for c in (*_FILE_COLUMNS, _CSV_GEOMETRY, _CSV_CRS) if c in hot.columns]
    if reserved:
        raise ValueError(
            f"hot cells have column {reserved[0]!r}, a name the files use themselves "
            f"({list(_FILE_COLUMNS) + [_CSV_GEOMETRY, _CSV_CRS]}); rename it first."
        )
    if not len(hot):
        raise ValueError(
            "hot cells have no rows: there is nothing to write, and a file without rows "
            "carries no time zone or CRS to read back. Forecast.top gives an empty table when "
            "no cell fits in the coverage; pass a larger coverage."
        )
    if hot.crs is None:
        raise ValueError(
            "hot cells have no CRS; set it with hot.set_crs('EPSG:....') (caslite.predict "
            "gives the incidents' CRS)."
        )
    zones = []
    for column in ("shift_start", "shift_end"):
        dtype = hot[column].dtype
        if not isinstance(dtype, pd.DatetimeTZDtype):
            raise ValueError(
                f"column {column!r} must hold time-zone-aware local times, got dtype {dtype}; "
                f"localize it, e.g. hot[{column!r}].dt.tz_localize('Europe/Amsterdam')."
            )
        zones.append(str(dtype.tz))
    if zones[0] != zones[1]:
        raise ValueError(
            f"shift_start is in {zones[0]} but shift_end in {zones[1]}; convert both to the "
            "time zone of the study area."
        )
    tz = zones[0]
    if any(hot[c].isna().any() for c in ("shift_start", "shift_end")):
        raise ValueError("shift_start and shift_end must not be missing (NaT).")
    table = hot.copy()
    position, _ = pd.factorize(table["shift_start"], sort=True)
    extra = {
        "shift_number": position.astype(np.int64),
        _DEPRECATED_SHIFT: position.astype(np.int64),
        "shift_start_utc": table["shift_start"].dt.tz_convert("UTC"),
        "shift_end_utc": table["shift_end"].dt.tz_convert("UTC"),
        "time_zone": tz,
    }
    table = table.assign(**extra)
    order = [
        "shift_number", *HOT_CELL_COLUMNS[:2], "shift_start_utc", "shift_end_utc", "time_zone",
        _DEPRECATED_SHIFT,
    ]  # fmt: skip
    rest = [c for c in table.columns if c not in order and c != table.geometry.name]
    return table[[*order, *rest, table.geometry.name]], tz


def _iso(column: pd.Series) -> pd.Series:
    """ISO 8601 text of time-zone-aware times, with the UTC offset."""
    return column.map(lambda t: t.isoformat()).astype(object)


def _crs_text(crs) -> str:
    crs = pyproj.CRS.from_user_input(crs)
    authority = crs.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else crs.to_wkt()


def _layer_names(unique: pd.DatetimeIndex) -> list:
    """Return one GeoPackage layer name per shift start (sorted, local time)."""
    names = [f"shift_{t:%Y-%m-%dT%H-%M}" for t in unique]
    if len(set(names)) < len(names):
        names = [
            n + (f"{t:%z}" if names.count(n) > 1 else "")
            for n, t in zip(names, unique, strict=True)
        ]
    return names


def _check_layer_name(layer) -> None:
    if not isinstance(layer, str) or not layer.strip():
        raise ValueError(f"layer must be a non-empty name, got {layer!r}.")
    if layer.lower().startswith(("gpkg_", "rtree_", "sqlite_")):
        raise ValueError(
            f"layer={layer!r} starts with a prefix GeoPackage reserves for its own tables "
            "(gpkg_, rtree_, sqlite_); choose another name, e.g. 'hot_cells'."
        )


def _check_folder(path: Path) -> None:
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"the folder {str(path.parent)!r} does not exist; create it first (mkdir -p)."
        )
    if path.is_dir():
        raise IsADirectoryError(f"{str(path)!r} is a folder; give a file name such as hot.gpkg.")


def _suffix(path: Path, what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        supported = ", ".join(f"{s} ({name})" for s, name in SUFFIXES.items())
        raise ValueError(
            f"cannot tell the format of the {what} file {path.name!r} from its suffix "
            f"{path.suffix or '(none)'!r}; supported: {supported}."
        )
    return suffix


# ---------------------------------------------------------------------- hot cells: read
def read_hot_cells(path, layer=None):
    """Read hot cells written by :func:`write_hot_cells` back into the same columns and dtypes.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.gpkg``, ``.geojson``, ``.parquet`` or ``.csv`` file.
    layer : str, optional
        GeoPackage only: the layer to read. By default the ``hot_cells`` layer, or else every
        ``shift_...`` layer of the ``"layers"`` layout (in shift order), or else the only
        layer.

    Returns
    -------
    geopandas.GeoDataFrame
        ``shift_start``, ``shift_end`` (time-zone-aware local times in the zone they were
        written in), ``label``, ``cell_id``, ``x``, ``y``, ``risk``, ``probability``,
        ``rank``, any other columns (integers of a GeoJSON file as int64), and the geometry
        in the file's CRS.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        For an unknown suffix, a layer that is not in the file (the message lists the
        layers), or a file without the hot-cell columns.

    Examples
    --------
    See :func:`write_hot_cells`.
    """
    import geopandas

    path = Path(path)
    suffix = _suffix(path, "hot-cells")
    if not path.is_file():
        raise FileNotFoundError(f"no such hot-cells file: {str(path)!r}.")
    if layer is not None and suffix != ".gpkg":
        raise ValueError(
            f"layer= applies to a GeoPackage (.gpkg); {path.name!r} is {SUFFIXES[suffix]}, "
            "which has no layers. Drop layer=."
        )
    if suffix == ".parquet":
        table = geopandas.read_parquet(path)
    elif suffix == ".csv":
        table = _read_csv_cells(path)
    elif suffix == ".geojson":
        table = geopandas.read_file(path, engine="pyogrio")
        for column in table.columns:  # GDAL reads small GeoJSON integers as int32
            if table[column].dtype == np.int32:
                table[column] = table[column].astype(np.int64)
    else:
        table = _read_gpkg_cells(path, layer)
    return _restore(table, path)


def _read_gpkg_cells(path: Path, layer):
    import geopandas
    import pyogrio

    layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    if layer is not None:
        _check_layer_name(layer)
        if layer not in layers:
            raise ValueError(f"{path.name!r} has no layer {layer!r}; its layers are {layers}.")
        chosen = [layer]
    elif _DEFAULT_LAYER in layers:
        chosen = [_DEFAULT_LAYER]
    elif any(_SHIFT_LAYER.match(name) for name in layers):
        chosen = sorted(name for name in layers if _SHIFT_LAYER.match(name))
    elif len(layers) == 1:
        chosen = layers
    else:
        raise ValueError(
            f"{path.name!r} has several layers and none is 'hot_cells' or a shift layer: "
            f"{layers}; choose one with layer=."
        )
    parts = [geopandas.read_file(path, layer=name, engine="pyogrio") for name in chosen]
    if len(parts) == 1:
        return parts[0]
    table = pd.concat(parts, ignore_index=True)
    if "shift" in table.columns:  # layer names sort by wall-clock time; the index is exact
        table = table.sort_values("shift", kind="stable", ignore_index=True)
    return geopandas.GeoDataFrame(table, geometry=parts[0].geometry.name, crs=parts[0].crs)


def _read_csv_cells(path: Path):
    import geopandas

    # write_hot_cells writes missing values as empty fields; text such as a shift label "01"
    # or "NA" is read as it is, not as a number or a missing value.
    header = pd.read_csv(path, nrows=0).columns
    missing = {column: [""] for column in header if column != "label"}
    frame = pd.read_csv(path, dtype={"label": str}, keep_default_na=False, na_values=missing)
    for column in (_CSV_GEOMETRY, _CSV_CRS):
        if column not in frame.columns:
            raise ValueError(
                f"{path.name!r} has no {column!r} column (the cell squares as WKT and their "
                f"CRS); its columns are {list(frame.columns)}. Was it written by "
                "caslite.io.write_hot_cells?"
            )
    crs = frame[_CSV_CRS].dropna().unique()
    if len(crs) != 1:
        raise ValueError(
            f"{path.name!r}: the {_CSV_CRS!r} column must hold one CRS, found {list(crs)[:3]}."
        )
    geometry = geopandas.GeoSeries.from_wkt(frame.pop(_CSV_GEOMETRY))
    frame = frame.drop(columns=_CSV_CRS)
    return geopandas.GeoDataFrame(frame, geometry=geometry, crs=str(crs[0]))


def _restore(table, path: Path):
    import geopandas

    missing = [c for c in (*HOT_CELL_COLUMNS, "time_zone") if c not in table.columns]
    if missing:
        raise ValueError(
            f"{path.name!r} is not a hot-cells file of caslite: it lacks column "
            f"{missing[0]!r}; its columns are {list(table.columns)}. Write it with "
            "caslite.io.write_hot_cells."
        )
    if table.crs is None:
        raise ValueError(f"{path.name!r} has no CRS; it cannot be placed on a map.")
    zones = table["time_zone"].dropna().unique()
    if len(zones) != 1:
        raise ValueError(
            f"{path.name!r}: the time_zone column must hold one zone, found {list(zones)[:3]}."
        )
    tz = str(zones[0])
    unit = _time_unit()
    for column in ("shift_start", "shift_end"):
        table[column] = _local_times(table[column], tz, column, path).dt.as_unit(unit)
    for column in _INTEGER_COLUMNS:
        table[column] = table[column].astype(np.int64)
    for column in _FLOAT_COLUMNS:
        table[column] = table[column].astype(np.float64)
    table["label"] = table["label"].astype(str)
    geometry = table.geometry.name
    rest = [c for c in table.columns if c not in (*HOT_CELL_COLUMNS, *_FILE_COLUMNS, geometry)]
    out = pd.DataFrame(table[[*HOT_CELL_COLUMNS, *rest]]).reset_index(drop=True)
    return geopandas.GeoDataFrame(
        out, geometry=table.geometry.reset_index(drop=True).rename("geometry"), crs=table.crs
    )


def _local_times(column: pd.Series, tz: str, name: str, path: Path) -> pd.Series:
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return column.dt.tz_convert(tz)
    parsed = pd.to_datetime(column, utc=True, format="ISO8601", errors="coerce")
    bad = parsed.isna() & column.notna()
    if bad.any() or pd.api.types.is_datetime64_dtype(column):
        example = column[bad].iloc[0] if bad.any() else column.iloc[0]
        raise ValueError(
            f"{path.name!r}: column {name!r} must hold times with a UTC offset (ISO 8601, "
            f"e.g. 2019-03-01T00:00:00-05:00), found {example!r}."
        )
    return parsed.dt.tz_convert(tz)


def _time_unit() -> str:
    """Return the datetime unit of caslite's tables (``pd.to_datetime(seconds, unit="s")``)."""
    return pd.to_datetime(np.zeros(1, dtype=np.int64), unit="s", utc=True).unit


# ---------------------------------------------------------------------- incidents
def write_incidents(frame, path, *, crs, time="t", x="x", y="y") -> list:
    """Write a table of incidents so that :meth:`caslite.Events.read` reads it back.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per incident, with a time-zone-aware time column and coordinate columns
        (for example :meth:`caslite.datasets.SyntheticCity.to_frame`).
    path : str or os.PathLike
        ``.csv`` (times as ISO 8601 text with the UTC offset, ``x``/``y`` columns),
        ``.gpkg`` or ``.geojson`` (point geometry carrying the CRS; times as the same text)
        or ``.parquet`` (GeoParquet; time-zone-aware datetimes). An existing file is
        replaced, only once the new one is complete.
    crs : str, int or pyproj.CRS
        CRS of the coordinates.
    time, x, y : str
        Names of the time and coordinate columns.

    Returns
    -------
    list of pathlib.Path
        The files written (one).

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> from caslite import Events
    >>> frame = pd.DataFrame({"t": pd.to_datetime(["2019-03-01 10:00"]).tz_localize(
    ...     "America/Toronto"), "x": [628000.0], "y": [4835000.0]})
    >>> path = os.path.join(tempfile.mkdtemp(), "incidents.gpkg")
    >>> _ = write_incidents(frame, path, crs="EPSG:32617")
    >>> str(Events.read(path, tz="America/Toronto").times[0])
    '2019-03-01 10:00:00-05:00'
    """
    import geopandas

    path = Path(path)
    suffix = _suffix(path, "incident")
    missing = [c for c in (time, x, y) if c not in frame.columns]
    if missing:
        raise ValueError(
            f"column {missing[0]!r} not found; the table has columns {list(frame.columns)}."
        )
    if not isinstance(frame[time].dtype, pd.DatetimeTZDtype):
        raise ValueError(
            f"column {time!r} must hold time-zone-aware times, got dtype {frame[time].dtype}."
        )
    crs = pyproj.CRS.from_user_input(crs)
    _check_folder(path)
    table = pd.DataFrame(frame).reset_index(drop=True)
    with atomic_path(path) as temporary:  # the old file stays intact if the write fails
        if suffix == ".csv":
            table.assign(**{time: _iso(table[time])}).to_csv(temporary, index=False)
            return [path]
        points = geopandas.points_from_xy(table[x], table[y], crs=crs)
        table = table.drop(columns=[x, y])
        if suffix == ".parquet":
            geopandas.GeoDataFrame(table, geometry=points, crs=crs).to_parquet(
                temporary, index=False
            )
            return [path]
        table[time] = _iso(table[time])
        driver = "GPKG" if suffix == ".gpkg" else "GeoJSON"
        geopandas.GeoDataFrame(table, geometry=points, crs=crs).to_file(
            temporary, driver=driver, engine="pyogrio"
        )
    return [path]
