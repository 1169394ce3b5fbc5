"""The CLI and the TUI produce the same files for the same request: what the TUI runs, and the CLI run
from the TUI's copied command in a second copy of the project, write the same files (issue 15).

- improve: the same next-round config and the same recorded round;
- generate: the same dataset (samples, splits, rejects, topics, card), taught by the scripted teacher
  of tests/generate over HTTP on 127.0.0.1, one call at a time so that its replies come in one order;
- train: the same run folder from a tiny random Gemma (tests/train): adapter and checkpoint bytes equal,
  the report and events equal but for what the run measured (clock, speed, memory);
- export: the same bundle of that model: the GGUF and Modelfile byte for byte, the manifest, parity,
  device fit and model card equal but for the measured tokens/s (and so those files' checksums).

Files that name paths name each side's own folder; they are compared with it written ROOT.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from edgefabric.cli import app as cli_app
from edgefabric.config import ProjectConfig
from edgefabric.dataset import append_samples
from edgefabric.events import EventLog
from edgefabric.pipeline.evaluate.report import save_report
from edgefabric.tui import calls
from edgefabric.tui.project import Project
from tests.evaluate.test_improve import _report
from tests.generate.conftest import TOOL_ARGUMENTS, TOOLS_MODULE
from tests.generate.teacher_server import ScriptedTeacher, TeacherServer
from tests.train.conftest import dataset, project, tiny_gemma  # noqa: F401  (tiny_gemma is a fixture)


class NoErrors:
    """Where a call that cannot start would show why; here that fails the test."""

    def show_error(self, stage: str, problem: str, fix: str | None = None, details: str = "") -> None:
        raise AssertionError(f"{stage}: {problem} ({fix})")


def run_copied_command(line: str, tui_root: Path, cli_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the TUI's copied `cd TUI_ROOT && edgefabric ...` with the CLI, in `cli_root` (the other copy)."""
    where, _, command = line.partition(" && ")
    assert shlex.split(where) == ["cd", str(tui_root)]
    monkeypatch.chdir(cli_root)
    result = CliRunner().invoke(cli_app, shlex.split(command)[1:], terminal_width=200)
    assert result.exit_code == 0, result.output


