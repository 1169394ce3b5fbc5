"""End to end, fully offline: the embedded SmolLM2-135M teacher served by llama.cpp on 127.0.0.1,
the built-in math tool set in the real sandbox, a handful of samples made call-first."""

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
            "generation": {"num_samples": 3, "kinds": {"no_call": 1, "single": 2}, "semantic_check": False},
        }
    )
    assert config.generation.resolved_mode(config.teacher) == "call_first"  # the embedded teacher's default
    summary = generate(config, tmp_path)
    samples = read_samples(tmp_path / "samples.jsonl").samples if (tmp_path / "samples.jsonl").exists() else []
    rejects = read_rejects(tmp_path / "rejects.jsonl")
    assert summary.accepted == len(samples) >= 1
    assert len(samples) <= 3
    assert len(samples) + len(rejects) == summary.attempts
    assert all(r.reason for r in rejects)
    for sample in samples:
        assert sample.metadata.provenance.teacher == "embedded:smollm2-135m"
        assert [v.stage for v in sample.metadata.verification] == ["format", "execution", "grounding"]
        assert all(v.passed for v in sample.metadata.verification)
    # Every accepted call's values stand in its request: the grounding stage says so, and a fresh check agrees.
    from edgefabric.pipeline.generate.grounding import Grounder

    for sample in samples:
        assert Grounder().check_messages(sample.messages, sample.tools).passed
    # The kind mix is kept: never more of a kind than its quota, and a short kind is named on the card.
    per_kind = {s.metadata.kind: 0 for s in samples}
    for sample in samples:
        per_kind[sample.metadata.kind] = per_kind.get(sample.metadata.kind, 0) + 1
    card_json = json.loads((tmp_path / "card.json").read_text())
    assert card_json["kind_quotas"] == {"single": 2, "no_call": 1}
    assert all(per_kind.get(kind, 0) <= quota for kind, quota in card_json["kind_quotas"].items())
    short = {k for k, q in card_json["kind_quotas"].items() if per_kind.get(k, 0) < q}
    assert short == set(card_json["kind_shortfalls"])
    values = json.loads((tmp_path / "values.json").read_text())  # the cache of value lists and message forms
    assert isinstance(values, dict)
    graph = json.loads((tmp_path / "topics.json").read_text())
    assert graph["teacher"] == "embedded:smollm2-135m" and len(graph["nodes"]) >= 1
    card = json.loads((tmp_path / "card.json").read_text())
    assert card["usage"]["completion_tokens"] > 0 and card["usage"]["cost_usd"] is None
