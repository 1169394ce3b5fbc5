"""The Evaluate screen shows each metric with its passed/of counts and the no-call baseline, and still
reads reports written before those fields existed."""

from __future__ import annotations

import json
import os
from pathlib import Path

from textual.widgets import DataTable, Static, TabbedContent

from edgefabric.pipeline.evaluate.improve import load_rounds
from edgefabric.pipeline.evaluate.report import save_report
from edgefabric.pipeline.evaluate.runner import EvalReport
from edgefabric.pipeline.evaluate.scoring import (
    CaseScore,
    metric_counts,
    no_call_baseline,
    overall,
    quality_metrics,
    summary_line,
)
from tests.tui.conftest import make_app, settle


def _report(model: str = "embedded:smollm2-135m") -> EvalReport:
    scores = [
        CaseScore(id="a", kind="single", source="s", selection_ok=True, params_ok=True, calls_made=1, calls_valid=1),
        CaseScore(id="b", kind="single", source="s", selection_ok=False, params_ok=False),
        CaseScore(id="c", kind="no_call", source="s", relevant=False, irrelevance_ok=True),
    ]
    counts = metric_counts(scores)
    score, formula = overall(scores)
    baseline = no_call_baseline(scores)
    return EvalReport(
        model=model,
        backend="llama.cpp",
        family="functiongemma",
        profile="laptop",
        constrain="off",
        n=len(scores),
        metrics=quality_metrics(scores),
        counts=counts,
        overall=score,
        formula=formula,
        baseline=baseline,
        summary=summary_line(counts, score, baseline["overall"]),
        performance={},
        per_kind={},
        per_tool={},
        worst=[],
        cases=scores,
    )


async def test_metrics_show_counts_and_the_no_call_baseline(project_dir: Path) -> None:
    app = make_app(project_dir)
    report = _report()
    old = json.loads(report.model_dump_json())
    for key in ("counts", "baseline", "summary"):
        old.pop(key)
    old["version"] = 1
    (project_dir / "reports").mkdir(exist_ok=True)
    (project_dir / "reports" / "eval-old.json").write_text(json.dumps(old))
    save_report(report, project_dir / "reports" / "eval-new.json")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6")
        await settle(app, pilot)
        table = app.screen.query_one("#metrics", DataTable)
        rows = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        assert rows["no-call baseline"].startswith("0.333") and "+" in rows["no-call baseline"]
        assert rows["parameter_accuracy"] == "0.500 (1/2)" and rows["irrelevance_accuracy"] == "1.000 (1/1)"
        runs = app.screen.query_one("#compare", DataTable)
        assert runs.row_count == 2  # the old report is listed too
        cells = [[str(c) for c in runs.get_row_at(i)] for i in range(2)]
        assert cells[0][4] in ("n/a", "0.333") and cells[1][4] in ("n/a", "0.333") and cells[0][4] != cells[1][4]


def _rows(table: DataTable) -> dict[str, str]:  # type: ignore[type-arg]
    return {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)}


async def test_evaluate_follows_the_selected_model_and_runs_rows_open_with_enter(project_dir: Path) -> None:
    app = make_app(project_dir)
    reports = project_dir / "reports"
    reports.mkdir(exist_ok=True)
    # The selected model (the first choice, SmolLM2) has the older report; Gemma's is the newest file.
    save_report(_report("embedded:smollm2-135m"), reports / "eval-smollm2.json")
    save_report(_report("embedded:gemma3-270m"), reports / "eval-gemma3.json")
    os.utime(reports / "eval-smollm2.json", (1_000_000_000, 1_000_000_000))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6")
        await settle(app, pilot)
        screen = app.screen
        assert screen.query_one("#eval-model").value == "embedded:smollm2-135m"  # type: ignore[attr-defined]
        metrics = screen.query_one("#metrics", DataTable)
        assert _rows(metrics)["report"] == "reports/eval-smollm2.json"
        screen.query_one("#eval-model").value = "embedded:gemma3-270m"  # type: ignore[attr-defined]
        await pilot.pause()
        assert _rows(metrics)["report"] == "reports/eval-gemma3.json"

        # A model without a report says so instead of showing another model's.
        (project_dir / "exports" / "m").mkdir(parents=True)
        (project_dir / "exports" / "m" / "m.gguf").write_bytes(b"GGUF")
        await pilot.press("1", "6")
        await pilot.pause()
        screen.query_one("#eval-model").value = str(project_dir / "exports" / "m" / "m.gguf")  # type: ignore[attr-defined]
        await pilot.pause()
        assert metrics.row_count == 0
        assert "no report for m.gguf yet" in str(screen.query_one("#tool-bars", Static).render())

        # The tabs have keys; Enter on a Runs row shows that report in the Metrics tab.
        tabs = screen.query_one("#eval-tabs", TabbedContent)
        assert tabs.active == "tab-metrics"
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert tabs.active == "tab-runs"
        await pilot.press("left_square_bracket")
        assert tabs.active == "tab-failures"
        await pilot.press("right_square_bracket")
        runs = screen.query_one("#compare", DataTable)
        runs.focus()
        runs.move_cursor(row=0)  # the first row: the older, SmolLM2 report
        await pilot.press("enter")
        await pilot.pause()
        assert tabs.active == "tab-metrics"
        assert _rows(metrics)["report"] == "reports/eval-smollm2.json"

        # The improve round plans from the report on show, and says which.
        await pilot.press("i")
        await settle(app, pilot)
    assert Path(load_rounds(reports)[-1].report).name == "eval-smollm2.json"
