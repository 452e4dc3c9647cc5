"""From labels to decisions: agreement between raters, human labels against evaluators,
failure-mode summaries and charts."""

from __future__ import annotations

from tracemark.analysis.agreement import AgreementResult, agreement
from tracemark.analysis.compare import Comparison, compare
from tracemark.analysis.failure_modes import FAILURE_MODES, failure_mode_schema
from tracemark.analysis.summaries import failure_mode_counts, review_progress, reviewer_throughput

__all__ = [
    "FAILURE_MODES",
    "AgreementResult",
    "Comparison",
    "agreement",
    "compare",
    "failure_mode_counts",
    "failure_mode_schema",
    "review_progress",
    "reviewer_throughput",
]
