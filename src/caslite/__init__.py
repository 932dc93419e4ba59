"""caslite: burglary risk forecasts per grid cell and police shift.

The public API is re-exported here; the modules behind it are

- :mod:`caslite.events` — :class:`Events`, validated incidents (:func:`as_events`);
- :mod:`caslite.grid` — :class:`Grid`, square cells over a study area;
- :mod:`caslite.shifts` — :class:`ShiftSchedule` and :class:`Blocks`, DST-correct shifts;
- :mod:`caslite.nearrepeat` — near-repeat kernels and scores (numba);
- :mod:`caslite.features` — :class:`FeatureBuilder`, the risk model's features;
- :mod:`caslite.models` — forecasters: :class:`RiskModel` and the baselines;
- :mod:`caslite.forecast` — :class:`Forecast`, risk per block and cell, hot cells;
- :mod:`caslite.predict` — :func:`predict`, the planners' one call;
- :mod:`caslite.evaluation` — hit rate, PAI, PEI* and observed counts;
- :mod:`caslite.datasets` — shipped samples and the synthetic-city simulator;
- :mod:`caslite.audits` — :func:`audit`, where the hot cells send patrols, and
  :func:`simulate_feedback`, runaway feedback loops;
- :mod:`caslite.patrol` — :func:`patrol_plan`, hot cells per shift with optional exploration;
- :mod:`caslite.persist` — :func:`save_model` / :func:`load_model` and the same for
  forecasts, without pickle;
- :mod:`caslite.io` — :func:`write_hot_cells` / :func:`read_hot_cells`, GIS files of hot
  cells (GeoPackage, GeoJSON, GeoParquet, CSV);
- :mod:`caslite.maps` — :func:`plot_shift`, :func:`plot_day`, :func:`plot_horizon` and
  the interactive :func:`caslite.maps.explore` map of a forecast, with context layers;
- :mod:`caslite.alerts` — :func:`near_repeat_alerts`, zones, revisits and group messages
  after a burglary;
- :mod:`caslite.neighbourhood` — :func:`neighbourhood_report`, burglaries per neighbourhood
  against last year (HTML, CSV, figure);
- :mod:`caslite.outlook` — :func:`dark_months_outlook`, expected incidents per district and
  week for the coming months;
- :mod:`caslite.summary` and :mod:`caslite.plot` — a first look at the data, maps.
"""

from typing import TYPE_CHECKING

from caslite._lazy import attach as _attach

if TYPE_CHECKING:  # the names below, for type checkers and IDEs; at run time they load lazily
    from caslite._validation import CasliteWarning, DataQualityWarning
    from caslite.alerts import NearRepeatAlerts, Uplift, near_repeat_alerts, near_repeat_uplift
    from caslite.audits import AuditReport, FeedbackResult, audit, simulate_feedback
    from caslite.events import Events, as_events
    from caslite.features import FeatureBuilder, category_layers
    from caslite.forecast import Forecast
    from caslite.grid import Grid
    from caslite.io import read_hot_cells, write_hot_cells
    from caslite.maps import plot_day, plot_horizon, plot_shift
    from caslite.models import (
        GridETAS,
        NaiveCounts,
        ProspectiveHotSpot,
        RetrospectiveKDE,
        RiskModel,
        ShiftHistory,
        TooLittleDataError,
    )
    from caslite.nearrepeat import (
        BowersSpace,
        BowersTime,
        ExponentialSpace,
        ExponentialTime,
        GaussianSpace,
        score_at,
        score_forecast,
        score_history,
    )
    from caslite.neighbourhood import NeighbourhoodReport, neighbourhood_report
    from caslite.outlook import Outlook, dark_months_outlook
    from caslite.patrol import patrol_plan, select_hot_cells
    from caslite.persist import (
        CasliteFileError,
        load_forecast,
        load_model,
        read_metadata,
        save_forecast,
        save_model,
    )
    from caslite.plot import plot_cells
    from caslite.predict import predict
    from caslite.shifts import Blocks, ShiftSchedule
    from caslite.summary import IncidentSummary, summarize_incidents

__version__ = "0.1.0.dev0"

