"""Agreement between raters: published worked examples, the krippendorff package, and
plain loop-based reference computations on random data with missing values."""

from __future__ import annotations

import itertools
from pathlib import Path

import altair as alt
import krippendorff
import numpy as np
import polars as pl
import pytest
import vl_convert

import tracemark as tm
from _support import queue_labels
from tracemark.analysis import reliability as rel


def long_from_matrix(matrix: list[list[object]], label: str = "value") -> pl.DataFrame:
    """Raters as rows, units as columns (None = missing), as a long item/rater/value frame."""
    rows = [
        {"item_id": f"u{u:02d}", "reviewer": f"r{r}", "label": label, "value": v}
        for r, row in enumerate(matrix)
        for u, v in enumerate(row)
        if v is not None
    ]
    return pl.DataFrame(rows)


def long_from_counts(counts: list[list[int]]) -> pl.DataFrame:
    """Fleiss' layout (subjects x categories: how many raters chose it) as a long frame."""
    rows = []
    for s, row in enumerate(counts):
        slot = 0
        for c, k in enumerate(row):
            for _ in range(k):
                rows.append({"item_id": f"s{s:02d}", "reviewer": f"r{slot}", "value": f"c{c}"})
                slot += 1
    return pl.DataFrame(rows)


def long_from_table(table: dict[tuple[str, str], int]) -> pl.DataFrame:
    """A two-rater contingency table as a long frame."""
    rows = []
    n = 0
    for (a, b), k in table.items():
        for _ in range(k):
            rows += [
                {"item_id": f"i{n:03d}", "reviewer": "A", "value": a},
                {"item_id": f"i{n:03d}", "reviewer": "B", "value": b},
            ]
            n += 1
    return pl.DataFrame(rows)


# -- published worked examples -----------------------------------------------------------------

# Krippendorff, K. (2011). "Computing Krippendorff's Alpha-Reliability", University of
# Pennsylvania, https://repository.upenn.edu/asc_papers/43, section C: four observers, twelve
# units, values 1-5, missing values. Reported: nominal .743, ordinal .815, interval .849.
KRIPPENDORFF_2011_C = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def test_krippendorff_2011_four_observers_with_missing_values() -> None:
    # Source: Krippendorff (2011), section C (see KRIPPENDORFF_2011_C).
    result = tm.agreement(long_from_matrix(KRIPPENDORFF_2011_C), n_boot=0)
    assert result.estimate("value", "alpha_nominal") == pytest.approx(0.743, abs=5e-4)
    assert result.estimate("value", "alpha_ordinal") == pytest.approx(0.815, abs=5e-4)
    assert result.estimate("value", "alpha_interval") == pytest.approx(0.849, abs=5e-4)
    row = result.summary.filter(pl.col("metric") == "alpha_nominal").row(0, named=True)
    # Unit 12 has a single value: not pairable, so 11 items count; 41 ratings in all.
    assert (row["n_items"], row["n_raters"], row["n_ratings"]) == (11, 4, 41)


def test_krippendorff_2011_binary_two_observers() -> None:
    # Source: Krippendorff (2011), section A, binary data, two observers, ten units:
    # alpha = 0.095.
    data = [[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]]
    result = tm.agreement(long_from_matrix(data), n_boot=0, levels=["nominal"])
    assert result.estimate("value", "alpha_nominal") == pytest.approx(0.095, abs=5e-4)
    # Percent agreement: the observers agree on units 2, 4, 5, 7, 8, 10.
    assert result.estimate("value", "percent_agreement") == pytest.approx(0.6)


def test_wikipedia_krippendorff_computational_example() -> None:
    # Source: Wikipedia, "Krippendorff's alpha", section "A computational example": three
    # coders, fifteen units, missing values; nominal alpha 0.691, interval alpha 0.811.
    star = None
    data = [
        [star, star, star, star, star, 3, 4, 1, 2, 1, 1, 3, 3, star, 3],
        [1, star, 2, 1, 3, 3, 4, 3, star, star, star, star, star, star, star],
        [star, star, 2, 1, 3, 4, 4, star, 2, 1, 1, 3, 3, star, 4],
    ]
    result = tm.agreement(long_from_matrix(data), n_boot=0)
    assert result.estimate("value", "alpha_nominal") == pytest.approx(0.691, abs=5e-4)
    assert result.estimate("value", "alpha_interval") == pytest.approx(0.811, abs=5e-4)


