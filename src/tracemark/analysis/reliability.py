"""Reliability coefficients computed from per-unit value counts, for many weightings at once.

Every function takes the unit-by-value count matrix ``counts`` (``U x V``: how many raters
gave unit ``u`` the value ``v``, over *pairable* units, those with at least two ratings) and
a weight matrix ``weights`` (``B x U``): row ``b`` says how often each unit is drawn in
bootstrap replicate ``b``. A single row of ones gives the point estimate; rows of multinomial
counts give bootstrap replicates. Everything is a matrix product over units, so the cost is
linear in the number of units and no Python loop runs over units or replicates.

Formulas: Krippendorff (2011), *Computing Krippendorff's Alpha-Reliability*, coincidence
matrices and the nominal, ordinal and interval difference functions; Fleiss (1971),
*Measuring nominal scale agreement among many raters*; Cohen (1960), *A coefficient of
agreement for nominal scales*. Results are ``nan`` where a coefficient is undefined (for
example when every rating has the same value, so the expected disagreement is zero).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np

__all__ = [
    "alpha_interval",
    "alpha_nominal",
    "alpha_ordinal",
    "bootstrap_weights",
    "cohen_kappa",
    "coincidences",
    "fleiss_kappa",
    "percent_agreement",
    "unit_counts",
]

FloatArray = np.ndarray


def unit_counts(units: np.ndarray, codes: np.ndarray, n_units: int, n_values: int) -> FloatArray:
    """The ``U x V`` count matrix from one unit index and one value code per rating."""
    flat = np.bincount(units * n_values + codes, minlength=n_units * n_values)
    return flat.reshape(n_units, n_values).astype(np.float64)


def bootstrap_weights(
    n_units: int, n_boot: int, seed: int, *, max_cells: int = 4_000_000
) -> Iterator[FloatArray]:
    """Resampling weights of units, ``B x U``, in chunks of at most ``max_cells`` cells.

    Each replicate draws ``n_units`` units uniformly with replacement; a unit's weight is how
    often it was drawn. The stream depends only on ``seed``, ``n_units`` and ``n_boot``.
    """
    rng = np.random.default_rng(seed)
    if n_units == 0:
        return
    step = max(1, max_cells // n_units)
    done = 0
    while done < n_boot:
        b = min(step, n_boot - done)
        draws = rng.integers(0, n_units, size=(b, n_units))
        draws += (np.arange(b) * n_units)[:, None]
        yield (
            np.bincount(draws.ravel(), minlength=b * n_units).reshape(b, n_units).astype(np.float64)
        )
        done += b


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(np.isfinite(out), out, np.nan)


def _pairs(counts: FloatArray) -> tuple[FloatArray, FloatArray]:
    m = counts.sum(axis=1)
    return m, m * (m - 1.0)


def percent_agreement(counts: FloatArray, weights: FloatArray) -> FloatArray:
    """Mean share of agreeing rater pairs per unit (two raters: the share of units agreed on)."""
    _, pairs = _pairs(counts)
    per_unit = _ratio((counts * (counts - 1.0)).sum(axis=1), pairs)
    return _ratio(weights @ per_unit, weights.sum(axis=1))


def fleiss_kappa(counts: FloatArray, weights: FloatArray) -> FloatArray:
    """Fleiss' kappa; units may have different numbers of raters (each unit's agreement is
    the share of agreeing pairs within it, the category shares are pooled over ratings)."""
    p_bar = percent_agreement(counts, weights)
    totals = weights @ counts
    shares = _ratio(totals, totals.sum(axis=1, keepdims=True))
    p_e = (shares**2).sum(axis=1)
    return _ratio(p_bar - p_e, 1.0 - p_e)


def alpha_nominal(counts: FloatArray, weights: FloatArray) -> FloatArray:
    """Krippendorff's alpha with the nominal difference function."""
    m, _ = _pairs(counts)
    observed = _ratio(m**2 - (counts**2).sum(axis=1), m - 1.0)
    n = weights @ m
    totals = weights @ counts
    expected = n**2 - (totals**2).sum(axis=1)
    return 1.0 - _ratio((n - 1.0) * (weights @ observed), expected)


