"""Seeded demo data: realistic customer-support agent traces for demos, tests and benchmarks.

- :func:`generate` builds :class:`~tracemark.model.Traces` (vectorized; a million spans in
  seconds), identical for the same seed in any process.
- :func:`write_otlp` writes any ``Traces`` as OTLP JSON Lines with OpenInference or OTel GenAI
  attributes.
- ``python -m tracemark.demo --out DIR`` / ``--otlp FILE`` does both from the command line.
"""

from __future__ import annotations

from tracemark.demo.generator import generate
from tracemark.demo.otlp import write_otlp

__all__ = ["generate", "write_otlp"]