def files_under(root: Path) -> dict[str, bytes]:
    """Every file under `root` by relative path, with its content."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


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


# What a run measures rather than computes: clock readings, speeds and memory; left out of the comparisons.
MEASURED = {
    "created_at",
    "elapsed_ms",
    "seconds",
    "train_runtime_s",
    "s_per_step",
    "eta_s",
    "tokens_per_s",
    "rss_mb",
    "peak_rss_mb",
    "gpu_mb",
    "peak_gpu_mb",
}


def comparable(value: Any, root: Path) -> Any:
    """`value` (parsed JSON) less its MEASURED keys, with `root` (each side's own folder) written ROOT."""
    if isinstance(value, dict):
        return {k: comparable(v, root) for k, v in value.items() if k not in MEASURED}
    if isinstance(value, list):
        return [comparable(v, root) for v in value]
    if isinstance(value, str):
        # The training's thread note reads the machine's load at that moment ("others busy 1.9").
        return re.sub(r"busy [0-9.]+", "busy N", value.replace(str(root), "ROOT"))
    return value


def records(content: bytes, root: Path) -> list[Any]:
    """The records of a JSONL file, comparable; a sample's metadata.extra (a JSON string) parsed first."""
    rows = [json.loads(line) for line in content.splitlines()]
    for row in rows:
        metadata = row.get("metadata") or {}
        if isinstance(metadata.get("extra"), str):  # see Sample.to_record
            metadata["extra"] = json.loads(metadata["extra"])
    return [comparable(row, root) for row in rows]


def markdown(content: bytes) -> list[str]:
    """A Markdown file's lines with the cells of its measured table columns (tokens/s) written N."""
    lines, measured = [], set()
    for line in content.decode().splitlines():
        cells = line.split("|")
        if line.startswith("|") and "tokens/s" in (cell.strip() for cell in cells):
            measured = {i for i, cell in enumerate(cells) if cell.strip() == "tokens/s"}
        elif not line.startswith("|"):
            measured = set()
        lines.append("|".join(" N " if i in measured and not set(c) <= {"-"} else c for i, c in enumerate(cells)))
    return lines


def manifest_files(value: Any, measured: set[str]) -> Any:
    """A bundle manifest's file list without the checksum and size of the files that hold measured figures
    (those files are compared themselves); any other JSON as it is."""
    if isinstance(value, dict) and isinstance(value.get("files"), list):
        for entry in value["files"]:
            if Path(str(entry.get("path"))).name in measured:
                entry.pop("sha256", None)
                entry.pop("bytes", None)
    return value


def assert_same_files(tui_dir: Path, tui_root: Path, cli_dir: Path, cli_root: Path) -> dict[str, bytes]:
    """The same files under both folders; JSON(L) and Markdown equal but for MEASURED figures and each
    side's root, every other file byte for byte. Returns the TUI side's files."""
    tui_files, cli_files = files_under(tui_dir), files_under(cli_dir)
    assert sorted(tui_files) == sorted(cli_files)
    measured = {Path(name).name for name, content in tui_files.items() if content != cli_files[name]}
    for name, content in tui_files.items():
        other = cli_files[name]
        if name.endswith(".jsonl"):
            assert records(content, tui_root) == records(other, cli_root), name
        elif name.endswith(".json"):
            tui_json, cli_json = (manifest_files(json.loads(c), measured) for c in (content, other))
            assert comparable(tui_json, tui_root) == comparable(cli_json, cli_root), name
        elif name.endswith(".md"):
            assert markdown(content) == markdown(other), name
        elif name.endswith("training_args.bin"):  # a pickled TrainingArguments (it names the run folder)
            assert training_args(content, tui_root) == training_args(other, cli_root), name
        else:
            assert content == other, name
    return tui_files


def training_args(content: bytes, root: Path) -> Any:
    import io

    import torch

    return comparable(torch.load(io.BytesIO(content), weights_only=False).to_dict(), root)


def test_generate_from_the_tui_and_from_its_copied_command_write_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TeacherServer() as server:
        config = ProjectConfig.model_validate(
            {
                "name": "same",
                # One call at a time: the scripted teacher's replies then come in one order on both sides.
                "teacher": {"model": "scripted", "api_base": server.url, "concurrency": 1, "max_retries": 2},
                "tools": {"builtin": [], "modules": [str(TOOLS_MODULE)]},
                "topics": {"prompt": "Numbers and words", "depth": 1, "degree": 2},
                "generation": {"num_samples": 4, "kinds": {"single": 1, "no_call": 1}, "seed": 3, "cycle_check": "off"},
            }
        )
        tui_side = Project(tmp_path / "tui")
        tui_side.create(config)
        cli_side = tmp_path / "cli"
        shutil.copytree(tui_side.root, cli_side)

        line = calls.generate_command(tui_side)  # what "copy command" gives before the run (after: --resume)
        server.script = ScriptedTeacher(seed=5, tool_arguments=TOOL_ARGUMENTS)
        run = calls.generate_call(tui_side, NoErrors())
        assert run is not None
        run(EventLog())  # type: ignore[arg-type]  # any event sink will do outside Textual

        server.script = ScriptedTeacher(seed=5, tool_arguments=TOOL_ARGUMENTS)  # the same teacher, from its start
        run_copied_command(line, tui_side.root, cli_side, monkeypatch)

    files = assert_same_files(tui_side.layout.data, tui_side.root, cli_side / "data", cli_side)
    assert {"samples.jsonl", "train.jsonl", "val.jsonl", "test.jsonl", "topics.json", "card.md"} <= set(files)
    assert len(files["samples.jsonl"].splitlines()) == 4


def test_train_from_the_tui_and_from_its_copied_command_write_the_same_files(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_gemma: Path,  # noqa: F811
) -> None:
    config = project(tiny_gemma, max_steps=2)
    tui_side = Project(tmp_path / "tui")
    tui_side.create(config)
    append_samples(tui_side.data_dir / "train.jsonl", dataset(8))
    append_samples(tui_side.data_dir / "val.jsonl", dataset(2))
    cli_side = tmp_path / "cli"
    shutil.copytree(tui_side.root, cli_side)

    line = calls.train_command(tui_side, config)  # what "copy command" gives before the run
    run = calls.train_call(tui_side, NoErrors())
    assert run is not None
    run(EventLog())  # type: ignore[arg-type]  # any event sink will do outside Textual
    run_copied_command(line, tui_side.root, cli_side, monkeypatch)

    files = assert_same_files(
        tui_side.layout.run(config.name), tui_side.root, cli_side / "runs" / config.name, cli_side
    )
    assert {"adapter/adapter_model.safetensors", "events.jsonl", "train_report.json"} <= set(files)


def test_export_from_the_tui_and_from_its_copied_command_write_the_same_files(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_gemma: Path,  # noqa: F811
) -> None:
    config = project(tiny_gemma)
    tui_side = Project(tmp_path / "tui")
    tui_side.create(config)
    cli_side = tmp_path / "cli"
    shutil.copytree(tui_side.root, cli_side)

    spec = str(tiny_gemma)  # the base model, as the Export screen offers it
    line = calls.export_command(tui_side, config, spec, ["f16"], [])
    run = calls.export_call(tui_side, NoErrors(), spec, ["f16"], [])
    assert run is not None
    run(EventLog())  # type: ignore[arg-type]  # any event sink will do outside Textual
    run_copied_command(line, tui_side.root, cli_side, monkeypatch)

    bundle = calls.export_out(tui_side, spec).relative_to(tui_side.root)
    files = assert_same_files(tui_side.root / bundle, tui_side.root, cli_side / bundle, cli_side)
    assert {"model-f16.gguf", "manifest.json", "parity.json", "Modelfile", "README.md"} <= set(files)
