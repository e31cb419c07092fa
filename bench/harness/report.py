"""Medians over rounds (or slices), the ratios against each reference, the table and the JSON."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.cells import UPSTREAM_DELAY, Cell
from harness.load import Sample

REFERENCES = ("quart", "fastapi", "stock")


def median_sample(samples: list[Sample]) -> dict[str, Any]:
    return {
        "rps": statistics.median(s.rps for s in samples),
        "p50_ms": statistics.median(s.p50_ms for s in samples),
        "p99_ms": statistics.median(s.p99_ms for s in samples),
        "errors": sum(s.errors for s in samples),
        "peak_rss_mb": max(s.peak_rss_mb for s in samples),
        "cpu_us_per_request": statistics.median(s.cpu_us_per_request for s in samples),
        "server_cpu_percent": statistics.median(s.server_cpu_percent for s in samples),
        "upstream_cpu_percent": statistics.median(s.upstream_cpu_percent for s in samples),
    }


def summarize(
    samples: dict[str, dict[str, list[Sample]]], cells: list[Cell], variants: list[str]
) -> dict[str, Any]:
    """Per cell: each variant's medians, baked/<reference> ratios (and each round's own)."""
    table: dict[str, Any] = {}
    for cell in cells:
        row: dict[str, Any] = {"connections": cell.connections}
        for variant in variants:
            row[variant] = median_sample(samples[variant][cell.name])
        baked = row.get("baked", {}).get("rps")
        for other in REFERENCES:
            if baked is not None and other in row and row[other]["rps"] > 0:
                row[f"baked/{other}"] = baked / row[other]["rps"]
                # Each round's own ratio: how far one round can stray on this machine.
                pairs = zip(samples["baked"][cell.name], samples[other][cell.name], strict=True)
                row[f"baked/{other} by round"] = [b.rps / o.rps for b, o in pairs if o.rps > 0]
        if cell.upstream and baked is not None:
            row["baked/limit"] = baked / (cell.connections / UPSTREAM_DELAY)
        table[cell.name] = row
    return table


def print_table(table: dict[str, Any], variants: list[str], unit: str = "rounds") -> None:
    header = (
        f"{'cell':<7}{'conns':>6}  {'variant':<8}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'RSS MB':>8}{'CPU µs/req':>11}{'CPU %':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, row in table.items():
        for index, variant in enumerate(variants):
            m = row[variant]
            lead = f"{name:<7}{row['connections']:>6}" if index == 0 else " " * 13
            print(
                f"{lead}  {variant:<8}{m['rps']:>8.0f}{m['p50_ms']:>9.1f}{m['p99_ms']:>9.1f}"
                f"{m['errors']:>8}{m['peak_rss_mb']:>8.0f}{m['cpu_us_per_request']:>11.0f}"
                f"{m['server_cpu_percent']:>7.0f}"
            )
        keys = [f"baked/{other}" for other in REFERENCES] + ["baked/limit"]
        ratios = [
            f"{key} {row[key]:.2f}{_spread(row.get(key + ' by round', []), unit)}"
            for key in keys
            if key in row
        ]
        if ratios:
            print(" " * 15 + "ratios: " + ", ".join(ratios))
    print()


def _spread(ratios: list[float], unit: str = "rounds") -> str:
    """`` (rounds 0.84-1.04)`` for two rounds or more: the spread the median hides.

    With many slices (``--paired``) the median of the slices' own ratios is added: a pair of
    slices shares the machine's state, so that median is the steadier estimate.
    """
    if len(ratios) < 2:
        return ""
    median = f", median {statistics.median(ratios):.2f}" if unit == "slices" else ""
    return f" ({unit} {min(ratios):.2f}-{max(ratios):.2f}{median})"


def write(results: Path, label: str, document: dict[str, Any]) -> Path:
    """The run as JSON under ``results``, named by its UTC time and ``label``."""
    results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = results / f"{stamp}{'-' + label if label else ''}.json"
    path.write_text(json.dumps(document, indent=1, default=str) + "\n")
    return path


def as_json(samples: dict[str, dict[str, list[Sample]]]) -> dict[str, Any]:
    return {
        v: {c: [asdict(s) for s in runs] for c, runs in by_cell.items()}
        for v, by_cell in samples.items()
    }
