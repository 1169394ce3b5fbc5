"""The demo journey: every step for real (embedded teacher, sandbox, TRL, GGUF export, on-device
eval in a child process) on a tiny Gemma, then a rerun that keeps every finished step."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from edgefabric.app.journey import CONFIG_NAME, demo_config, run_journey
from edgefabric.config import ProjectConfig, save_config
from edgefabric.events import EventLog, StageStarted
from tests.train.conftest import tiny_gemma  # noqa: F401  (a session fixture)


def test_the_demo_config_stays_sized_for_two_cores() -> None:
    config = demo_config()
    assert config.model.base == "embedded:gemma3-270m" and config.teacher.model == "embedded:smollm2-135m"
    # At least 30 held-out cases, and no more data than 2 cores turn into a model in the 30-minute bound.
    assert config.generation.num_samples * config.generation.splits.test >= 30
    assert config.generation.num_samples <= 200 and (config.training.max_steps or 0) <= 150
    assert config.generation.resolved_mode(config.teacher) == "call_first"
    assert config.export.gguf == ["q8_0"] and config.export.onnx == ["int8"]
    assert config.training.save_every is not None  # a killed demo resumes training from a checkpoint
    # 4 samples a step, one at a time: within 2.5 GB without recomputing activations (README, Train).
    assert (config.training.batch_size, config.training.grad_accum) == (1, 4)
    assert not config.training.gradient_checkpointing


@pytest.mark.slow
def test_the_journey_runs_every_step_then_keeps_them(
    tmp_path: Path,
    tiny_gemma: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")
    root = tmp_path / "demo"
    root.mkdir()
    config = ProjectConfig.model_validate(
        {
            **demo_config("tiny").model_dump(mode="json"),
            "model": {"family": "functiongemma", "base": str(tiny_gemma)},
            "generation": {
                "num_samples": 4,
                "kinds": {"single": 0.5, "no_call": 0.5},
                "max_steps": 2,
                "semantic_check": False,
                "splits": {"train": 0.5, "val": 0.0, "test": 0.5},
            },
            "training": {"max_steps": 2, "batch_size": 2, "learning_rate": 5e-3, "save_every": 1},
            "export": {"gguf": ["q8_0"], "onnx": []},
            "eval": {"max_steps": 1, "device_profile": "phone"},
        }
    )
    save_config(config, root / CONFIG_NAME)  # a project's own config wins over the demo's

    log = EventLog()
    first = run_journey(root, on_event=log)
    assert first.skipped == []
    started = {e.stage for e in log.of_type(StageStarted)}
    assert {"demo", "generate", "train", "export", "eval"} <= started
    card = json.loads((root / "data" / "card.json").read_text())
    assert card["samples"] >= 4
    assert (root / "runs" / "tiny" / "merged" / "config.json").is_file()
    assert (root / "exports" / "tiny" / "model-q8_0.gguf").is_file()
    labels = [label for label, _ in first.reports]
    assert labels == [f"base {tiny_gemma}", "fine-tuned GGUF q8_0"]
    for _, path in first.reports:
        report = json.loads(path.read_text())
        assert report["n"] == card["splits"]["test"]
        # Measured in a fresh child process: not the training's memory.
        assert 0 < report["performance"]["peak_rss_mb"]
    backends = [json.loads(path.read_text())["backend"] for _, path in first.reports]
    assert backends == ["transformers", "llama.cpp"]
    kinds = {what for what, _ in first.artifacts()}
    assert {"dataset card", "merged model", "GGUF q8_0", "parity report", "Ollama Modelfile"} <= kinds

    # A rerun keeps everything; losing one report re-runs only that evaluation.
    mtimes = {p: p.stat().st_mtime_ns for p in (root / "data" / "samples.jsonl", root / "runs" / "tiny" / "adapter")}
    first.reports[1][1].unlink()
    again = run_journey(root)
    assert again.skipped == ["generate", "train", "export"]
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())
    assert again.reports[1][1].exists()
    assert run_journey(root).skipped == ["generate", "train", "export", "evaluate"]

    # The CLI prints base vs fine-tuned and where each artifact is.
    from edgefabric.cli import main

    monkeypatch.setattr(sys, "argv", ["edgefabric", "demo", str(root), "--headless"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "eval compare" in out and "fine-tuned GGUF q8_0" in out
    assert str(root / "exports" / "tiny" / "model-q8_0.gguf") in out
