"""Stable sampling: a documented hash, pinned values, rates, strata, quotas and budgets."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import polars as pl
import pytest
from scipy import stats

from test_rules_data import hand_traces
from tracemark.rules.sampling import (
    Budget,
    fnv1a64,
    reference_hash,
    reference_uniform,
    sample,
    sample_mask,
    stable_hash,
    stable_uniform,
)

# Values of the documented function for fixed inputs. They must never change: a change
# would re-sample every automation's traffic.
PINNED = [
    ("s", "", 5911867632998275187, 0.32048298655717333),
    ("triage", "4bf92f3577b34da6a3ce929d0e0e4736", 6181618105927752478, 0.3351061889961299),
    (42, "trace-1", 16027514788467015762, 0.8688533176599744),
    ("auto", "é✓ unicode", 2938913959637393319, 0.1593188449893418),
    ("", "x", 7923888428584351934, 0.4295548524401952),
]


def test_fnv1a64_matches_the_published_test_vectors() -> None:
    # from the FNV reference (isthe.com/chongo/tech/comp/fnv): FNV-1a 64-bit
    assert fnv1a64(b"") == 0xCBF29CE484222325
    assert fnv1a64(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a64(b"foobar") == 0x85944171F73967E8


@pytest.mark.parametrize(("seed", "trace_id", "h", "u"), PINNED)
def test_pinned_values(seed: str | int, trace_id: str, h: int, u: float) -> None:
    assert reference_hash(seed, trace_id) == h
    assert reference_uniform(seed, trace_id) == u
    assert stable_hash([trace_id], seed).to_list() == [h]
    assert stable_uniform([trace_id], seed).to_list() == [u]


def test_vectorized_equals_reference_on_mixed_ids() -> None:
    rng = np.random.default_rng(5)
    alphabet = [*"abcdef0123456789-_", "é", "✓", "日", "😀"]
    ids = ["".join(rng.choice(alphabet, size=int(rng.integers(0, 40)))) for _ in range(3000)]
    ids[7] = None  # type: ignore[call-overload]
    series = pl.Series("trace_id", ids, dtype=pl.String)
    got = stable_hash(series, "seed-1").to_list()
    want = [None if x is None else reference_hash("seed-1", x) for x in ids]
    assert got == want
    # a chunked series and a slice (an Arrow offset) hash the same
    chunked = pl.concat([series[:1000], series[1000:]], rechunk=False)
    assert chunked.n_chunks() == 2
    assert stable_hash(chunked, "seed-1").to_list() == want
    assert stable_hash(series[1500:2000], "seed-1").to_list() == want[1500:2000]
    u = stable_uniform(series, "seed-1").to_list()
    assert u[7] is None
    assert all(0.0 <= x < 1.0 for x in u if x is not None)


def _ids(n: int, seed: int = 0) -> pl.Series:
    rng = np.random.default_rng(seed)
    return pl.Series("trace_id", [f"{x:032x}" for x in rng.integers(0, 2**62, size=n)])


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.5, 0.9])
def test_rates_within_statistical_tolerance(rate: float) -> None:
    n = 200_000
    frame = pl.DataFrame({"trace_id": _ids(n)})
    kept = int(sample_mask(frame, "seed", rate).sum())
    sd = (n * rate * (1 - rate)) ** 0.5
    assert abs(kept - n * rate) < 5 * sd, (kept, n * rate, sd)


def test_positions_are_uniform_and_independent_across_seeds() -> None:
    ids = _ids(100_000, seed=1)
    u1 = stable_uniform(ids, "a").to_numpy()
    u2 = stable_uniform(ids, "b").to_numpy()
    counts = np.histogram(u1, bins=50, range=(0, 1))[0]
    assert stats.chisquare(counts).pvalue > 1e-4
    assert abs(np.corrcoef(u1, u2)[0, 1]) < 0.02
    # sequential ids (the worst case for a weak hash) are as uniform
    seq = pl.Series([f"trace-{i}" for i in range(100_000)])
    counts = np.histogram(stable_uniform(seq, "a").to_numpy(), bins=50, range=(0, 1))[0]
    assert stats.chisquare(counts).pvalue > 1e-4


def test_a_lower_rate_samples_a_subset() -> None:
    frame = pl.DataFrame({"trace_id": _ids(20_000, seed=2)})
    low = sample(frame, "seed", 0.1).get_column("trace_id").to_list()
    high = set(sample(frame, "seed", 0.2).get_column("trace_id").to_list())
    assert low and set(low) < high
    # the decision is per trace: sampling a part gives the same answer for that part
    part = frame.slice(5000, 3000)
    assert set(sample(part, "seed", 0.1).get_column("trace_id")) == set(low) & set(
        part.get_column("trace_id")
    )


_CHILD = textwrap.dedent(
    """
    import hashlib, json, sys
    import numpy as np
    import polars as pl
    from tracemark.rules.sampling import sample_mask
    rng = np.random.default_rng(9)
    ids = [f"{x:032x}" for x in rng.integers(0, 2**62, size=50_000)]
    frame = pl.DataFrame({"trace_id": ids})
    keep = frame.filter(sample_mask(frame, "cross-process", 0.25)).get_column("trace_id")
    digest = hashlib.sha256("\\n".join(keep.to_list()).encode()).hexdigest()
    print(json.dumps({"n": keep.len(), "digest": digest, "hash": hash("x")}))
    """
)


def test_identical_results_in_separate_processes() -> None:
    outs = []
    for hashseed in ("1", "2"):  # different Python hash randomization in each process
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env, check=True
        )
        outs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert outs[0]["hash"] != outs[1]["hash"]  # the processes really differ in hash()
    assert outs[0]["n"] == outs[1]["n"] and outs[0]["digest"] == outs[1]["digest"]
    # ... and agree with this process
    rng = np.random.default_rng(9)
    ids = [f"{x:032x}" for x in rng.integers(0, 2**62, size=50_000)]
    frame = pl.DataFrame({"trace_id": ids})
    keep = frame.filter(sample_mask(frame, "cross-process", 0.25)).get_column("trace_id")
    assert hashlib.sha256("\n".join(keep.to_list()).encode()).hexdigest() == outs[0]["digest"]
    assert abs(outs[0]["n"] - 12_500) < 5 * (50_000 * 0.25 * 0.75) ** 0.5


@pytest.fixture(scope="module")
def traces():
    return hand_traces(3000, seed=21)


def test_stratified_rates_per_model(traces) -> None:
    t = traces.traces
    rates = {"gpt-4o": 0.1, "claude-3-5-sonnet": 0.5, "*": 1.0}
    mask = sample_mask(t, "strat", rates, by="model")
    groups = (
        t.with_columns(key=pl.col("models").list.sort().list.join(","), keep=mask)
        .group_by("key")
        .agg(n=pl.len(), kept=pl.col("keep").sum())
    )
    checked = 0
    for key, n, kept in groups.iter_rows():
        rate = rates.get(key, rates["*"])
        sd = max((n * rate * (1 - rate)) ** 0.5, 0.5)
        assert abs(kept - n * rate) < 5 * sd, (key, n, kept, rate)
        checked += key in rates
    assert checked == 2  # both named groups exist in the data
    # without "*", groups not named are not sampled
    only = sample_mask(t, "strat", {"gpt-4o": 1.0}, by="model")
    assert t.filter(only).get_column("models").to_list() == [
        ["gpt-4o"] for _ in range(int(only.sum()))
    ]


def test_quota_per_group_keeps_the_smallest_positions(traces) -> None:
    t = traces.traces
    mask = sample_mask(t, "q", quota=5, by="model")
    kept = t.filter(mask).with_columns(key=pl.col("models").list.sort().list.join(","))
    per = dict(kept.group_by("key").len().iter_rows())
    all_keys = t.select(pl.col("models").list.sort().list.join(",").unique()).to_series()
    sizes = dict(
        t.group_by(pl.col("models").list.sort().list.join(",").alias("key")).len().iter_rows()
    )
    for key in all_keys:
        assert per.get(key, 0) == min(5, sizes[key])
    # bottom-k: the kept ones are those of smallest u in their group
    u = stable_uniform(t.get_column("trace_id"), "q")
    ranked = (
        t.with_columns(u=u, key=pl.col("models").list.sort().list.join(","))
        .sort("u")
        .group_by("key", maintain_order=True)
        .head(5)
    )
    assert set(ranked.get_column("trace_id")) == set(kept.get_column("trace_id"))
    # a quota per group, with a rate first
    mask = sample_mask(t, "q", 0.5, by="model", quota={"gpt-4o": 2, "*": 1})
    per = dict(
        t.filter(mask).group_by(pl.col("models").list.sort().list.join(",")).len().iter_rows()
    )
    assert per["gpt-4o"] == 2 and all(v == 1 for k, v in per.items() if k != "gpt-4o")


def test_budget_gives_about_that_many_per_day(traces) -> None:
    t = traces.traces
    days = (t["start_time"].max() - t["start_time"].min()).total_seconds() / 86400
    assert 6 < days <= 7
    mask = sample_mask(t, "budget", budget="50/day")
    kept = t.filter(mask)
    expected = 50 * days * t.height / (t.height - 1)
    assert abs(kept.height - expected) < 5 * expected**0.5, (kept.height, expected)
    per_day = kept.group_by(pl.col("start_time").dt.date()).len().get_column("len")
    assert per_day.mean() == pytest.approx(50, rel=0.25)
    # the rate itself
    first, last = t["start_time"].min(), t["start_time"].max()
    rate = Budget.parse("50/day").rate(t.height, first, last)
    assert rate == pytest.approx(50 / (t.height / days) * t.height / (t.height - 1) * 1, rel=1e-9)
    # a budget above the traffic keeps everything; per hour works too
    assert sample_mask(t, "b", budget="100000/day").all()
    assert Budget.parse("2/hour").rate(t.height, first, last) == pytest.approx(
        48 / 50 * rate, rel=1e-9
    )
    # with by=, each group gets the budget
    by = t.filter(sample_mask(t, "budget", budget="10/day", by="model"))
    per_group = by.group_by(pl.col("models").list.sort().list.join(",")).len()
    big = per_group.filter(pl.col("len") > 30)
    assert big.height >= 3


def test_bad_sampling_options(traces) -> None:
    t = traces.traces
    with pytest.raises(ValueError, match=r"rate is a number in \[0, 1\]"):
        sample_mask(t, "x", 1.5)
    with pytest.raises(ValueError, match="needs by="):
        sample_mask(t, "x", {"gpt-4o": 0.5})
    with pytest.raises(ValueError, match="'50 a day' is not"):
        sample_mask(t, "x", budget="50 a day")
    with pytest.raises(ValueError, match="cannot stratify by 'colour'"):
        sample_mask(t, "x", 0.5, by="colour")
    with pytest.raises(ValueError, match="quota is a whole number"):
        sample_mask(t, "x", quota=-1)
    assert sample_mask(t.head(0), "x", 0.5).len() == 0
    assert sample_mask(t, "x", 1.0).all() and not sample_mask(t, "x", 0.0).any()
