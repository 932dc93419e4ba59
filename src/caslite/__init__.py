"""caslite: burglary risk forecasts per grid cell and police shift."""

from caslite._validation import CasliteWarning, DataQualityWarning

__version__ = "0.1.0.dev0"

__all__ = [
    "CasliteWarning",
    "DataQualityWarning",
    "__version__",
]