# Fleiss, J. L. (1971). "Measuring nominal scale agreement among many raters", Psychological
# Bulletin 76(5), 378-382, Table 1: 30 patients, 6 psychiatrists each, 5 diagnoses
# (depression, personality disorder, schizophrenia, neurosis, other). Reported kappa = .430.
FLEISS_1971 = [
    [0, 0, 0, 6, 0], [0, 3, 0, 0, 3], [0, 1, 4, 0, 1], [0, 0, 0, 0, 6], [0, 3, 0, 3, 0],
    [2, 0, 4, 0, 0], [0, 0, 4, 0, 2], [2, 0, 3, 1, 0], [2, 0, 0, 4, 0], [0, 0, 0, 0, 6],
    [1, 0, 0, 5, 0], [1, 1, 0, 4, 0], [0, 3, 3, 0, 0], [1, 0, 0, 5, 0], [0, 2, 0, 3, 1],
    [0, 0, 5, 0, 1], [3, 0, 0, 1, 2], [5, 1, 0, 0, 0], [0, 2, 0, 4, 0], [1, 0, 2, 0, 3],
    [0, 0, 0, 0, 6], [0, 1, 0, 5, 0], [0, 2, 0, 1, 3], [2, 0, 0, 4, 0], [1, 0, 0, 4, 1],
    [0, 5, 0, 1, 0], [4, 0, 0, 0, 2], [0, 2, 0, 4, 0], [1, 0, 5, 0, 0], [0, 0, 0, 0, 6],
]  # fmt: skip


def test_fleiss_1971_table_1() -> None:
    # Source: Fleiss (1971), Table 1 (see FLEISS_1971); kappa = .430. (The same data ship
    # as `diagnoses` in R's irr package, where kappam.fleiss gives 0.43.)
    assert all(sum(row) == 6 for row in FLEISS_1971)
    result = tm.agreement(long_from_counts(FLEISS_1971), n_boot=0)
    assert result.estimate("value", "fleiss_kappa") == pytest.approx(0.430, abs=5e-4)
    assert result.estimate("value", "cohen_kappa") is None  # six raters, not two


