"""The CLI and the TUI produce the same files for the same request: the TUI's improve round, and the
CLI run from the TUI's copied command in a second copy of the project, write the same next-round config
and record the same round."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from edgefabric.cli import app as cli_app
from edgefabric.config import ProjectConfig
from edgefabric.events import EventLog
from edgefabric.pipeline.evaluate.report import save_report
from edgefabric.tui import calls
from edgefabric.tui.project import Project
from tests.evaluate.test_improve import _report


class NoErrors:
    """Where a call that cannot start would show why; here that fails the test."""

    def show_error(self, stage: str, problem: str, fix: str | None = None, details: str = "") -> None:
        raise AssertionError(f"{stage}: {problem} ({fix})")


def _round(folder: Path) -> dict[str, Any]:
    (entry,) = json.loads((folder / "reports" / "rounds.json").read_text())
    entry.pop("created_at")
    return entry


def test_improve_from_the_tui_and_from_its_copied_command_write_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = ProjectConfig(name="p")
    config.generation.num_samples = 24
    tui_side = Project(tmp_path / "tui")
    tui_side.create(config)
    report = tui_side.layout.reports / "eval-m.json"
    save_report(_report({"single": 0.9, "parallel": 0.2}, {"calculate": 0.5}), report)
    cli_side = tmp_path / "cli"
    shutil.copytree(tui_side.root, cli_side)

    run = calls.improve_call(tui_side, NoErrors(), report)
    assert run is not None
    run(EventLog())  # type: ignore[arg-type]  # any event sink will do outside Textual

    line = calls.improve_command(tui_side, config, report)
    where, _, command = line.partition(" && ")
    assert shlex.split(where) == ["cd", str(tui_side.root)]
    monkeypatch.chdir(cli_side)  # the same command, in the other copy of the project
    result = CliRunner().invoke(cli_app, shlex.split(command)[1:], terminal_width=200)
    assert result.exit_code == 0, result.output

    for folder in (tui_side.root, cli_side):
        assert (folder / "reports" / "improve-config.yaml").exists()
    assert (tui_side.layout.reports / "improve-config.yaml").read_text() == (
        cli_side / "reports" / "improve-config.yaml"
    ).read_text()
    tui_round, cli_round = _round(tui_side.root), _round(cli_side)
    assert tui_round["plan"]["num_samples"] == 24
    # The paths name each copy's own files; everything else is the same.
    assert json.dumps(tui_round).replace(str(tui_side.root), "ROOT") == json.dumps(cli_round).replace(
        str(cli_side), "ROOT"
    )
