"""Sizes of the two profiles: ``full`` (the scale points of the design) and ``smoke`` (CI).

``full`` holds the workloads the targets are about; ``smoke`` shrinks every case so that the
whole suite, numba compilation included, runs in seconds and checks correctness only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """Workload sizes, repeats and twin sub-sampling of one profile."""

    name: str
    # city: a square of city_side metres (125 m cells), city_events in the year before origin
    city_side: float
    city_events: int
    horizon_days: float  # forecast horizon; 14 days = 84 blocks of 4 hours
    # country: a country-shaped polygon of about country_cells cells
    country_cells: int
    country_events: int
    # dense: the city's forecast from dense_events in the year before the origin
    dense_events: int
    # history: city blocks over the history_days before the origin
    history_days: int
    # Knox test
    knox_events: int
    knox_side: float
    knox_permutations: int
    # risk model (benchmarks/risk.py): years of city events before the origin, RiskModel
    # parameters of the city and country fits (prepared, not timed), cells of the country twin
    risk_city_years: float
    risk_city_model: dict
    risk_country_model: dict
    twin_risk_cells: int
    # Toronto fit: the CSV (relative to the repository root), events from toronto_start on,
    # fit origin, RiskModel parameters (a "horizon" key sets the model's horizon; default 14D)
    toronto_data: str
    toronto_start: str
    toronto_origin: str
    toronto_model: dict
    # the plain-numpy twin's small workloads: every stride-th event, a few blocks
    twin_stride_city: int
    twin_stride_country: int
    twin_stride_dense: int
    twin_blocks: int
    twin_knox_stride: int
    twin_knox_permutations: int
    # timing
    repeats: int
    repeats_big: int
    repeats_knox: int
    repeats_fit: int
    memory: str  # "subprocess" (fresh interpreter per case) or "in-process"
    assert_targets: bool


FULL = Profile(
    name="full",
    city_side=20_000.0,
    city_events=10_000,
    horizon_days=14,
    country_cells=2_200_000,
    country_events=30_000,
    dense_events=500_000,
    history_days=365,
    risk_city_years=2.0,
    risk_city_model={"train_step": "14D", "train_span": "365D"},
    risk_country_model={"train_step": "28D", "train_span": "120D", "max_iter": 100},
    twin_risk_cells=20_000,
    toronto_data="../shared/data/toronto/burglary.csv",
    toronto_start="2014-01-01",
    toronto_origin="2019-01-01",
    toronto_model={"train_span": None},
    knox_events=50_000,
    knox_side=20_000.0,
    knox_permutations=999,
    twin_stride_city=50,
    twin_stride_country=1_000,
    twin_stride_dense=1_000,  # 500 events: the dense twin holds events x cells arrays
    twin_blocks=6,
    twin_knox_stride=50,
    twin_knox_permutations=19,
    repeats=7,
    repeats_big=3,
    repeats_knox=1,  # a call takes seconds; the fresh interpreter adds the cold one
    repeats_fit=1,
    memory="subprocess",
    assert_targets=True,
)

SMOKE = Profile(
    name="smoke",
    city_side=6_250.0,  # 50 x 50 = 2,500 cells
    city_events=500,
    horizon_days=2,  # 12 blocks
    country_cells=10_000,
    country_events=1_500,
    dense_events=5_000,
    history_days=7,  # 42 blocks
    risk_city_years=1.0,
    risk_city_model={"train_step": "28D", "train_span": "84D", "max_iter": 10},
    risk_country_model={"train_step": "28D", "train_span": "84D", "max_iter": 10},
    twin_risk_cells=2_000,
    # the Toronto sample shipped in the repository (a 6 km window, 2016-2019): 8 months
    toronto_data="data/sample/toronto_sample.csv.gz",
    toronto_start="2018-01-01",
    toronto_origin="2018-09-01",
    # min_exact_times=0: 28 days hold fewer than the default 100 exact times, which would make
    # the forecast shift-flat, a rescaling the twin below does not model
    toronto_model={
        "horizon": "2D",
        "train_step": "14D",
        "train_span": "28D",
        "max_iter": 5,
        "min_exact_times": 0,
    },
    knox_events=2_000,
    knox_side=6_250.0,
    knox_permutations=19,
    twin_stride_city=5,
    twin_stride_country=10,
    twin_stride_dense=10,
    twin_blocks=4,
    twin_knox_stride=1,
    twin_knox_permutations=19,
    repeats=2,
    repeats_big=2,
    repeats_knox=1,
    repeats_fit=1,
    memory="in-process",
    assert_targets=False,
)

PROFILES = {"full": FULL, "smoke": SMOKE}


@dataclass(frozen=True)
class EtasSizes:
    """Sizes of the ``etas-fit`` case (``benchmarks/etas.py``) in one profile.

    The city of ``workloads.city`` (a square of ``city_side`` metres, 125 m cells) with
    ``n_events`` in the year before the origin; the twin takes every ``twin_stride``-th event.
    """

    city_side: float
    n_events: int
    twin_stride: int
    repeats: int


ETAS = {
    "full": EtasSizes(city_side=20_000.0, n_events=20_000, twin_stride=10, repeats=3),
    "smoke": EtasSizes(city_side=6_250.0, n_events=1_000, twin_stride=2, repeats=1),
}
