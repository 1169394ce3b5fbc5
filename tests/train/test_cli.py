"""`edgefabric train` end to end on a tiny model, and its errors without a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgefabric.cli import app, main
from edgefabric.config import save_config
from edgefabric.schemas import Message, Sample
from tests.train.conftest import dataset, project, write_data


def test_train_command_runs_and_writes_the_run_folder(tiny_gemma: Path, tmp_path: Path) -> None:
    data = write_data(tmp_path / "data", dataset(8), dataset(2))
    config_path = tmp_path / "edgefabric.yaml"
    save_config(project(tiny_gemma, merge=True, eval_every=1, save_every=1), config_path)
    out = tmp_path / "runs" / "tiny"
    result = CliRunner().invoke(
        app, ["train", str(config_path), "--data", str(data), "--out", str(out), "--max-steps", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "done: 2 steps" in result.output and "backend trl" in result.output
    assert {p.name for p in out.iterdir()} >= {"adapter", "merged", "config.yaml", "train_report.json", "events.jsonl"}
    report = json.loads((out / "train_report.json").read_text())
    assert report["steps"] == 2 and report["final_val_loss"] is not None
    assert (out / "checkpoints" / "checkpoint-2").is_dir()
    # --max-steps is part of the saved config, so resuming with it is accepted; the run is complete,
    # so it picks up at checkpoint-2 with nothing left to train and rewrites the outputs
    again = CliRunner().invoke(
        app, ["train", str(config_path), "--data", str(data), "--out", str(out), "--max-steps", "2", "--resume"]
    )
    assert again.exit_code == 0, again.output
    assert "resuming from checkpoint-2" in again.output and "done: 2 steps" in again.output


def test_train_command_error_is_a_message_not_a_traceback(
    tiny_gemma: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = tmp_path / "edgefabric.yaml"
    save_config(project(tiny_gemma), config_path)
    monkeypatch.setattr(sys, "argv", ["edgefabric", "train", str(config_path), "--data", str(tmp_path / "none")])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "1000")  # rich wraps long lines, even inside a long path
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "train.jsonl does not exist" in err and "fix:" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "holds no samples"),
        (b"\n\n", "holds no samples"),
        (b"\xff\xfe\n{}\n", "no readable sample"),
        (
            json.dumps(Sample(id="q", messages=[Message(role="user", content="hi")]).to_record()).encode() + b"\n",
            "1 does not fit the chat format (functiongemma)",
        ),
    ],
    ids=["empty", "blank-lines", "unreadable", "wrong-format"],  # fixed ids: the record holds a timestamp
)
def test_train_on_an_empty_split_fails_at_once_naming_the_file(
    tmp_path: Path,
    content: bytes,
    needle: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_bytes(content)
    config_path = tmp_path / "edgefabric.yaml"
    # No model is there: loading it would fail with another message, so the data is checked first.
    save_config(project(tmp_path / "no-model-here"), config_path)
    out = tmp_path / "runs" / "tiny"
    argv = ["edgefabric", "train", str(config_path), "--data", str(data), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setenv("COLUMNS", "1000")
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert needle in err and str(data / "train.jsonl") in err and "fix:" in err
    assert "no-model-here" not in err and "Traceback" not in err
    assert not out.exists()  # nothing written: the same command works once the data is fixed
