"""The Evaluate screen shows each metric with its passed/of counts and the no-call baseline, and still
reads reports written before those fields existed."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import DataTable

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


def _report() -> EvalReport:
    scores = [
        CaseScore(id="a", kind="single", source="s", selection_ok=True, params_ok=True, calls_made=1, calls_valid=1),
        CaseScore(id="b", kind="single", source="s", selection_ok=False, params_ok=False),
        CaseScore(id="c", kind="no_call", source="s", relevant=False, irrelevance_ok=True),
    ]
    counts = metric_counts(scores)
    score, formula = overall(scores)
    baseline = no_call_baseline(scores)
    return EvalReport(
        model="m.gguf",
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