__all__ = [
    "AuditReport",
    "Blocks",
    "BowersSpace",
    "BowersTime",
    "CasliteFileError",
    "CasliteWarning",
    "DataQualityWarning",
    "Events",
    "ExponentialSpace",
    "ExponentialTime",
    "FeatureBuilder",
    "FeedbackResult",
    "Forecast",
    "GaussianSpace",
    "Grid",
    "GridETAS",
    "IncidentSummary",
    "NearRepeatAlerts",
    "NeighbourhoodReport",
    "Outlook",
    "NaiveCounts",
    "ProspectiveHotSpot",
    "RetrospectiveKDE",
    "RiskModel",
    "ShiftHistory",
    "ShiftSchedule",
    "TooLittleDataError",
    "Uplift",
    "__version__",
    "as_events",
    "audit",
    "category_layers",
    "dark_months_outlook",
    "load_forecast",
    "load_model",
    "near_repeat_alerts",
    "near_repeat_uplift",
    "neighbourhood_report",
    "patrol_plan",
    "plot_cells",
    "plot_day",
    "plot_horizon",
    "plot_shift",
    "predict",
    "read_hot_cells",
    "read_metadata",
    "save_forecast",
    "save_model",
    "score_at",
    "score_forecast",
    "score_history",
    "select_hot_cells",
    "simulate_feedback",
    "summarize_incidents",
    "write_hot_cells",
]

# Where each public name lives: the module is imported on first access (PEP 562), so that
# ``import caslite`` and ``caslite --help`` do not pay for scikit-learn, numba or geopandas.
_MODULE_OF = {
    "AuditReport": "caslite.audits",
    "Blocks": "caslite.shifts",
    "BowersSpace": "caslite.nearrepeat",
    "BowersTime": "caslite.nearrepeat",
    "CasliteFileError": "caslite.persist",
    "CasliteWarning": "caslite._validation",
    "DataQualityWarning": "caslite._validation",
    "Events": "caslite.events",
    "ExponentialSpace": "caslite.nearrepeat",
    "ExponentialTime": "caslite.nearrepeat",
    "FeatureBuilder": "caslite.features",
    "FeedbackResult": "caslite.audits",
    "Forecast": "caslite.forecast",
    "GaussianSpace": "caslite.nearrepeat",
    "Grid": "caslite.grid",
    "GridETAS": "caslite.models",
    "IncidentSummary": "caslite.summary",
    "NaiveCounts": "caslite.models",
    "NearRepeatAlerts": "caslite.alerts",
    "NeighbourhoodReport": "caslite.neighbourhood",
    "Outlook": "caslite.outlook",
    "ProspectiveHotSpot": "caslite.models",
    "RetrospectiveKDE": "caslite.models",
    "RiskModel": "caslite.models",
    "ShiftHistory": "caslite.models",
    "ShiftSchedule": "caslite.shifts",
    "TooLittleDataError": "caslite.models",
    "Uplift": "caslite.alerts",
    "as_events": "caslite.events",
    "audit": "caslite.audits",
    "category_layers": "caslite.features",
    "dark_months_outlook": "caslite.outlook",
    "load_forecast": "caslite.persist",
    "load_model": "caslite.persist",
    "near_repeat_alerts": "caslite.alerts",
    "near_repeat_uplift": "caslite.alerts",
    "neighbourhood_report": "caslite.neighbourhood",
    "patrol_plan": "caslite.patrol",
    "plot_cells": "caslite.plot",
    "plot_day": "caslite.maps",
    "plot_horizon": "caslite.maps",
    "plot_shift": "caslite.maps",
    "predict": "caslite.predict",
    "read_hot_cells": "caslite.io",
    "read_metadata": "caslite.persist",
    "save_forecast": "caslite.persist",
    "save_model": "caslite.persist",
    "score_at": "caslite.nearrepeat",
    "score_forecast": "caslite.nearrepeat",
    "score_history": "caslite.nearrepeat",
    "select_hot_cells": "caslite.patrol",
    "simulate_feedback": "caslite.audits",
    "summarize_incidents": "caslite.summary",
    "write_hot_cells": "caslite.io",
}
_SUBMODULES = (
    "alerts",
    "audits",
    "cli",
    "datasets",
    "evaluation",
    "events",
    "features",
    "forecast",
    "grid",
    "io",
    "knox",
    "maps",
    "models",
    "nearrepeat",
    "neighbourhood",
    "outlook",
    "patrol",
    "persist",
    "plot",
    "shifts",
    "summary",
)
__getattr__, __dir__ = _attach(__name__, globals(), _MODULE_OF, _SUBMODULES)
