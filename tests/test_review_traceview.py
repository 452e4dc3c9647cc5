"""TraceView without a front end: state, and the commands a browser would send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import polars as pl
import pytest

from _support import call
from tracemark.model import Traces
from tracemark.review.payload import previews
from tracemark.review.sample import sample_trace
from tracemark.review.widget import TraceView


def shown(widget: Any) -> dict[str, Any]:
    return orjson.loads(widget.payload)


@pytest.fixture
def traces() -> Traces:
    t0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    return Traces.concat(
        [sample_trace(8 + i, seed=i, start=t0 + timedelta(minutes=i)) for i in range(7)]
    )


def test_state_holds_the_list_and_only_the_current_trace(traces: Traces) -> None:
    view = TraceView(traces, page_size=5)
    assert view.mode == "view"
    assert view.listing["total"] == 7
    assert len(view.listing["rows"]) == 5
    first = traces.trace_ids[0]
    assert view.listing["current"] == first
    p = shown(view)
    assert p["trace"]["trace_id"] == first
    assert set(p["spans"]["id"]) == set(
        traces.spans.filter(pl.col("trace_id") == first).get_column("span_id")
    )
    assert p["item"] == {
        "trace_id": first,
        "index": 0,
        "count": 7,
        "has_prev": False,
        "has_next": True,
    }
    assert view.get_state()["payload"] == view.payload


def test_next_previous_and_open(traces: Traces) -> None:
    view = TraceView(traces)
    ids = traces.trace_ids
    assert call(view, "go", {"to": "prev"}) == {
        "ok": False,
        "error": "no more traces in this direction",
    }
    assert call(view, "go", {"to": "next"}) == {"ok": True}
    assert shown(view)["trace"]["trace_id"] == ids[1]
    assert call(view, "open_trace", {"trace_id": ids[6]}) == {"ok": True}
    assert shown(view)["item"]["has_next"] is False
    assert call(view, "go", {"to": "next"})["ok"] is False
    assert call(view, "open_trace", {"trace_id": "nope"})["error"].startswith("PayloadError")
    assert call(view, "go", {"to": "sideways"})["ok"] is False


def test_rules_filter_the_list(traces: Traces) -> None:
    errors = traces.traces.filter(pl.col("error_count") > 0).get_column("trace_id").to_list()
    assert 0 < len(errors) < 7
    view = TraceView(traces)
    assert call(view, "apply_filter", {"rule": "error_count > 0"}) == {
        "ok": True,
        "total": len(errors),
    }
    assert [r["trace_id"] for r in view.listing["rows"]] == errors
    assert view.listing["rule"] == "error_count > 0"
    assert shown(view)["trace"]["trace_id"] == errors[0]
    # a bad rule keeps the list and says where the problem is
    reply = call(view, "apply_filter", {"rule": "eror_count > 0"})
    assert reply["ok"] is False
    assert "error_count" in view.listing["error"]  # the suggestion
    assert view.listing["total"] == len(errors)
    # an empty rule shows everything again
    assert call(view, "apply_filter", {"rule": ""})["total"] == 7


def test_a_polars_expression_filters_too(traces: Traces) -> None:
    view = TraceView(traces, pl.col("n_spans") >= 12)
    assert view.listing["total"] == 3
    assert all(r["n_spans"] >= 12 for r in view.listing["rows"])
    empty = TraceView(traces, pl.col("n_spans") > 1000)
    assert empty.payload == b""
    assert empty.status["state"] == "empty"


def test_paging(traces: Traces) -> None:
    view = TraceView(traces, page_size=3)
    assert call(view, "page", {"offset": 3}) == {"ok": True}
    assert [r["trace_id"] for r in view.listing["rows"]] == traces.trace_ids[3:6]
    # opening a trace on another page moves the page to it
    call(view, "open_trace", {"trace_id": traces.trace_ids[6]})
    assert view.listing["offset"] == 6


def test_full_texts_and_span_details_on_demand() -> None:
    traces = sample_trace(300, seed=4, long_text_chars=8000)
    view = TraceView(traces, preview_chars=200, detail_budget=20_000)
    p = shown(view)
    missing = p["details"].index(None)
    reply = call(view, "span", {"position": missing, "payload_id": p["payload_id"]})
    assert reply["ok"] and reply["detail"]["position"] == missing
    window = call(view, "span", {"position": missing, "count": 30, "payload_id": p["payload_id"]})
    assert [d["position"] for d in window["details"]] == list(range(missing, missing + 30))
    assert window["details"][0] == reply["detail"]
    ref, preview, length = next(c for c in previews(p) if "documents" in c[0])
    reply = call(view, "text", {"ref": ref, "payload_id": p["payload_id"]})
    assert reply["ok"] and len(reply["text"]) == length
    assert reply["text"].startswith(preview)
    # an answer for a trace no longer on screen is refused, not wrong
    stale = call(view, "text", {"ref": ref, "payload_id": "old"})
    assert stale["ok"] is False and "changed" in stale["error"]
    bad = call(view, "text", {"ref": ["s", 10**6, "input"], "payload_id": p["payload_id"]})
    assert bad["ok"] is False and "does not point at a text" in bad["error"]


def test_bad_arguments_are_refused_clearly(traces: Traces) -> None:
    with pytest.raises(TypeError, match=r"tracemark\.Traces"):
        TraceView(traces.traces)  # type: ignore[arg-type]
    from tracemark.rules import RuleError

    with pytest.raises(RuleError):
        TraceView(traces, "duration_ms >")
