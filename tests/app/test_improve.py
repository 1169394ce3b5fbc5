"""`run_improve`: the one place a plan from a report becomes the next round's config and a recorded round."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgefabric.app.improve import ImproveRequest, run_improve
from edgefabric.config import ProjectConfig, load_config, save_config
from edgefabric.errors import EdgeFabricError
from edgefabric.events import EventLog, Note
from edgefabric.pipeline.evaluate.improve import load_rounds
from edgefabric.pipeline.evaluate.report import save_report
from tests.evaluate.test_improve import _report


def test_a_round_writes_the_planned_config_and_is_recorded(tmp_path: Path) -> None:
    report_path = tmp_path / "reports" / "eval-report.json"
    report_path.parent.mkdir()
    save_report(_report({"single": 0.9, "parallel": 0.2}, {"calculate": 0.5}), report_path)
    config_path = tmp_path / "edgefabric.yaml"
    save_config(ProjectConfig(name="p"), config_path)
    log = EventLog()
    request = ImproveRequest(report=report_path.parent, config=config_path, num_samples=30)
    result = run_improve(request, on_event=log)
    assert result.config_out == report_path.parent / "improve-config.yaml"
    following = load_config(result.config_out)
    assert following.name == "p" and following.generation.num_samples == 30
    assert following.generation.kinds["parallel"] > following.generation.kinds["single"]
    assert [r.round for r in load_rounds(report_path.parent)] == [1] == [result.round.round]
    assert [n.text.split(" ")[0] for n in log.of_type(Note)] == ["planning", "round"]


def test_chaining_needs_the_project_config(tmp_path: Path) -> None:
    with pytest.raises(EdgeFabricError, match="--chain needs the project config"):
        run_improve(ImproveRequest(report=tmp_path / "r.json", chain=True))
