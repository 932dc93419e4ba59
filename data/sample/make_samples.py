"""Make the sample data sets shipped with caslite (``caslite.datasets.load_sample``).

Run from anywhere::

    python data/sample/make_samples.py [--source ../shared/data/toronto/burglary.csv]

It writes ``toronto_sample.csv.gz`` and ``synthetic_sample.csv.gz`` into
``src/caslite/datasets/data/`` (package data) and identical copies next to this script.
The output is byte-for-byte reproducible (gzip header without a timestamp).

- Toronto: every row of the Toronto Police Service break-and-enter file whose location lies in
  ``TORONTO_WINDOW`` (a 6 km x 6 km window of downtown and west-end Toronto, EPSG:32617) and
  whose occurrence year is 2016..2019, in the order of the source file, nothing cleaned:
  duplicates, default hours and snapped locations are kept. Columns ``lat``, ``lon`` and
  ``source_split`` are dropped.
- Synthetic: ``simulate_city(**SYNTHETIC_SAMPLE_PARAMS)``; ``t`` as ISO local time with UTC
  offset, ``x`` and ``y`` rounded to the centimetre.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from caslite.datasets import simulate_city
from caslite.datasets._samples import SYNTHETIC_SAMPLE_PARAMS, TORONTO_WINDOW

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "toronto" / "burglary.csv"
PACKAGE_DATA = REPO / "src" / "caslite" / "datasets" / "data"
TORONTO_COLUMNS = ["t", "x", "y", "premises_type", "residential", "neighbourhood"]


def toronto_sample(source: Path | str = DEFAULT_SOURCE) -> pd.DataFrame:
    """Return the Toronto sample rows from the full break-and-enter file."""
    full = pd.read_csv(source, dtype={"t": str})
    w = TORONTO_WINDOW
    year = full["t"].str.slice(0, 4).astype(int)
    keep = (
        full["x"].ge(w["xmin"])
        & full["x"].lt(w["xmax"])
        & full["y"].ge(w["ymin"])
        & full["y"].lt(w["ymax"])
        & year.between(*w["years"])
    )
    return full.loc[keep, TORONTO_COLUMNS].reset_index(drop=True)


def synthetic_sample() -> pd.DataFrame:
    """Return the synthetic sample: the events of the documented synthetic city."""
    city = simulate_city(**SYNTHETIC_SAMPLE_PARAMS)
    events = city.events
    return pd.DataFrame(
        {
            "t": [stamp.isoformat() for stamp in events["t"]],
            "x": events["x"].round(2),
            "y": events["y"].round(2),
            "parent": events["parent"],
            "generation": events["generation"],
        }
    )


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """Serialise a sample frame as the shipped (uncompressed) CSV text."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def write(frame: pd.DataFrame, name: str, folders) -> None:
    """Write ``frame`` as ``name`` (.csv.gz, reproducible gzip) into every folder."""
    for folder in folders:
        path = Path(folder) / name
        frame.to_csv(
            path, index=False, lineterminator="\n", compression={"method": "gzip", "mtime": 0}
        )
        print(f"wrote {path} ({len(frame)} rows)")


def main(argv=None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="Toronto burglary.csv")
    args = parser.parse_args(argv)
    folders = [PACKAGE_DATA, HERE]
    write(toronto_sample(args.source), "toronto_sample.csv.gz", folders)
    write(synthetic_sample(), "synthetic_sample.csv.gz", folders)


if __name__ == "__main__":
    main()
