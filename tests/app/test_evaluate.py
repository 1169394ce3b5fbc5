"""One evaluation request for every front end: the TUI's "copy CLI command" is rendered from the request
the TUI runs, and the CLI parses that command back to an equal request (issue 15)."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

import pytest
import typer

from edgefabric.app.evaluate import EvalRequest
from edgefabric.cli.eval_cmd import app as eval_app
from edgefabric.cli.eval_cmd import eval_request
from edgefabric.config import ProjectConfig
from edgefabric.errors import EdgeFabricError
from edgefabric.tui.calls import evaluate_command, evaluate_request
from edgefabric.tui.project import Project


def parse_cli(command: str) -> tuple[Path, EvalRequest]:
    """(the folder it runs in, the request) for `cd DIR && edgefabric eval ...`, parsed by the CLI's own options."""
    where, _, line = command.partition(" && ")
    args = shlex.split(line)
    assert args[:2] == ["edgefabric", "eval"] and shlex.split(where)[0] == "cd"
    run = typer.main.get_command(eval_app).commands["run"]  # type: ignore[attr-defined]
    context = run.make_context("run", args[2:])
    return Path(shlex.split(where)[1]), eval_request(**context.params)


@pytest.mark.parametrize("model", ["embedded:gemma3-270m", "EXPORT"])
def test_the_tuis_command_parses_back_to_the_request_it_runs(tmp_path: Path, model: str) -> None:
    config = ProjectConfig(name="p")
    config.tools.builtin = ["math"]
    config.tools.modules = [tmp_path / "my tools.py"]  # a space: the command must quote it
    config.eval.device_profile = "phone"
    config.eval.max_samples = 7
    config.eval.max_steps = 2
    project = Project(tmp_path / "project")
    project.create(config)
    if model == "EXPORT":
        gguf = project.folder("exports") / "p" / "model-q8_0.gguf"
        gguf.parent.mkdir(parents=True)
        gguf.write_bytes(b"GGUF")
        model = str(gguf)
    runs = evaluate_request(project, config, model)
    root, parsed = parse_cli(evaluate_command(project, config, model))
    assert root == project.root
    # The report's name carries a time stamp: both were rendered in the same second or one apart.
    assert parsed.under(root).out.parent == runs.out.parent
    assert parsed.under(root) == replace(runs, out=parsed.under(root).out)
    assert parsed.out.name.startswith("eval-") and parsed.out.parent == Path("reports")
    assert runs.family == "functiongemma" and runs.max_samples == 7 and runs.max_steps == 2
    assert runs.tools == ("math", str(tmp_path / "my tools.py"))


def test_the_cli_defaults_are_the_requests_defaults() -> None:
    run = typer.main.get_command(eval_app).commands["run"]  # type: ignore[attr-defined]
    parsed = eval_request(**run.make_context("run", ["m.gguf", "--samples", "t.jsonl"]).params)
    assert parsed == EvalRequest(model="m.gguf", samples=(Path("t.jsonl"),))
    assert parsed.command() == "edgefabric eval m.gguf --samples t.jsonl --out eval-report.json"


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (EvalRequest(model="m"), "nothing to evaluate"),
        (EvalRequest(model="m", samples=(Path("t"),), answers=Path("a")), "--answers goes with exactly one"),
        (EvalRequest(model="m", samples=(Path("t"),), constrained="always"), "--constrained 'always' is not known"),
    ],
)
def test_a_request_that_cannot_run_says_why(request_: EvalRequest, problem: str) -> None:
    with pytest.raises(EdgeFabricError, match=problem):
        request_.check()
