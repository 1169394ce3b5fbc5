"""End to end, fully offline: the embedded SmolLM2-135M teacher served by llama.cpp on 127.0.0.1,
the built-in math tool set in the real sandbox, a handful of samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgefabric.config import ProjectConfig
from edgefabric.dataset import read_samples
from edgefabric.pipeline.generate.rejects import read_rejects
from edgefabric.pipeline.generate.run import generate


@pytest.mark.slow
def test_the_embedded_teacher_makes_a_small_verified_dataset_offline(shared_home: Path, tmp_path: Path) -> None:
    config = ProjectConfig.model_validate(
        {
            "teacher": {"concurrency": 1, "max_tokens": 160},  # the default, embedded teacher
            "tools": {"builtin": ["math"]},
            "topics": {"depth": 1, "degree": 2},
            # A 135M judge is noise, so the semantic stage is off; format and execution still run.
            "generation": {"num_samples": 2, "kinds": {"no_call": 1, "single": 1}, "semantic_check": False},
        }
    )
    summary = generate(config, tmp_path)
    samples = read_samples(tmp_path / "samples.jsonl").samples if (tmp_path / "samples.jsonl").exists() else []
    rejects = read_rejects(tmp_path / "rejects.jsonl")
    assert summary.accepted == len(samples) >= 1
    assert len(samples) + len(rejects) == summary.attempts
    assert all(r.reason for r in rejects)
    for sample in samples:
        assert sample.metadata.provenance.teacher == "embedded:smollm2-135m"
        assert [v.stage for v in sample.metadata.verification] == ["format", "execution"]
    graph = json.loads((tmp_path / "topics.json").read_text())
    assert graph["teacher"] == "embedded:smollm2-135m" and len(graph["nodes"]) >= 1
    card = json.loads((tmp_path / "card.json").read_text())
    assert card["usage"]["completion_tokens"] > 0 and card["usage"]["cost_usd"] is None
