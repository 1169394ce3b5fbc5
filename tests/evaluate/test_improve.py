"""`improve`'s analysis: weaker kinds and tools get more of the next round's data; rounds are recorded."""

from __future__ import annotations

from pathlib import Path

from edgefabric.config import ProjectConfig
from edgefabric.pipeline.evaluate.improve import apply_plan, load_rounds, plan_from_report, record_round
from edgefabric.pipeline.evaluate.runner import EvalReport


def _report(per_kind: dict[str, float], per_tool: dict[str, float]) -> EvalReport:
    return EvalReport(
        model="m",
        backend="llama.cpp",
        family="qwen3",
        profile="laptop",
        constrain="off",
        n=10,
        metrics={"parameter_accuracy": 0.5},
        overall=0.5,
        formula="overall = ...",
        performance={},
        worst=[],
        cases=[],
        per_kind={k: {"n": 5, "pass_rate": v} for k, v in per_kind.items()},
        per_tool={k: {"n": 5, "pass_rate": v} for k, v in per_tool.items()},
    )


def test_weights_follow_failure_rates(tmp_path: Path) -> None:
    report = _report({"single": 0.9, "parallel": 0.2, "irrelevance": 1.0}, {"calculate": 0.9, "set": 0.1})
    plan = plan_from_report(report, "r.json")
    weights = plan.kind_weights
    assert abs(sum(weights.values()) - 1) < 1e-3
    assert weights["parallel"] > weights["single"] > weights["no_call"] > 0  # irrelevance maps to no_call
    assert plan.weakest_kinds[0].name == "parallel" and plan.weakest_tools[0].name == "set"
    assert plan.tool_weights["set"] > plan.tool_weights["calculate"]
    first = record_round(tmp_path, report, tmp_path / "r.json", plan)
    second = record_round(tmp_path, report, tmp_path / "r.json", plan, result_overall=0.7, result_report="x")
    assert (first.round, second.round) == (1, 2)
    assert [r.result_overall for r in load_rounds(tmp_path)] == [None, 0.7]


def test_a_plan_becomes_the_next_rounds_config_with_its_sample_count() -> None:
    report = _report({"single": 0.9, "parallel": 0.2}, {"calculate": 0.5})
    plan = plan_from_report(report, "r.json", num_samples=80)
    config = ProjectConfig(name="p")
    following = apply_plan(config, plan)
    assert following.generation.num_samples == 80  # the TUI's own copy of this used to drop it
    assert following.generation.kinds == {k: w for k, w in plan.kind_weights.items() if w > 0}
    assert following.generation.kinds["parallel"] > following.generation.kinds["single"]
    assert config.generation.num_samples == 50 and config.generation.kinds != following.generation.kinds
