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
    # history: city blocks over the history_days before the origin
    history_days: int
    # Knox test
    knox_events: int
    knox_side: float
    knox_permutations: int
    # the plain-numpy twin's small workloads: every stride-th event, a few blocks
    twin_stride_city: int
    twin_stride_country: int
    twin_blocks: int
    twin_knox_stride: int
    twin_knox_permutations: int
    # timing
    repeats: int
    repeats_big: int
    repeats_knox: int
    memory: str  # "subprocess" (fresh interpreter per case) or "in-process"
    assert_targets: bool


FULL = Profile(
    name="full",
    city_side=20_000.0,
    city_events=10_000,
    horizon_days=14,
    country_cells=2_200_000,
    country_events=30_000,
    history_days=365,
    knox_events=50_000,
    knox_side=20_000.0,
    knox_permutations=999,
    twin_stride_city=50,
    twin_stride_country=1_000,
    twin_blocks=6,
    twin_knox_stride=50,
    twin_knox_permutations=19,
    repeats=7,
    repeats_big=3,
    repeats_knox=2,
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
    history_days=7,  # 42 blocks
    knox_events=2_000,
    knox_side=6_250.0,
    knox_permutations=19,
    twin_stride_city=5,
    twin_stride_country=10,
    twin_blocks=4,
    twin_knox_stride=1,
    twin_knox_permutations=19,
    repeats=2,
    repeats_big=2,
    repeats_knox=1,
    memory="in-process",
    assert_targets=False,
)

PROFILES = {"full": FULL, "smoke": SMOKE}
