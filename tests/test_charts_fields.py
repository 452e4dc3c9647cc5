"""Charts grouped by a column whose name has dots (``metadata.app_version``,
``eval.relevance.label``) show its values, rendered for real by Vega (vl-convert), and a preview
chart uses the mimetype renderer (charts render in JupyterLab offline)."""

from __future__ import annotations

import subprocess
import sys

import altair as alt
import polars as pl
import vl_convert

import tracemark as tm
from tracemark.analysis import charts


def _labels(traces: tm.Traces) -> pl.DataFrame:
    sim = tm.demo.simulated_labels(traces, "ada", miss_rate=0, false_alarm_rate=0)
    return sim.select(
        item_id="trace_id",
        trace_id="trace_id",
        reviewer="reviewer",
        label=pl.lit("failure_modes"),
        value=pl.col("failure_modes").list.join(","),
        value_list="failure_modes",
        label_type=pl.lit("categorical"),
    )


def test_failure_modes_by_a_dotted_column_show_its_values() -> None:
    traces = tm.demo.generate(400, seed=3)
    labels = _labels(traces)
    for by, expected in (
        ("metadata.app_version", {"2.3.0", "2.3.1", "2.4.0"}),
        ("eval.relevance.label", {"relevant", "irrelevant"}),
    ):
        counts = tm.failure_mode_counts(labels, traces, by=by)
        assert set(counts[by].drop_nulls()) == expected
        svg = vl_convert.vegalite_to_svg(charts.failure_modes_chart(counts, by=by).to_dict())
        for value in expected:
            assert f">{value}<" in svg, (by, value)
        assert "undefined" not in svg, by
    # plain names still work as before
    counts = tm.failure_mode_counts(labels, traces, by="reviewer")
    svg = vl_convert.vegalite_to_svg(charts.failure_modes_chart(counts, by="reviewer").to_dict())
    assert ">ada<" in svg


def test_a_preview_chart_selects_the_mimetype_renderer() -> None:
    # in a fresh process, where nothing imported tracemark.analysis.charts before
    code = (
        "import tracemark as tm, altair as alt\n"
        "t = tm.demo.generate(50, seed=1)\n"
        "a = tm.Automation('x', when='true', sample=0.5, to='queue:q')\n"
        "chart = a.preview(t).chart()\n"
        "print(alt.renderers.active, type(chart).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.split() == ["mimetype", "Chart"]
    assert alt.renderers.active != "default"  # this process imported the charts module too