def test_wikipedia_fleiss_worked_example() -> None:
    # Source: Wikipedia, "Fleiss' kappa", section "Worked example": 10 subjects, 14 raters,
    # 5 categories. P-bar = 0.378, P-bar_e = 0.213, kappa = 0.210.
    counts = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]  # fmt: skip
    result = tm.agreement(long_from_counts(counts), n_boot=0)
    assert result.estimate("value", "fleiss_kappa") == pytest.approx(0.210, abs=5e-4)
    # Fleiss' P-bar is the mean share of agreeing pairs: the percent agreement here.
    assert result.estimate("value", "percent_agreement") == pytest.approx(0.378, abs=5e-4)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        # Source: Wikipedia, "Cohen's kappa", section "Simple example": 50 grant proposals,
        # two readers; yes/yes 20, A yes B no 5, A no B yes 10, no/no 15: p_o = 0.7,
        # p_e = 0.5, kappa = 0.4.
        ({("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 10, ("no", "no"): 15}, 0.4),
        # Same article, "Same percentages but different numbers": both tables have 60%
        # agreement; kappa 0.1304 and 0.2593.
        ({("yes", "yes"): 45, ("yes", "no"): 15, ("no", "yes"): 25, ("no", "no"): 15}, 0.1304),
        ({("yes", "yes"): 25, ("yes", "no"): 35, ("no", "yes"): 5, ("no", "no"): 35}, 0.2593),
    ],
)
def test_wikipedia_cohen_kappa_examples(table: dict[tuple[str, str], int], expected: float) -> None:
    result = tm.agreement(long_from_table(table), n_boot=0)
    assert result.estimate("value", "cohen_kappa") == pytest.approx(expected, abs=5e-5)
    agree = sum(k for (a, b), k in table.items() if a == b) / sum(table.values())
    assert result.estimate("value", "percent_agreement") == pytest.approx(agree)


# -- against a library and plain reference loops on random data --------------------------------


def random_matrix(rng: np.random.Generator, missing: float) -> np.ndarray:
    raters, units, values = rng.integers(2, 6), rng.integers(5, 60), rng.integers(2, 7)
    data = rng.integers(1, values + 1, size=(raters, units)).astype(float)
    data[rng.random(data.shape) < missing] = np.nan
    return data


def test_alpha_matches_krippendorff_package_on_random_data_with_missing_values() -> None:
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(150):
        data = random_matrix(rng, missing=rng.uniform(0.0, 0.5))
        if (np.sum(~np.isnan(data), axis=0) >= 2).sum() < 2:
            continue
        values = sorted(set(data[~np.isnan(data)].tolist()))
        if len(values) < 2:
            continue
        frame = long_from_matrix([[None if np.isnan(v) else v for v in row] for row in data])
        result = tm.agreement(frame, n_boot=0)
        for level in ("nominal", "ordinal", "interval"):
            expected = krippendorff.alpha(
                reliability_data=data, level_of_measurement=level, value_domain=values
            )
            got = result.estimate("value", f"alpha_{level}")
            if np.isnan(expected):
                assert got is None
            else:
                assert got == pytest.approx(expected, abs=1e-9), (level, data.tolist())
        checked += 1
    assert checked > 100


def reference_fleiss(units: list[list[str]]) -> float:
    """Fleiss' kappa by explicit loops (units with >= 2 ratings; unequal counts allowed)."""
    cats = sorted({v for u in units for v in u})
    p_items, totals, n_all = [], dict.fromkeys(cats, 0), 0
    for u in units:
        m = len(u)
        agree_pairs = sum(1 for a, b in itertools.permutations(range(m), 2) if u[a] == u[b])
        p_items.append(agree_pairs / (m * (m - 1)))
        for v in u:
            totals[v] += 1
            n_all += 1
    p_bar = sum(p_items) / len(p_items)
    p_e = sum((totals[c] / n_all) ** 2 for c in cats)
    return (p_bar - p_e) / (1 - p_e)


def reference_cohen(pairs: list[tuple[str, str]]) -> float:
    n = len(pairs)
    cats = sorted({v for p in pairs for v in p})
    p_o = sum(a == b for a, b in pairs) / n
    p_e = sum(
        (sum(a == c for a, _ in pairs) / n) * (sum(b == c for _, b in pairs) / n) for c in cats
    )
    return (p_o - p_e) / (1 - p_e)


def test_kappas_and_percent_agreement_match_reference_loops_with_missing_values() -> None:
    rng = np.random.default_rng(11)
    for trial in range(60):
        data = random_matrix(rng, missing=0.3)
        letters = np.array(list("abcdefg"))
        frame = long_from_matrix(
            [[None if np.isnan(v) else str(letters[int(v) - 1]) for v in row] for row in data]
        )
        units = [
            [str(letters[int(v) - 1]) for v in data[:, u] if not np.isnan(v)]
            for u in range(data.shape[1])
        ]
        units = [u for u in units if len(u) >= 2]
        if len(units) < 2 or len({v for u in units for v in u}) < 2:
            continue
        result = tm.agreement(frame, n_boot=0)
        expected_pa = np.mean(
            [
                sum(u[a] == u[b] for a, b in itertools.permutations(range(len(u)), 2))
                / (len(u) * (len(u) - 1))
                for u in units
            ]
        )
        assert result.estimate("value", "percent_agreement") == pytest.approx(expected_pa)
        assert result.estimate("value", "fleiss_kappa") == pytest.approx(reference_fleiss(units))
        if data.shape[0] == 2:
            pairs = [
                (str(letters[int(a) - 1]), str(letters[int(b) - 1]))
                for a, b in data.T
                if not (np.isnan(a) or np.isnan(b))
            ]
            expected = reference_cohen(pairs)
            got = result.estimate("value", "cohen_kappa")
            assert got == pytest.approx(expected), trial


# -- bootstrap confidence intervals -------------------------------------------------------------


def test_bootstrap_interval_equals_resampling_items_and_recomputing() -> None:
    """The vectorized replicates equal alpha recomputed on actually resampled items."""
    frame = long_from_matrix(KRIPPENDORFF_2011_C)
    n_boot, seed = 300, 5
    result = tm.agreement(frame, n_boot=n_boot, seed=seed, confidence=0.9)
    data = np.array([[np.nan if v is None else v for v in row] for row in KRIPPENDORFF_2011_C])
    # Pairable items in their sorted-id order (the order the weights refer to).
    pairable = data[:, np.sum(~np.isnan(data), axis=0) >= 2]
    reps = {"nominal": [], "interval": []}
    for weights in rel.bootstrap_weights(pairable.shape[1], n_boot, seed):
        for w in weights:
            resampled = np.repeat(pairable, w.astype(int), axis=1)
            for level in reps:
                try:
                    reps[level].append(
                        krippendorff.alpha(reliability_data=resampled, level_of_measurement=level)
                    )
                except ValueError:  # one value only in this resample: alpha undefined
                    reps[level].append(np.nan)
    for level, values in reps.items():
        arr = np.array(values)
        arr = arr[np.isfinite(arr)]
        lo, hi = np.percentile(arr, [5, 95])
        row = result.summary.filter(pl.col("metric") == f"alpha_{level}").row(0, named=True)
        assert row["ci_low"] == pytest.approx(lo, abs=1e-9)
        assert row["ci_high"] == pytest.approx(hi, abs=1e-9)
        assert row["ci_low"] <= row["estimate"] <= row["ci_high"]


def test_bootstrap_is_seeded_and_narrows_with_more_items() -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 400)

    def frame(n: int) -> pl.DataFrame:
        rows = []
        for i in range(n):
            for r in range(3):
                v = truth[i] if rng.random() < 0.8 else rng.integers(0, 3)
                rows.append({"item_id": f"i{i}", "reviewer": f"r{r}", "value": f"v{v}"})
        return pl.DataFrame(rows)

    small, large = frame(40), frame(400)
    a = tm.agreement(small, seed=1, n_boot=400).summary
    b = tm.agreement(small, seed=1, n_boot=400).summary
    c = tm.agreement(small, seed=2, n_boot=400).summary
    assert a.equals(b)
    assert not a.equals(c)
    width = pl.col("ci_high") - pl.col("ci_low")
    w_small = tm.agreement(small, n_boot=400).summary.filter(pl.col("metric") == "fleiss_kappa")
    w_large = tm.agreement(large, n_boot=400).summary.filter(pl.col("metric") == "fleiss_kappa")
    assert w_large.select(width).item() < w_small.select(width).item()


