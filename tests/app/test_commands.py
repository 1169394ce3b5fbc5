"""Every action's request has one CLI form: the TUI's "copy command" is rendered from the request the
TUI runs, and the CLI's own option parser turns that line back into an equal request (issue 15)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from edgefabric.app.chat import ChatRequest
from edgefabric.app.export import ExportRequest
from edgefabric.app.generate import GenerateRequest
from edgefabric.app.improve import ImproveRequest
from edgefabric.app.train import TrainRequest
from edgefabric.cli import app as cli_app
from edgefabric.cli.chat_cmd import chat_request
from edgefabric.cli.eval_cmd import improve_request
from edgefabric.cli.export_cmd import export_request
from edgefabric.cli.generate_cmd import generate_request
from edgefabric.cli.train_cmd import train_request
from edgefabric.config import OnnxQuantization, ProjectConfig
from edgefabric.tui import calls
from edgefabric.tui.project import Project

BUILDERS: dict[str, Any] = {
    "generate": generate_request,
    "train": train_request,
    "export": export_request,
    "improve": improve_request,
    "chat": chat_request,
}


def parse(line: str) -> Any:
    """The request the CLI builds for `edgefabric ACTION ...`, from its own parsed options."""
    args = shlex.split(line)
    assert args[0] == "edgefabric"
    command = typer.main.get_command(cli_app).commands[args[1]]  # type: ignore[attr-defined]
    return BUILDERS[args[1]](**command.make_context(args[1], args[2:]).params)


def parse_in_folder(line: str) -> tuple[Path, Any]:
    """(the folder, the request) for the TUI's `cd DIR && edgefabric ...`."""
    where, _, rest = line.partition(" && ")
    cd, folder = shlex.split(where)
    assert cd == "cd"
    return Path(folder), parse(rest)


@pytest.fixture
def project(tmp_path: Path) -> tuple[Project, ProjectConfig]:
    config = ProjectConfig(name="p")
    config.tools.builtin = ["math"]
    config.tools.modules = [tmp_path / "my tools.py"]  # a space: commands must quote it
    config.generation.num_samples = 12
    config.eval.device_profile = "phone"
    config.eval.max_steps = 2
    folder = Project(tmp_path / "a project")  # a space in the project's own path too
    folder.create(config)
    return folder, config


@pytest.mark.parametrize("started", [False, True])
def test_generate_and_train_commands_parse_back_to_what_the_tui_runs(
    project: tuple[Project, ProjectConfig], started: bool
) -> None:
    folder, config = project
    if started:
        (folder.data_dir / "samples.jsonl").write_text("")
        (folder.layout.run("p") / "checkpoints").mkdir(parents=True)
    runs = calls.generate_request(folder)
    assert runs.resume is started and runs.out == folder.data_dir
    root, parsed = parse_in_folder(calls.generate_command(folder))
    assert root == folder.root and parsed.under(root) == runs

    trains = calls.train_request(folder, config)
    assert trains.resume is started and trains.out == folder.layout.run("p")
    root, parsed = parse_in_folder(calls.train_command(folder, config))
    assert parsed.under(root) == trains
    assert "--out runs/p" in calls.train_command(folder, config)


def test_the_export_command_says_everything_the_tui_exports(project: tuple[Project, ProjectConfig]) -> None:
    """Only a GGUF chosen: the command must say --onnx '' (the CLI's default exports ONNX int8 too)."""
    folder, config = project
    config.export.onnx_quantization = OnnxQuantization(block_size=64, mixed_layers=True)
    run = folder.layout.run("p")
    run.mkdir(parents=True)
    runs = calls.export_request(folder, config, str(run), ["q8_0"], [])
    line = calls.export_command(folder, config, str(run), ["q8_0"], [])
    assert "--onnx ''" in line and "--format functiongemma" in line
    root, parsed = parse_in_folder(line)
    assert parsed.under(root) == runs
    assert parsed.onnx == () and parsed.gguf == ("q8_0",) and parsed.family == "functiongemma"


def test_the_improve_command_parses_back_to_what_the_tui_runs(project: tuple[Project, ProjectConfig]) -> None:
    folder, config = project
    report = folder.layout.reports / "eval-x.json"
    runs = calls.improve_request(folder, config, report)
    assert runs.num_samples == 12  # the project's count, not the CLI's default of 50
    root, parsed = parse_in_folder(calls.improve_command(folder, config, report))
    assert parsed.under(root) == runs


def test_a_projects_chat_parses_back_from_its_command(project: tuple[Project, ProjectConfig]) -> None:
    folder, config = project
    request = calls.chat_request(folder, config, "embedded:gemma3-270m")
    assert request.tools == ("math", str(folder.root.parent / "my tools.py")) and request.profile == "phone"
    assert parse(request.command()) == request


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("edgefabric generate p.yaml", GenerateRequest(config=Path("p.yaml"))),
        ("edgefabric train p.yaml", TrainRequest(config=Path("p.yaml"))),
        ("edgefabric train p.yaml --no-merge", TrainRequest(config=Path("p.yaml"), merge=False)),
        ("edgefabric export runs/p", ExportRequest(source="runs/p")),
        ("edgefabric improve r.json", ImproveRequest(report=Path("r.json"))),
        ("edgefabric chat m.gguf", ChatRequest(model="m.gguf")),
    ],
)
def test_the_cli_defaults_are_the_requests_defaults(line: str, expected: Any) -> None:
    assert parse(line) == expected
    assert expected.command() == line


def test_every_option_survives_the_round_trip() -> None:
    requests = [
        GenerateRequest(config=Path("c.yaml"), out=Path("o"), resume=True, num_samples=3),
        TrainRequest(config=Path("c.yaml"), data=Path("d"), out=Path("o"), max_steps=5, resume=True, merge=True),
        ExportRequest(
            source="embedded:gemma3-270m",
            gguf=("f16", "q8_0"),
            onnx=(),
            out=Path("b"),
            family="qwen3",
            parity=False,
            probe_tokens=8,
            onnx_quantization=OnnxQuantization(),
        ),
        ImproveRequest(
            report=Path("r"),
            config=Path("c.yaml"),
            config_out=Path("n.yaml"),
            num_samples=9,
            chain=True,
            train_steps=2,
            max_eval=4,
        ),
        ChatRequest(
            model="m",
            tools=("kv",),
            family="qwen3",
            backend="transformers",
            profile="phone",
            constrained="auto",
            max_steps=2,
            max_tokens=64,
            system="be brief, 'really'",
        ),
    ]
    for request in requests:
        assert parse(request.command()) == request, request.command()
