"""tracemark: Jupyter-native human review of LLM application traces.

The public API is what this module exports. Each section belongs to one area of the package.
"""

from __future__ import annotations

# -- model: the canonical frames ---------------------------------------------------------------
from tracemark.model import Traces, read

# -- ingest: tm.load and the readers -----------------------------------------------------------
from tracemark.ingest import FormatDetectionError, IngestError, load

# -- demo --------------------------------------------------------------------------------------

# -- labels, store, queues, datasets -----------------------------------------------------------

# -- rules, sampling, automations --------------------------------------------------------------
from tracemark.rules import Rule, RuleError, rule

# -- review widget -----------------------------------------------------------------------------

# -- analysis and export -----------------------------------------------------------------------

__all__ = [
    "FormatDetectionError",
    "IngestError",
    "Rule",
    "RuleError",
    "Traces",
    "load",
    "read",
    "rule",
]
__version__ = "0.1.0"
