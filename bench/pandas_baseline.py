"""The pandas baseline of bench/ingest.py: OTLP JSON Lines flattened the way people write it
by hand (``json.loads`` per line, a dict per span with its attributes, ``pd.json_normalize``).

Run on its own (``python bench/pandas_baseline.py [--quick] [FILE]``) it times itself on FILE,
or on a demo file it writes; its last line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd


def any_value(value: dict[str, Any]) -> Any:
    """An OTLP ``AnyValue`` as a plain value (the first field set)."""
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return value["boolValue"]
    if "arrayValue" in value:
        return [any_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return {kv["key"]: any_value(kv["value"]) for kv in value["kvlistValue"].get("values", [])}
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def attributes(key_values: list[dict[str, Any]]) -> dict[str, Any]:
    """A list of ``KeyValue`` as a dict."""
    return {kv["key"]: any_value(kv.get("value", {})) for kv in key_values}


def load_pandas(path: str | Path) -> pd.DataFrame:
    """One row per span: the span's fields, ``attributes.<key>`` columns (json_normalize),
    the resource's ``service.name``, start and end times as datetimes."""
    records: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            request = json.loads(line)
            for rs in request.get("resourceSpans", []):
                resource = attributes(rs.get("resource", {}).get("attributes", []))
                for ss in rs.get("scopeSpans", []):
                    for span in ss.get("spans", []):
                        record = {
                            k: v for k, v in span.items() if k not in ("attributes", "events")
                        }
                        record["attributes"] = attributes(span.get("attributes", []))
                        record["events"] = span.get("events", [])
                        record["service.name"] = resource.get("service.name")
                        records.append(record)
    frame = pd.json_normalize(records, max_level=1)
    for column in ("startTimeUnixNano", "endTimeUnixNano"):
        frame[column] = pd.to_datetime(frame[column].astype("int64"), unit="ns", utc=True)
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", help="OTLP JSON Lines file (default: a demo file)")
    parser.add_argument("--quick", action="store_true", help="a small demo file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.file) if args.file else None
        if path is None:
            import tracemark.demo

            path = Path(tmp) / "otlp.jsonl"
            tracemark.demo.write_otlp(
                tracemark.demo.generate(300 if args.quick else 3000, seed=0), path
            )
        start = time.perf_counter()
        frame = load_pandas(path)
        seconds = time.perf_counter() - start
        size = path.stat().st_size
        figures = {
            "bench": "pandas_baseline",
            "file_mib": round(size / 2**20, 2),
            "spans": len(frame),
            "columns": frame.shape[1],
            "seconds": round(seconds, 3),
            "mib_per_s": round(size / 2**20 / seconds, 2),
        }
        print(f"pandas: {len(frame):,} spans, {frame.shape[1]} columns in {seconds:.2f} s")
        print(json.dumps(figures))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
