"""`edgefabric eval` with output to a file: one progress line per case (count, rate, ETA); `--quiet`
silences them; `--threads` reaches the engine's thread plan. A scripted engine stands in for the model
(this is about the command's output, not the model), so the test takes about a second."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from edgefabric.cli import app
from edgefabric.cli.plain_progress import PlainProgress
from edgefabric.dataset import append_samples
from edgefabric.runtime.threads import OVERRIDE_ENV
from edgefabric.schemas import Message, Sample, SampleMetadata
from tests.runtime.conftest import ScriptedBackend

LINE = re.compile(r"^eval (\d)/3 \(\d+%\), [\d.]+/(s|min)(, ETA [\d.]+ (s|min|h))?(, pass \d+%)?$")


def _cases(path: Path, n: int = 3) -> None:
    samples = [
        Sample(
            messages=[Message(role="user", content=f"Say hi {i}."), Message(role="assistant", content="Hi!")],
            tools=[],
            metadata=SampleMetadata(kind="no_call"),
        )
        for i in range(n)
    ]
    append_samples(path, samples)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    monkeypatch.setenv(OVERRIDE_ENV, "")  # restored after the test; the CLI sets it

    def fake_load(model: str, *, backend: str = "auto", profile: Any = "laptop") -> ScriptedBackend:
        seen["plan"] = profile.thread_plan()
        return ScriptedBackend(["Hi!"] * 10)

    monkeypatch.setattr("edgefabric.runtime.backends.load_backend", fake_load)
    return seen


def test_eval_to_a_file_prints_a_line_per_case(tmp_path: Path, scripted: dict[str, Any]) -> None:
    _cases(tmp_path / "test.jsonl")
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "scripted",
            "--samples",
            str(tmp_path / "test.jsonl"),
            "--family",
            "qwen3",
            "--threads",
            "3",
            "-o",
            str(tmp_path / "r.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("eval ")]
    assert [LINE.match(line) is not None for line in lines] == [True] * 3, lines
    assert [int(LINE.match(line).group(1)) for line in lines] == [1, 2, 3]  # type: ignore[union-attr]
    assert scripted["plan"].generation == 3 and scripted["plan"].source == "override"


def test_quiet_turns_the_lines_off(tmp_path: Path, scripted: dict[str, Any]) -> None:
    _cases(tmp_path / "test.jsonl")
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "scripted",
            "--samples",
            str(tmp_path / "test.jsonl"),
            "--family",
            "qwen3",
            "--quiet",
            "-o",
            str(tmp_path / "r.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert not [line for line in result.output.splitlines() if LINE.match(line)]
    assert scripted["plan"].source == "policy"


def test_plain_progress_rate_and_eta_from_the_clock() -> None:
    now = [100.0]
    out = io.StringIO()
    lines = PlainProgress(stream=out, clock=lambda: now[0])
    lines.start("eval")
    now[0] = 130.0
    assert lines.update("eval", 1, 4, "pass 100%") == "eval 1/4 (25%), 2.0/min, ETA 1.5 min, pass 100%"
    assert lines.update("eval", 1, 4) is None  # no new unit, no line
    now[0] = 160.0
    assert lines.update("eval", 2, 4) == "eval 2/4 (50%), 2.0/min, ETA 60 s"
    assert out.getvalue().count("\n") == 2


def test_threads_below_one_is_refused(tmp_path: Path, scripted: dict[str, Any]) -> None:
    _cases(tmp_path / "test.jsonl")
    result = CliRunner().invoke(app, ["eval", "scripted", "--samples", str(tmp_path / "test.jsonl"), "--threads", "0"])
    assert result.exit_code != 0
    assert "plan" not in scripted  # nothing was loaded


def test_generate_and_train_views_write_one_line_per_unit() -> None:
    from rich.console import Console

    from edgefabric.cli.generate_cmd import StageView, stage_progress
    from edgefabric.cli.train_cmd import TrainView
    from edgefabric.events import Progress, StageStarted

    now = [0.0]
    out = io.StringIO()
    lines = PlainProgress(stream=out, clock=lambda: now[0])
    console = Console(file=io.StringIO())
    progress = stage_progress(console)
    stages, train = StageView(console, progress, lines), TrainView(console, progress, lines)
    stages(StageStarted("samples", total=2))
    train(StageStarted("train", total=2))
    for done in (1, 2):
        now[0] += 30.0
        stages(Progress("samples", done, 2, {"accept_rate": 0.5, "samples_per_min": 2.0, "eta_s": 30.0}))
        train(Progress("train", done, 2, {"loss": 1.5, "eta_s": 30.0}))
    assert out.getvalue().splitlines() == [
        "samples 1/2 (50%), 2.0/min, ETA 30 s, accept 50%",
        "train 1/2 (50%), 2.0/min, ETA 30 s, loss 1.500",
        "samples 2/2 (100%), 2.0/min, ETA 0 s, accept 50%",
        "train 2/2 (100%), 2.0/min, ETA 0 s, loss 1.500",
    ]
