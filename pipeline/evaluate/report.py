"""Eval reports on disk (JSON) and on screen (rich tables), and several reports side by side."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from edgefabric.errors import EdgeFabricError
from edgefabric.pipeline.evaluate.runner import EvalReport
from edgefabric.pipeline.evaluate.scoring import METRICS


def save_report(report: EvalReport, path: Path) -> Path:
    """Write through a temporary file so a kill never leaves half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


def load_report(path: Path) -> EvalReport:
    if not path.exists():
        raise EdgeFabricError(f"eval report {path} does not exist", "run `edgefabric eval` first, or check the path")
    try:
        return EvalReport.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise EdgeFabricError(
            f"{path} is not an EdgeFabric eval report ({str(exc).splitlines()[0]})",
            "pass a JSON file written by `edgefabric eval --out`",
        ) from None


def _fmt(value: float | None, percent: bool = True) -> str:
    if value is None:
        return "n/a"
    return f"{value * 100:.1f}%" if percent else f"{value:.3g}"


_PERF_UNITS = {
    "time_to_first_token_p50_s": "s",
    "time_to_first_call_p50_s": "s",
    "total_p50_s": "s",
    "total_mean_s": "s",
    "tokens_per_s": "tok/s",
    "samples_per_s": "samples/s",
    "peak_rss_mb": "MB",
}


def _count(report: EvalReport, name: str) -> str:
    passed_of = report.counts.get(name)
    return f"{passed_of[0]}/{passed_of[1]}" if passed_of and passed_of[1] else ""


def _with_count(report: EvalReport, name: str) -> str:
    count = _count(report, name)
    return _fmt(report.metrics.get(name)) + (f" ({count})" if count else "")


def render_report(report: EvalReport, worst_n: int = 3) -> Group:
    """The report as rich renderables: metrics with their counts and the no-call baseline, the
    overall formula, per-kind and per-tool tables, and the worst cases."""
    head = Table(title=f"eval: {report.model} ({report.backend}, {report.family}, profile {report.profile})")
    head.add_column("metric")
    head.add_column("value", justify="right")
    head.add_column("passed/of", justify="right")
    head.add_column("no-call baseline", justify="right", style="dim")
    for name, value in report.metrics.items():
        head.add_row(
            name, _fmt(value), _count(report, name), _fmt(report.baseline.get(name)) if report.baseline else ""
        )
    baseline_overall = _fmt(report.baseline.get("overall")) if report.baseline else ""
    head.add_row(Text("overall", style="bold"), Text(_fmt(report.overall), style="bold"), "", baseline_overall)
    for name, value in report.performance.items():
        unit = _PERF_UNITS.get(name, "") if value is not None else ""
        head.add_row(name, f"{_fmt(value, percent=False)} {unit}".strip(), "", "")
    parts: list[Table | Text] = [head]
    if report.summary:
        parts.append(Text(report.summary, style="bold"))
    parts.append(Text(report.formula, style="dim"))
    for title, groups in (("per kind", report.per_kind), ("per tool", report.per_tool)):
        if not groups:
            continue
        table = Table(title=title)
        table.add_column(title.split()[1])
        table.add_column("n", justify="right")
        columns = [k for k in (*METRICS, "pass_rate") if any(k in g for g in groups.values())]
        for column in columns:
            table.add_column(column.replace("_accuracy", "").replace("_rate", ""), justify="right")
        for name, group in groups.items():
            table.add_row(name, str(group["n"]), *(_fmt(group.get(c)) for c in columns))
        parts.append(table)
    for case in report.worst[:worst_n]:
        parts.append(Text(f"\nworst: {case.id} ({case.kind}, stop: {case.stop_reason})", style="bold red"))
        for line in (case.problems + case.failures)[:4]:
            parts.append(Text(f"  - {line}"))
        parts.append(Text("  output: " + (case.raw_output[:300] or "(nothing)"), style="dim"))
    return Group(*parts)


def compare_table(reports: Sequence[tuple[str, EvalReport]]) -> Table:
    """Reports side by side: each metric with its passed/of count, overall, the no-call baseline, performance."""
    table = Table(title="eval compare")
    table.add_column("metric")
    for label, _ in reports:
        table.add_column(label, justify="right")
    table.add_row("model", *(r.model for _, r in reports))
    table.add_row("backend / profile", *(f"{r.backend} / {r.profile}" for _, r in reports))
    table.add_row("constrained", *(r.constrain for _, r in reports))
    table.add_row("cases", *(str(r.n) for _, r in reports))
    names = list(dict.fromkeys(k for _, r in reports for k in r.metrics))
    for name in names:
        table.add_row(name, *(_with_count(r, name) for _, r in reports))
    table.add_row(Text("overall", style="bold"), *(Text(_fmt(r.overall), style="bold") for _, r in reports))
    table.add_row(
        "no-call baseline",
        *(_fmt(r.baseline.get("overall")) if r.baseline else "n/a" for _, r in reports),
        style="dim",
    )
    perf = list(dict.fromkeys(k for _, r in reports for k in r.performance))
    for name in perf:
        table.add_row(name, *(_fmt(r.performance.get(name), percent=False) for _, r in reports))
    return table


def print_report(report: EvalReport, console: Console | None = None) -> None:
    (console or Console()).print(render_report(report))