# -- the queue.labels() frame as it is ----------------------------------------------------------


def test_queue_labels_frame_every_label_type_and_disagreements_back_to_a_queue() -> None:
    rows = []
    votes = {  # item -> (alice, bob) for each label
        "t1": ("helpful", "helpful", 4, 4, True, True, ["tone_mismatch"], ["tone_mismatch"]),
        "t2": ("helpful", "unhelpful", 2, 5, True, False, [], ["overly_verbose"]),
        "t3": ("unhelpful", "unhelpful", 1, 2, False, False, ["wrong_tool_use"], []),
        "t4/s9": ("helpful", "helpful", 3, 3, True, True, [], []),
    }
    for item, (qa, qb, sa, sb, ba, bb, ma, mb) in votes.items():
        for who, q, s, b, m in (("alice", qa, sa, ba, ma), ("bob", qb, sb, bb, mb)):
            rows += [
                {"item_id": item, "reviewer": who, "label": "quality",
                 "label_type": "categorical", "value": q},
                {"item_id": item, "reviewer": who, "label": "stars", "label_type": "score",
                 "value": s},
                {"item_id": item, "reviewer": who, "label": "ok", "label_type": "boolean",
                 "value": b},
                {"item_id": item, "reviewer": who, "label": "modes",
                 "label_type": "categorical", "value": m},
                {"item_id": item, "reviewer": who, "label": "note", "label_type": "text",
                 "value": f"{who} on {item}"},
            ]  # fmt: skip
    rows[-1]["span_id"] = "s9"
    labels = queue_labels(rows).with_columns(
        span_id=pl.when(pl.col("item_id") == "t4/s9").then(pl.lit("s9")),
        trace_id=pl.col("item_id").str.split("/").list.first(),
    )
    result = tm.agreement(labels, n_boot=50)
    table = result.table()
    assert set(table.get_column("label")) == {"quality", "stars", "ok", "modes"}  # text skipped
    assert any("note" in n for n in result.notes)
    # quality: agree on 3 of 4 items.
    assert result.estimate("quality", "percent_agreement") == pytest.approx(0.75)
    assert result.estimate("quality", "cohen_kappa") == pytest.approx(
        reference_cohen([("helpful", "helpful"), ("helpful", "unhelpful"),
                         ("unhelpful", "unhelpful"), ("helpful", "helpful")])
    )  # fmt: skip
    # A score is numeric: all three alpha levels, equal to the krippendorff package.
    stars = np.array([[4, 2, 1, 3], [4, 5, 2, 3]], dtype=float)
    for level in ("nominal", "ordinal", "interval"):
        assert result.estimate("stars", f"alpha_{level}") == pytest.approx(
            krippendorff.alpha(reliability_data=stars, level_of_measurement=level)
        )
    # Multi-label: the whole set and each category on its own.
    assert result.estimate("modes", "percent_agreement") == pytest.approx(0.5)
    assert result.estimate("modes", "percent_agreement", "tone_mismatch") == pytest.approx(1.0)
    assert result.estimate("modes", "percent_agreement", "overly_verbose") == pytest.approx(0.75)
    # Disagreements: exactly the items that differ, per label, with queue-ready ids.
    dis = result.disagreements
    got = {(r["label"], r["item_id"]) for r in dis.iter_rows(named=True)}
    assert got == {
        ("quality", "t2"), ("stars", "t2"), ("stars", "t3"), ("ok", "t2"),
        ("modes", "t2"), ("modes", "t3"),
    }  # fmt: skip
    assert dis.schema["trace_id"] == pl.String and dis.get_column("trace_id").null_count() == 0
    t2 = dis.filter((pl.col("label") == "modes") & (pl.col("item_id") == "t2")).row(0, named=True)
    assert t2["raters"] == ["alice", "bob"]
    assert t2["values"] == ["[]", '["overly_verbose"]']
    assert t2["disputed"] == ["overly_verbose"]
    assert t2["majority"] is None  # one vote each
    stars_t2 = dis.filter((pl.col("label") == "stars") & (pl.col("item_id") == "t2"))
    assert stars_t2.item(0, "spread") == 3.0
    # tolerance: the stars of t3 (1 vs 2) are close enough at tolerance 1.
    loose = tm.agreement(labels, "stars", n_boot=0, tolerance=1.0).disagreements
    assert loose.get_column("item_id").to_list() == ["t2"]