def _alpha_from_positions(
    counts: FloatArray, positions: FloatArray, weights: FloatArray
) -> FloatArray:
    """Alpha for the squared difference of positions (interval metric on ``positions``).

    ``positions`` is ``V`` (one position per value) or ``B x V`` (one per replicate). Uses
    sum over pairs (x_i - x_j)^2 = 2 (m S2 - S1^2) within each unit and over all pairable
    values, so no ``V x V`` matrix is formed. Every unit must be pairable (m >= 2).
    """
    m, _ = _pairs(counts)
    pos = np.atleast_2d(positions)
    s1 = pos @ counts.T  # B x U (or 1 x U)
    s2 = (pos**2) @ counts.T
    within = 2.0 * (m * s2 - s1**2) / (m - 1.0)
    if pos.shape[0] == 1:
        observed, big_s1, big_s2 = weights @ within[0], weights @ s1[0], weights @ s2[0]
    else:
        observed = np.einsum("bu,bu->b", weights, within)
        big_s1 = np.einsum("bu,bu->b", weights, s1)
        big_s2 = np.einsum("bu,bu->b", weights, s2)
    n = weights @ m
    expected = 2.0 * (n * big_s2 - big_s1**2)
    # Exact zero disagreement can come out as a tiny float; treat it as undefined.
    tiny = 1e-12 * np.maximum(1.0, np.abs(n * big_s2))
    expected = np.where(np.abs(expected) <= tiny, 0.0, expected)
    return 1.0 - _ratio((n - 1.0) * observed, expected)


def alpha_interval(counts: FloatArray, values: FloatArray, weights: FloatArray) -> FloatArray:
    """Krippendorff's alpha with the interval difference function ``(c - k)^2``;
    ``values`` holds the numeric value of each column of ``counts``."""
    return _alpha_from_positions(counts, np.asarray(values, dtype=np.float64), weights)


def coincidences(counts: FloatArray) -> FloatArray:
    """Each unit's contribution to the coincidence matrix, ``U x V x V``:
    ``(N_u N_u^T - diag(N_u)) / (m_u - 1)``; summed over units it is Krippendorff's ``o_ck``."""
    m, _ = _pairs(counts)
    outer = counts[:, :, None] * counts[:, None, :]
    idx = np.arange(counts.shape[1])
    outer[:, idx, idx] -= counts
    return outer / (m - 1.0)[:, None, None]


def alpha_ordinal(
    counts: FloatArray,
    weights: FloatArray,
    *,
    method: Literal["auto", "coincidence", "positions"] = "auto",
    max_cells: int = 20_000_000,
    unit_coincidences: FloatArray | None = None,
) -> FloatArray:
    """Krippendorff's alpha with the ordinal difference function; the columns of ``counts``
    must be in rank order.

    The ordinal difference between ranks c < k is (sum_{g=c..k} n_g - (n_c + n_k)/2)^2 =
    (t_k - t_c)^2 for the mid-rank positions t_c = sum_{g<c} n_g + n_c/2 of the pooled
    pairable values, recomputed from the marginals of each bootstrap replicate.
    ``"coincidence"`` forms each replicate's coincidence matrix (one matrix product with the
    units' ``U x V^2`` contributions: fastest with few values); ``"positions"`` uses the
    moment form of :func:`alpha_interval` on mid-ranks (no ``V x V`` matrix: for many
    values). ``"auto"`` picks the first when ``U V^2 <= max_cells``. Pass
    ``unit_coincidences`` (:func:`coincidences` reshaped to ``U x V^2``) to reuse them across
    chunks of replicates.
    """
    totals = weights @ counts  # B x V
    positions = np.cumsum(totals, axis=1) - totals / 2.0
    n_units, n_values = counts.shape
    if method == "auto":
        method = "coincidence" if n_units * n_values * n_values <= max_cells else "positions"
    if method == "positions":
        return _alpha_from_positions(counts, positions, weights)
    if unit_coincidences is None:
        unit_coincidences = coincidences(counts).reshape(n_units, -1)
    observed = (weights @ unit_coincidences).reshape(-1, n_values, n_values)
    delta = (positions[:, :, None] - positions[:, None, :]) ** 2
    num = np.einsum("bck,bck->b", observed, delta)
    den = np.einsum("bc,bk,bck->b", totals, totals, delta)
    n = totals.sum(axis=1)
    return 1.0 - _ratio((n - 1.0) * num, den)


def cohen_kappa(first: FloatArray, second: FloatArray, weights: FloatArray) -> FloatArray:
    """Cohen's kappa of two raters from their one-hot ratings (``U x V`` each, one row per
    unit both rated)."""
    total = weights.sum(axis=1)
    observed = _ratio(weights @ (first * second).sum(axis=1), total)
    p1 = _ratio(weights @ first, total[:, None])
    p2 = _ratio(weights @ second, total[:, None])
    expected = (p1 * p2).sum(axis=1)
    return _ratio(observed - expected, 1.0 - expected)


def kappa_from_confusion(confusion: FloatArray) -> float:
    """Cohen's kappa from a square confusion matrix of counts."""
    c = np.asarray(confusion, dtype=np.float64)
    n = c.sum()
    if n == 0:
        return float("nan")
    observed = np.trace(c) / n
    expected = float((c.sum(axis=0) * c.sum(axis=1)).sum()) / n**2
    if expected == 1.0:
        return float("nan")
    return float((observed - expected) / (1.0 - expected))
