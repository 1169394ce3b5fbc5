"""Per-case scores and the aggregate metrics of an eval run, with the overall score's formula."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

# Weights of the overall score; a metric a run did not measure (no irrelevance cases, no
# sandbox) drops out and the rest are renormalised, so the formula printed is the one used.
WEIGHTS: dict[str, float] = {
    "tool_selection_accuracy": 0.20,
    "parameter_accuracy": 0.35,
    "schema_validity_rate": 0.10,
    "execution_success_rate": 0.10,
    "irrelevance_accuracy": 0.10,
    "multi_step_success": 0.15,
}


class CaseScore(BaseModel):
    id: str
    kind: str
    source: str
    expected_tools: list[str] = Field(default_factory=list)
    called_tools: list[str] = Field(default_factory=list)
    relevant: bool = True  # a call is expected
    selection_ok: bool | None = None
    params_ok: bool | None = None
    irrelevance_ok: bool | None = None
    task_ok: bool | None = None
    calls_made: int = 0
    calls_valid: int = 0
    calls_executed: int = 0  # calls sent to a sandbox (None when no sandbox could run them)
    calls_exec_ok: int = 0
    problems: list[str] = Field(default_factory=list)
    failures: list[str] = Field(default_factory=list)
    stop_reason: str = ""
    raw_output: str = ""
    time_to_first_token_s: float | None = None
    time_to_first_call_s: float | None = None
    total_s: float = 0.0
    completion_tokens: int = 0
    generation_s: float = 0.0

    @property
    def passed(self) -> bool:
        checks = [self.params_ok, self.irrelevance_ok, self.task_ok]
        return all(c is not False for c in checks) and any(c is not None for c in checks)


def _mean(values: Sequence[bool | None]) -> float | None:
    known = [bool(v) for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def quality_metrics(scores: Sequence[CaseScore]) -> dict[str, float | None]:
    made = sum(s.calls_made for s in scores)
    return {
        "tool_selection_accuracy": _mean([s.selection_ok for s in scores if s.relevant]),
        "parameter_accuracy": _mean([s.params_ok for s in scores if s.relevant]),
        "schema_validity_rate": _ratio(sum(s.calls_valid for s in scores), made),
        "execution_success_rate": _ratio(sum(s.calls_exec_ok for s in scores), sum(s.calls_executed for s in scores)),
        "irrelevance_accuracy": _mean([s.irrelevance_ok for s in scores if not s.relevant]),
        "multi_step_success": _mean([s.task_ok for s in scores]),
    }


def overall(metrics: dict[str, float | None]) -> tuple[float | None, str]:
    used = {k: w for k, w in WEIGHTS.items() if metrics.get(k) is not None}
    total = sum(used.values())
    terms = " + ".join(f"{w:.2f}*{k}" for k, w in used.items())
    formula = f"overall = ({terms}) / {total:.2f}" if used else "overall = n/a (nothing measured)"
    if not used:
        return None, formula
    return sum(w * float(metrics[k] or 0.0) for k, w in used.items()) / total, formula


def _p50(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def performance_metrics(scores: Sequence[CaseScore], wall_s: float, peak_rss_mb: float) -> dict[str, float | None]:
    tokens = sum(s.completion_tokens for s in scores)
    gen = sum(s.generation_s for s in scores)
    return {
        "time_to_first_token_p50_s": _p50([s.time_to_first_token_s for s in scores]),
        "time_to_first_call_p50_s": _p50([s.time_to_first_call_s for s in scores]),
        "total_p50_s": _p50([s.total_s for s in scores]),
        "total_mean_s": statistics.fmean([s.total_s for s in scores]) if scores else None,
        "tokens_per_s": tokens / gen if gen > 0 else None,
        "samples_per_s": len(scores) / wall_s if wall_s > 0 else None,
        "peak_rss_mb": peak_rss_mb,
    }


def breakdown(scores: Sequence[CaseScore], key: str) -> dict[str, dict[str, Any]]:
    """Metrics per sample kind (`key="kind"`) or per expected tool (`key="tool"`)."""
    groups: dict[str, list[CaseScore]] = defaultdict(list)
    for score in scores:
        if key == "tool":
            for name in set(score.expected_tools):
                groups[name].append(score)
        else:
            groups[score.kind].append(score)
    out = {}
    for name, members in sorted(groups.items()):
        metrics = quality_metrics(members)
        out[name] = {"n": len(members), **{k: v for k, v in metrics.items() if v is not None}}
        out[name]["pass_rate"] = sum(m.passed for m in members) / len(members)
    return out


def worst(scores: Sequence[CaseScore], n: int = 5) -> list[CaseScore]:
    """Failed cases, the most broken first (garbage and unknown tools before wrong values)."""

    def severity(score: CaseScore) -> tuple[int, int]:
        rank = 3 if score.stop_reason in ("garbage", "empty", "error") else 2 if score.selection_ok is False else 1
        return (-rank, -len(score.problems) - len(score.failures))

    return sorted((s for s in scores if not s.passed), key=severity)[:n]