def test_a_real_queue_labels_frame_and_disagreements_sent_back_for_adjudication(
    tmp_path: Path,
) -> None:
    """Two reviewers label through the store's queue API; agreement reads queue.labels() as
    it is, and the disagreements (trace and span items mixed) go to an adjudication queue."""
    from tracemark.labels import Boolean, Categorical, LabelSchema, Score, Text
    from tracemark.store import Store

    schema = LabelSchema(
        [
            Categorical("modes", ["hallucinated_reference", "overly_verbose", "tone_mismatch"],
                        multiple=True),
            Categorical("verdict", ["good", "bad"]),
            Score("stars", min=1, max=5, integer=True),
            Boolean("ok"),
            Text("notes"),
        ]
    )  # fmt: skip
    store = Store(tmp_path / "store", writer="test")
    queue = store.queue("review", schema=schema, reviewers_per_item=2)
    queue.add(["t1", "t2", "t3"])
    queue.add(pl.DataFrame({"trace_id": ["t4"], "span_id": ["s1"]}))
    answers = {
        "alice": {
            "t1": (["hallucinated_reference"], "bad", 2, False),
            "t2": ([], "good", 5, True),
            "t3": (["overly_verbose"], "good", 4, True),
            "t4/s1": (["tone_mismatch"], "bad", 1, False),
        },
        "bob": {
            "t1": (["hallucinated_reference", "tone_mismatch"], "bad", 2, False),
            "t2": ([], "good", 4, True),
            "t3": (["overly_verbose"], "bad", 4, True),
            "t4/s1": (["tone_mismatch"], "good", 3, False),
        },
    }
    for reviewer, per_item in answers.items():
        while (item := queue.next(reviewer)) is not None:
            modes, verdict, stars, ok = per_item[item.item_id]
            values = {"modes": modes, "verdict": verdict, "stars": stars, "ok": ok,
                      "notes": f"{reviewer} was here"}  # fmt: skip
            queue.label(item, reviewer, values, submit=True)
    labels = queue.labels()
    result = tm.agreement(labels, n_boot=100)
    assert tm.agreement(queue, n_boot=100).summary.equals(result.summary)  # a queue works too
    assert set(result.summary.get_column("label")) == {"modes", "verdict", "stars", "ok"}
    assert result.estimate("verdict", "percent_agreement") == pytest.approx(0.5)
    assert result.estimate("ok", "percent_agreement") == 1.0
    stars = np.array([[2, 5, 4, 1], [2, 4, 4, 3]], dtype=float)  # items sorted: t1 t2 t3 t4/s1
    assert result.estimate("stars", "alpha_interval") == pytest.approx(
        krippendorff.alpha(reliability_data=stars, level_of_measurement="interval")
    )
    assert result.estimate("modes", "percent_agreement", "tone_mismatch") == pytest.approx(0.75)
    disputed = set(result.disagreements.get_column("item_id"))
    assert disputed == {"t1", "t2", "t3", "t4/s1"}
    assert set(result.disagreements.filter(pl.col("label") == "verdict").get_column("item_id")) == {
        "t3", "t4/s1"
    }  # fmt: skip
    adjudicate = store.queue("adjudicate", schema=schema)
    assert result.send_to(adjudicate) == 4
    assert result.send_to(adjudicate) == 0  # once each
    items = adjudicate.items().sort("item_id")
    assert items.select("item_id", "kind").rows() == [
        ("t1", "trace"), ("t2", "trace"), ("t3", "trace"), ("t4/s1", "span")
    ]  # fmt: skip
    assert set(items.get_column("source")) == {"agreement"}


