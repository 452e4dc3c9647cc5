"""tracemark: Jupyter-native human review of LLM application traces.

The public API is what this module exports. Each section belongs to one area of the package.
"""

from __future__ import annotations

# -- model: the canonical frames ---------------------------------------------------------------
from tracemark.model import Traces, read

# -- ingest: tm.load and the readers -----------------------------------------------------------
from tracemark.ingest import FormatDetectionError, IngestError, load
from tracemark.ingest.conversations import load_conversations
from tracemark.ingest.datadog import load_datadog
from tracemark.ingest.langfuse import load_langfuse
from tracemark.ingest.langsmith import load_langsmith
from tracemark.ingest.mlflow import load_mlflow
from tracemark.ingest.otlp import load_otlp
from tracemark.ingest.phoenix import load_phoenix

# -- demo --------------------------------------------------------------------------------------
from tracemark import demo

# -- labels, store, queues, datasets -----------------------------------------------------------
from tracemark.dataset import Dataset
from tracemark.labels import (
    Boolean,
    Categorical,
    Label,
    LabelSchema,
    LabelValidationError,
    Score,
    Text,
)
from tracemark.queue import Item, Queue
from tracemark.store import EventLog, Store, StoreError

# -- rules, sampling, automations --------------------------------------------------------------
from tracemark.automation import Automation, load_automations, save_automations
from tracemark.rules import Rule, RuleError, rule
from tracemark.rules.sampling import sample_mask, stable_uniform

# -- review widget -----------------------------------------------------------------------------
from tracemark.review import Review, TraceView

# -- analysis and export -----------------------------------------------------------------------
from tracemark.analysis import (
    FAILURE_MODES,
    AgreementResult,
    Comparison,
    agreement,
    compare,
    failure_mode_counts,
    failure_mode_schema,
    review_progress,
    reviewer_throughput,
)
from tracemark.export import (
    GoldenDataset,
    golden_dataset,
    preference_pairs,
    write_openai_jsonl,
    write_preference_jsonl,
)

__all__ = [
    "FAILURE_MODES",
    "AgreementResult",
    "Automation",
    "Boolean",
    "Categorical",
    "Comparison",
    "Dataset",
    "EventLog",
    "FormatDetectionError",
    "GoldenDataset",
    "IngestError",
    "Item",
    "Label",
    "LabelSchema",
    "LabelValidationError",
    "Queue",
    "Review",
    "Rule",
    "RuleError",
    "Score",
    "Store",
    "StoreError",
    "Text",
    "TraceView",
    "Traces",
    "agreement",
    "compare",
    "demo",
    "failure_mode_counts",
    "failure_mode_schema",
    "golden_dataset",
    "load",
    "load_automations",
    "load_conversations",
    "load_datadog",
    "load_langfuse",
    "load_langsmith",
    "load_mlflow",
    "load_otlp",
    "load_phoenix",
    "preference_pairs",
    "read",
    "review_progress",
    "reviewer_throughput",
    "rule",
    "sample_mask",
    "save_automations",
    "stable_uniform",
    "write_openai_jsonl",
    "write_preference_jsonl",
]
__version__ = "0.1.0"
