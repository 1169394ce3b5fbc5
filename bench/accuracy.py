"""Accuracy benchmark: the untrained base vs the fine-tuned exports on the held-out split, per metric.

    .venv/bin/python -m bench.accuracy [--project demo-project]

It runs (or finishes, or reuses) the demo journey in the project folder — generate with the
embedded teacher, LoRA on the embedded Gemma 3 270M, export GGUF q8_0 and ONNX int4, evaluate
each through the on-device runtime — then prints every metric side by side with the change
from the base, and writes bench/results/accuracy.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results" / "accuracy.json"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path("demo-project"))
    args = parser.parse_args(argv)

    from edgefabric.app.journey import load_reports, run_journey

    started = time.perf_counter()
    result = run_journey(args.project)
    reports = load_reports(result)
    base = reports[0][1]
    metrics = [*dict.fromkeys(k for _, r in reports for k in r.metrics), "overall"]

    def value(report: Any, name: str) -> float | None:
        return report.overall if name == "overall" else report.metrics.get(name)

    table = Table(title=f"accuracy on {base.n} held-out case(s) (fine-tuned minus base in brackets)")
    table.add_column("metric")
    for label, _ in reports:
        table.add_column(label, justify="right")
    for name in metrics:
        cells = [_pct(value(base, name))]
        for _, report in reports[1:]:
            now, before = value(report, name), value(base, name)
            delta = f" ({now - before:+.1%})" if now is not None and before is not None else ""
            passed_of = report.counts.get(name)
            count = f" {passed_of[0]}/{passed_of[1]}" if passed_of and passed_of[1] else ""
            cells.append(_pct(now) + count + delta)
        table.add_row(name, *cells)
    table.add_row("no-call baseline", *(_pct(r.baseline.get("overall")) for _, r in reports), style="dim")
    perf = [
        "tokens_per_s",
        "total_p50_s",
        "time_to_first_call_p50_s",
        "peak_rss_mb",
    ]  # keys of scoring.performance_metrics
    for name in perf:
        table.add_row(
            name, *("n/a" if r.performance.get(name) is None else f"{r.performance[name]:.2f}" for _, r in reports)
        )
    Console().print(table)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "accuracy",
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "project": str(result.project),
        "cases": base.n,
        "steps_seconds": result.seconds,
        "kept_steps": result.skipped,
        "models": [
            {
                "label": label,
                "model": report.model,
                "backend": report.backend,
                "metrics": report.metrics,
                "overall": report.overall,
                "counts": report.counts,
                "no_call_baseline": report.baseline.get("overall"),
                "summary": report.summary,
                "performance": report.performance,
            }
            for label, report in reports
        ],
        "seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