def test_span_and_session_items_get_ids_from_the_item_id_convention() -> None:
    frame = pl.DataFrame(
        {
            "item_id": ["t1/s1", "t1/s1", "session:abc", "session:abc"],
            "reviewer": ["a", "b", "a", "b"],
            "value": ["x", "y", "x", "z"],
        }
    )
    dis = tm.agreement(frame, n_boot=0).disagreements.sort("item_id")
    assert dis.select("item_id", "trace_id", "span_id", "session_id").rows() == [
        ("session:abc", None, None, "abc"),
        ("t1/s1", "t1", "s1", None),
    ]


def test_generic_columns_missing_values_and_one_label() -> None:
    frame = pl.DataFrame(
        {
            "conversation": ["c1", "c1", "c2", "c2", "c3", "c3", "c4"],
            "annotator": ["x", "y", "x", "y", "x", "y", "x"],
            "rating": [3.0, 3.0, 1.0, None, 2.0, 4.0, 5.0],
        }
    )
    result = tm.agreement(frame, item="conversation", rater="annotator", value="rating", n_boot=0)
    # c2 has a missing value and c4 one rating: only c1 and c3 are pairable.
    assert result.summary.get_column("n_items").unique().to_list() == [2]
    assert result.summary.get_column("label").unique().to_list() == ["rating"]
    assert result.disagreements.get_column("trace_id").to_list() == ["c3"]


def test_boolean_column_and_order_for_categorical_ordinal_alpha() -> None:
    frame = pl.DataFrame(
        {
            "item_id": ["a", "a", "b", "b", "c", "c", "d", "d"],
            "reviewer": ["p", "q"] * 4,
            "value": ["low", "mid", "high", "high", "low", "low", "mid", "high"],
        }
    )
    with pytest.raises(ValueError, match="order="):
        tm.agreement(frame, levels=["ordinal"], n_boot=0)
    result = tm.agreement(frame, order={"value": ["low", "mid", "high"]}, n_boot=0)
    data = np.array([[0, 2, 0, 1], [1, 2, 0, 2]], dtype=float)
    assert result.estimate("value", "alpha_ordinal") == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")
    )
    flags = pl.DataFrame(
        {
            "item_id": ["a", "a", "b", "b"],
            "reviewer": ["p", "q"] * 2,
            "value": [True, True, False, True],
        }
    )
    assert tm.agreement(flags, n_boot=0).estimate("value", "percent_agreement") == 0.5


