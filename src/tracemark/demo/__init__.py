"""Seeded demo data: realistic customer-support agent traces for demos, tests and benchmarks.

- :func:`generate` builds :class:`~tracemark.model.Traces` (vectorized; a million spans in
  seconds), identical for the same seed in any process.
- :func:`write_otlp` writes any ``Traces`` as OTLP JSON Lines with OpenInference or OTel GenAI
  attributes.
- :func:`simulated_labels` / :func:`simulate_review`: simulated reviewers labeling the demo
  traces with the starter failure-mode schema (for notebooks, tests and benchmarks).
- ``python -m tracemark.demo --out DIR`` / ``--otlp FILE`` does both from the command line.
"""

from __future__ import annotations

from tracemark.demo.generator import generate
from tracemark.demo.otlp import write_otlp
from tracemark.demo.reviewers import simulate_review, simulated_labels

__all__ = ["generate", "simulate_review", "simulated_labels", "write_otlp"]
