"""`edgefabric export --eval`: every export scored on held-out cases, beside its parity verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgefabric.cli import app
from edgefabric.config import ProjectConfig, save_config
from tests.evaluate.test_eval_cli import _samples

pytestmark = pytest.mark.slow


def test_export_eval_puts_accuracy_beside_parity(tiny_gemma: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _samples(data / "test.jsonl")
    config = ProjectConfig.model_validate(
        {"tools": {"builtin": ["kv"]}, "eval": {"max_steps": 1, "device_profile": "phone"}}
    )
    save_config(config, data / "run-config.yaml")
    out = tmp_path / "bundle"
    result = CliRunner().invoke(
        app,
        [
            "export",
            str(tiny_gemma),
            "--gguf",
            "f16",
            "--onnx",
            "",
            "--out",
            str(out),
            "--eval",
            str(data / "test.jsonl"),
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "parameter acc." in result.output and "accuracy beside parity" in result.output
    accuracy = json.loads((out / "accuracy.json").read_text())
    (row,) = accuracy["exports"]
    assert row["target"] == "gguf f16" and row["parity"] == "passed" and row["cases"] == 3
    assert row["top1_agreement"] > 0.98 and set(row["metrics"]) >= {"parameter_accuracy", "irrelevance_accuracy"}
    report = json.loads(Path(row["report"]).read_text())
    assert report["model"] == str(out / "model-f16.gguf") and report["n"] == 3


def test_export_eval_without_a_config_says_what_to_pass(tiny_gemma: Path, tmp_path: Path) -> None:
    cases = tmp_path / "test.jsonl"
    _samples(cases)
    result = CliRunner().invoke(
        app, ["export", str(tiny_gemma), "--gguf", "f16", "--onnx", "", "--eval", str(cases)], terminal_width=200
    )
    assert result.exit_code != 0  # the CLI's error handler prints the problem and the fix
    assert "needs the project config" in str(result.exception) and "pass --config edgefabric.yaml" in str(
        result.exception
    )
    assert not (tmp_path / "bundle").exists()
