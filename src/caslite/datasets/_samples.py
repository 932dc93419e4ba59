"""Small data sets shipped with caslite as package data."""

from __future__ import annotations

import dataclasses
import importlib.resources
import types

import pandas as pd

__all__ = ["Sample", "load_sample", "SAMPLES", "SYNTHETIC_SAMPLE_PARAMS", "TORONTO_WINDOW"]

#: Parameters of :func:`caslite.datasets.simulate_city` that made the ``"synthetic"`` sample
#: (all others at their defaults).
SYNTHETIC_SAMPLE_PARAMS = types.MappingProxyType(
    {
        "start": "2022-01-01",
        "end": "2024-01-01",
        "background_rate": 5.0,
        "random_state": 20240101,
    }
)

#: The Toronto sample: rows with ``xmin <= x < xmax``, ``ymin <= y < ymax`` (EPSG:32617) and
#: occurrence year in ``years`` (inclusive), all premises types.
TORONTO_WINDOW = types.MappingProxyType(
    {
        "xmin": 623_000.0,
        "xmax": 629_000.0,
        "ymin": 4_833_000.0,
        "ymax": 4_839_000.0,
        "years": (2016, 2019),
    }
)

_SPECS = {
    "toronto": {
        "file": "toronto_sample",
        "crs": "EPSG:32617",
        "tz": "America/Toronto",
        # the source has hour-precision wall-clock times, some in the DST gap / overlap
        "events_kwargs": {"ambiguous": "earliest", "nonexistent": "shift_forward"},
    },
    "synthetic": {
        "file": "synthetic_sample",
        "crs": "EPSG:28992",
        "tz": "Europe/Amsterdam",
        "events_kwargs": {},
    },
}

#: Names :func:`load_sample` accepts.
SAMPLES = tuple(_SPECS)


@dataclasses.dataclass(frozen=True, eq=False)
class Sample:
    """A shipped data set: the raw table as read plus what is needed to interpret it.

    Attributes
    ----------
    frame : pandas.DataFrame
        The table exactly as read from the file, nothing cleaned (times are strings).
    name : str
        Name of the sample.
    crs : str
        Projected CRS of the coordinate columns.
    tz : str
        IANA time zone of the local wall-clock times.
    time, x, y : str
        Names of the time and coordinate columns.
    description : str
        What the data is, how it was made, its quirks, licence and attribution.
    events_kwargs : dict
        Default options for :meth:`caslite.events.Events.from_frame` that this sample needs
        (e.g. how to read the Toronto wall-clock times that fall in a DST change).
    """

    frame: pd.DataFrame
    name: str
    crs: str
    tz: str
    time: str = "t"
    x: str = "x"
    y: str = "y"
    description: str = ""
    events_kwargs: dict = dataclasses.field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"Sample(name={self.name!r}, rows={len(self.frame)}, crs={self.crs!r}, tz={self.tz!r})"
        )

    def to_events(self, **kwargs):
        """Validate the sample into :class:`caslite.events.Events`.

        Parameters
        ----------
        **kwargs
            Options of :meth:`caslite.events.Events.from_frame` (for example
            ``duplicates="drop"``); they override :attr:`events_kwargs`.

        Returns
        -------
        caslite.events.Events
            The events, times in UTC, coordinates in :attr:`crs`. The sample goes through
            the same time-quality policy as any table: in ``"toronto"`` the records at the
            heaped default hours 00:00 and 12:00 become whole-day windows (pass
            ``default_times="keep"`` to keep them exact); ``report["time_quality"]`` has the
            counts.

        Examples
        --------
        >>> events = load_sample("synthetic").to_events()
        >>> events.tz, len(events) == len(load_sample("synthetic").frame)
        ('Europe/Amsterdam', True)
        """
        from caslite.events import Events

        options = {**self.events_kwargs, **kwargs}
        return Events.from_frame(
            self.frame, time=self.time, x=self.x, y=self.y, crs=self.crs, tz=self.tz, **options
        )


def _data_file(name: str):
    return importlib.resources.files("caslite.datasets").joinpath("data", name)


def load_sample(name: str) -> Sample:
    """Load a small data set shipped with caslite.

    Parameters
    ----------
    name : {"toronto", "synthetic"}
        ``"toronto"``: 3,837 break-and-enter reports (all premises types) from a 6 km x 6 km
        window of downtown and west-end Toronto, 2016-2019, with the quirks of the source kept
        (exact duplicates, default hours 00 and 12, locations snapped to intersections;
        :meth:`Sample.to_events` makes the records at the default hours whole-day windows).
        Contains information licensed under the Open Government Licence – Ontario (Toronto
        Police Service, Major Crime Indicators).
        ``"synthetic"``: two years of a synthetic city made by
        :func:`caslite.datasets.simulate_city` with :data:`SYNTHETIC_SAMPLE_PARAMS`; call
        ``simulate_city(**SYNTHETIC_SAMPLE_PARAMS)`` for the true intensity.

    Returns
    -------
    Sample
        The raw table (:attr:`Sample.frame`) with its CRS, time zone, column names and
        description.

    Raises
    ------
    ValueError
        If ``name`` is not one of the shipped samples.

    Examples
    --------
    >>> sample = load_sample("toronto")
    >>> sample.crs, sample.tz, len(sample.frame)
    ('EPSG:32617', 'America/Toronto', 3837)
    >>> sample.frame.columns.tolist()
    ['t', 'x', 'y', 'premises_type', 'residential', 'neighbourhood']
    """
    if name not in _SPECS:
        raise ValueError(
            f"unknown sample {name!r}; available samples are {', '.join(map(repr, SAMPLES))}."
        )
    spec = _SPECS[name]
    with _data_file(spec["file"] + ".csv.gz").open("rb") as handle:
        frame = pd.read_csv(handle, compression="gzip")
    description = _data_file(spec["file"] + ".md").read_text(encoding="utf-8")
    return Sample(
        frame=frame,
        name=name,
        crs=spec["crs"],
        tz=spec["tz"],
        time="t",
        x="x",
        y="y",
        description=description,
        events_kwargs=dict(spec["events_kwargs"]),
    )