def test_clear_errors() -> None:
    dup = pl.DataFrame({"item_id": ["a", "a"], "reviewer": ["p", "p"], "value": ["x", "y"]})
    with pytest.raises(ValueError, match=r"more than one row.*'a'.*'p'"):
        tm.agreement(dup)
    with pytest.raises(ValueError, match="no column 'reviewer'"):
        tm.agreement(pl.DataFrame({"item_id": ["a"], "value": ["x"]}))
    with pytest.raises(ValueError, match="no label named 'nope'"):
        tm.agreement(long_from_matrix([[1, 2], [1, 2]]), "nope")
    text = pl.DataFrame(
        {"item_id": ["a", "a"], "reviewer": ["p", "q"], "label": ["n", "n"],
         "label_type": ["text"] * 2, "value": ["x", "y"], "value_num": [None, None],
         "value_list": [None, None]}
    )  # fmt: skip
    with pytest.raises(ValueError, match="free text"):
        tm.agreement(text, "n")
    with pytest.raises(TypeError, match="labels frame"):
        tm.agreement([1, 2, 3])


def test_undefined_coefficients_are_null_not_nan() -> None:
    same = pl.DataFrame({"item_id": ["a", "a", "b", "b"], "reviewer": ["p", "q"] * 2,
                         "value": ["x"] * 4})  # fmt: skip
    result = tm.agreement(same, n_boot=20)
    assert result.estimate("value", "percent_agreement") == 1.0
    assert result.estimate("value", "alpha_nominal") is None
    assert result.summary.get_column("estimate").is_nan().sum() == 0


def test_chart_validates_and_html_summary() -> None:
    result = tm.agreement(long_from_matrix(KRIPPENDORFF_2011_C), n_boot=100)
    chart = result.chart()
    assert isinstance(chart, alt.TopLevelMixin)
    spec = chart.to_dict()  # validates against the Vega-Lite schema
    assert "layer" in spec
    assert vl_convert.vegalite_to_svg(spec).startswith("<svg")  # and renders in Vega
    html = result._repr_html_()
    assert "alpha_interval" in html and "0.849" in html
    assert "send_to(queue)" in html


def test_many_items_run_vectorized() -> None:
    """20,000 items x 3 raters x 5 values with 1,000 resamples: no loop over items."""
    rng = np.random.default_rng(0)
    n = 20_000
    truth = rng.integers(1, 6, n)
    noisy = np.where(rng.random((3, n)) < 0.7, truth, rng.integers(1, 6, (3, n)))
    frame = pl.DataFrame(
        {
            "item_id": np.tile(np.arange(n).astype(str), 3),
            "reviewer": np.repeat(["a", "b", "c"], n),
            "value": noisy.reshape(-1),
        }
    )
    result = tm.agreement(frame, n_boot=1000)
    expected = krippendorff.alpha(
        reliability_data=noisy.astype(float), level_of_measurement="interval"
    )
    row = result.summary.filter(pl.col("metric") == "alpha_interval").row(0, named=True)
    assert row["estimate"] == pytest.approx(expected)
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    assert row["ci_high"] - row["ci_low"] < 0.03


def test_ordinal_alpha_two_computations_agree_with_each_other_and_the_package() -> None:
    """Coincidence matrices (few values) and mid-rank moments (many values) give the same
    point estimate and the same bootstrap replicates; both match the krippendorff package."""
    rng = np.random.default_rng(21)
    data = rng.integers(0, 40, size=(4, 80)).astype(float)
    data[rng.random(data.shape) < 0.25] = np.nan
    pairable = data[:, np.sum(~np.isnan(data), axis=0) >= 2]
    values = np.unique(pairable[~np.isnan(pairable)])
    code = {v: i for i, v in enumerate(values)}
    units, codes = zip(
        *[(u, code[v]) for r in pairable for u, v in enumerate(r) if not np.isnan(v)], strict=True
    )
    counts = rel.unit_counts(np.array(units), np.array(codes), pairable.shape[1], len(values))
    ones = np.ones((1, counts.shape[0]))
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")
    for method in ("coincidence", "positions"):
        assert rel.alpha_ordinal(counts, ones, method=method)[0] == pytest.approx(expected)
    weights = next(rel.bootstrap_weights(counts.shape[0], 50, seed=3))
    np.testing.assert_allclose(
        rel.alpha_ordinal(counts, weights, method="coincidence"),
        rel.alpha_ordinal(counts, weights, method="positions"),
    )
