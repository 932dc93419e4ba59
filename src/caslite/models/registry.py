"""The named forecasters: what ``caslite backtest --methods``, the benchmarks and the tests run.

Each entry gives a forecaster a short name (``"naive52"``), a class and the parameters that
make it, a one-line description (the command line's help), a label (the benchmark report's
tables), whether it is a baseline, whether ``caslite backtest`` runs it by default, and whether
its ``predict`` is an expected number of events per block and cell (only those get a log score
and a Brier score in the report). The command line, ``benchmarks/report.py``,
``benchmarks/accuracy.py``, ``benchmarks/identity.py`` and the contract test
(``tests/test_contract.py``) read this table; adding a forecaster to all of them is one
:func:`register` call below.

Reading the table imports no model (nor scikit-learn): classes are named by their import path
and imported when a forecaster is made.

Examples
--------
>>> from caslite.models.registry import available_forecasters, get_forecaster, make_forecaster
>>> available_forecasters(baseline=False)
['risk']
>>> get_forecaster("kde").description
'retrospective kernel density (250 m, 52 weeks)'
>>> make_forecaster("naive208")
NaiveCounts(window_weeks=208)
>>> make_forecaster("risk", random_state=7, horizon="7D").get_params()["random_state"]
7
"""

from __future__ import annotations

import importlib
import types
from typing import NamedTuple

__all__ = [
    "RegisteredForecaster",
    "available_forecasters",
    "get_forecaster",
    "make_forecaster",
    "register",
    "unregister",
]

#: The run options :func:`make_forecaster` passes to a class whose ``__init__`` takes them.
RUN_OPTIONS = ("random_state", "schedule", "horizon")


class RegisteredForecaster(NamedTuple):
    """A named forecaster of the registry.

    Attributes
    ----------
    name : str
        Short name, as given to ``caslite backtest --methods``.
    forecaster : type or str
        The class (a subclass of :class:`caslite.models.Forecaster`), or its import path
        ``"package.module.Class"``, imported when a forecaster is made.
    params : mapping
        Parameters of the class that make this forecaster (e.g. ``{"window_weeks": 52}``).
    description : str
        One line for the command line's help.
    label : str
        Name in the benchmark report's tables.
    baseline : bool
        A baseline that caslite's risk model is compared with (``--methods baselines`` runs
        the baselines that are also ``default``).
    default : bool
        Run by ``caslite backtest`` without ``--methods``.
    expected_counts : bool
        ``predict`` returns expected events per block and cell (so a log score is meaningful),
        not only a ranking score.
    """

    name: str
    forecaster: type | str
    params: types.MappingProxyType
    description: str
    label: str
    baseline: bool
    default: bool
    expected_counts: bool

    def forecaster_class(self) -> type:
        """Return the class, importing its module if it is named by its import path."""
        if not isinstance(self.forecaster, str):
            return self.forecaster
        module, _, name = self.forecaster.rpartition(".")
        return getattr(importlib.import_module(module), name)

    def make(self, *, random_state=None, schedule=None, horizon="14D", **params):
        """Return a new, unfitted forecaster: :func:`make_forecaster` of this entry."""
        import inspect

        cls = self.forecaster_class()
        accepted = inspect.signature(cls.__init__).parameters
        run = {"random_state": random_state, "schedule": schedule, "horizon": horizon}
        options = {key: value for key, value in run.items() if key in accepted}
        return cls(**{**options, **self.params, **params})


_REGISTRY: dict[str, RegisteredForecaster] = {}


def register(
    name: str,
    forecaster,
    *,
    description: str,
    params=None,
    label: str | None = None,
    baseline: bool = True,
    default: bool = False,
    expected_counts: bool = False,
) -> RegisteredForecaster:
    """Add a named forecaster to the registry.

    Parameters
    ----------
    name : str
        Short name: lower-case letters, digits and ``_``, starting with a letter; not yet
        registered, and not ``"all"`` or ``"baselines"`` (words of ``--methods``).
    forecaster : type or str
        The class, or its import path ``"package.module.Class"`` (imported only when a
        forecaster is made, so that reading the registry stays cheap).
    description : str
        One line for the command line's help.
    params : dict, optional
        Parameters of the class for this entry; the class's defaults for the others.
    label : str, optional
        Name in the benchmark report's tables; default ``name``.
    baseline, default, expected_counts : bool
        See :class:`RegisteredForecaster`.

    Returns
    -------
    RegisteredForecaster

    Raises
    ------
    ValueError
        If the name is taken or not a valid name.
    """
    if not (isinstance(name, str) and name.isidentifier() and name == name.lower()):
        raise ValueError(
            f"forecaster name {name!r} is not a lower-case identifier (letters, digits and _, "
            "starting with a letter), e.g. 'naive52'."
        )
    if name in ("all", "baselines") or name in _REGISTRY:
        raise ValueError(
            f"forecaster name {name!r} is taken; choose a name other than 'all', 'baselines' "
            f"and {', '.join(map(repr, _REGISTRY))}, or unregister({name!r}) first."
        )
    entry = RegisteredForecaster(
        name=name,
        forecaster=forecaster,
        params=types.MappingProxyType(dict(params or {})),
        description=description,
        label=label if label is not None else name,
        baseline=bool(baseline),
        default=bool(default),
        expected_counts=bool(expected_counts),
    )
    _REGISTRY[name] = entry
    return entry


def unregister(name: str) -> RegisteredForecaster:
    """Remove a named forecaster from the registry and return its entry."""
    get_forecaster(name)  # the error for an unknown name
    return _REGISTRY.pop(name)


def available_forecasters(*, baseline: bool | None = None, default: bool | None = None) -> list:
    """Return the names of the registered forecasters, in the order they were registered.

    Parameters
    ----------
    baseline, default : bool, optional
        Only the baselines (``True``) or only the others (``False``); only those run by
        default, or only the others. ``None``: all.

    Returns
    -------
    list of str
    """
    return [
        name
        for name, entry in _REGISTRY.items()
        if (baseline is None or entry.baseline == baseline)
        and (default is None or entry.default == default)
    ]


def get_forecaster(name: str) -> RegisteredForecaster:
    """Return the registry's entry of ``name``.

    Raises
    ------
    ValueError
        If no forecaster of that name is registered (the message lists those that are).
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"no forecaster is registered as {name!r}; choose from {', '.join(_REGISTRY)}."
        ) from None


def make_forecaster(name: str, *, random_state=None, schedule=None, horizon="14D", **params):
    """Return a new, unfitted forecaster of a registered name.

    Parameters
    ----------
    name : str
        A name of :func:`available_forecasters`.
    random_state, schedule, horizon
        The run's seed, shift schedule and forecast horizon, passed to the forecasters whose
        ``__init__`` takes them (the risk model trains on the run's shifts and horizons).
    **params
        Further parameters of the class; they override the entry's.

    Returns
    -------
    Forecaster
    """
    return get_forecaster(name).make(
        random_state=random_state, schedule=schedule, horizon=horizon, **params
    )


# ---------------------------------------------------------------------- the forecasters
register(
    "risk",
    "caslite.models.risk.RiskModel",
    description="caslite's risk model (gradient-boosted trees)",
    label="RiskModel",
    baseline=False,
    default=True,
    expected_counts=True,
)
register(
    "naive52",
    "caslite.models.baselines.NaiveCounts",
    params={"window_weeks": 52},
    description="incidents per cell over the last 52 weeks",
    label="naive 52-week counts",
    default=True,
)
register(
    "naive104",
    "caslite.models.baselines.NaiveCounts",
    params={"window_weeks": 104},
    description="incidents per cell over the last 104 weeks",
    label="naive 104-week counts",
)
register(
    "naive208",
    "caslite.models.baselines.NaiveCounts",
    params={"window_weeks": 208},
    description="incidents per cell over the last 208 weeks",
    label="naive 208-week counts",
    default=True,
)
register(
    "kde",
    "caslite.models.baselines.RetrospectiveKDE",
    params={"bandwidth": 250.0, "window_weeks": 52},
    description="retrospective kernel density (250 m, 52 weeks)",
    label="retrospective KDE (250 m, 52 weeks)",
    default=True,
)
register(
    "prospective",
    "caslite.models.baselines.ProspectiveHotSpot",
    description="prospective hot spots (near-repeat kernel)",
    label="prospective hot spots",
    default=True,
)
register(
    "shift",
    "caslite.models.baselines.ShiftHistory",
    params={"window_weeks": 52},
    description="incidents per cell in the same shift, 52 weeks",
    label="per-shift 52-week counts",
    default=True,
)
register(
    "etas",
    "caslite.models.etas.GridETAS",
    description="self-exciting point process per cell (EM)",
    label="self-exciting grid (ETAS, EM)",
    expected_counts=True,
)
register(
    "longrun",
    "caslite.models.strong.LongRunCounts",
    description="each cell's share of all past incidents x the last year's rate",
    label="counts, all history",
    expected_counts=True,
)
register(
    "etas_all",
    "caslite.models.strong.LongRunETAS",
    description="self-exciting grid fitted on all history (background floored above 0)",
    label="self-exciting grid, all history",
    expected_counts=True,
)
register(
    "blend",
    "caslite.models.strong.LongRunNearRepeatBlend",
    description="long-run counts + near-repeat score, weights fitted on earlier horizons",
    label="blend: long-run counts + near-repeat",
    expected_counts=True,
)
