"""Per-case scores and the aggregate metrics of an eval run, with the overall score's formula."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

# The metrics of a report, in display order. Each is a share `passed / of`; the report keeps both
# numbers (`EvalReport.counts`), and a metric whose denominator is 0 is None (not measured).
METRICS: tuple[str, ...] = (
    "tool_selection_accuracy",
    "parameter_accuracy",
    "equivalent_accuracy",
    "schema_validity_rate",
    "execution_success_rate",
    "irrelevance_accuracy",
    "multi_step_success",
)
SHORT_NAMES: dict[str, str] = {
    "tool_selection_accuracy": "selection",
    "parameter_accuracy": "parameters",
    "equivalent_accuracy": "equivalent",
    "schema_validity_rate": "valid calls",
    "execution_success_rate": "executed ok",
    "irrelevance_accuracy": "irrelevance",
    "multi_step_success": "multi-step",
}

# Weights of the parts of a call case's score in `overall` (see `overall`). A part that does not
# apply to a case (no sandbox: execution; not multi-step: multi_step_success) drops out of that
# case, and the remaining weights are renormalised.
WEIGHTS: dict[str, float] = {
    "tool_selection_accuracy": 0.20,
    "parameter_accuracy": 0.35,
    "schema_validity_rate": 0.10,
    "execution_success_rate": 0.10,
    "multi_step_success": 0.15,
}


class CaseScore(BaseModel):
    id: str
    kind: str
    source: str
    expected_tools: list[str] = Field(default_factory=list)
    called_tools: list[str] = Field(default_factory=list)
    relevant: bool = True  # a call is expected
    sandbox: bool = False  # the case's tools ran in a sandbox (execution and equivalence were measurable)
    selection_ok: bool | None = None
    params_ok: bool | None = None  # exact, value-level match (BFCL's AST checker)
    equivalent_ok: bool | None = None  # exact, or the sandbox gives the same result/state (needs a sandbox)
    irrelevance_ok: bool | None = None
    task_ok: bool | None = None  # multi-step cases with a sandbox: the expected calls made, succeeded, same end
    calls_made: int = 0
    calls_valid: int = 0
    calls_executed: int = 0  # calls sent to a sandbox (0 when no sandbox could run them)
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


def _share(flags: Sequence[bool | None]) -> tuple[int, int]:
    known = [bool(v) for v in flags if v is not None]
    return sum(known), len(known)


def metric_counts(scores: Sequence[CaseScore]) -> dict[str, tuple[int, int]]:
    """Each metric as (passed, of): the numbers behind `quality_metrics`.

    tool_selection_accuracy / parameter_accuracy: call cases whose first calling step called the
    expected tools / with every value matching (exact). equivalent_accuracy: call cases run in a
    sandbox whose calls match exactly or are execution-equivalent. schema_validity_rate: calls
    naming a known tool with schema-valid arguments, over calls made plus call cases that made no
    call (each counts as one invalid call). execution_success_rate: calls that ran in the sandbox and
    succeeded, over calls executed plus sandboxed call cases that executed none. irrelevance_accuracy:
    no-call cases where no call was made. multi_step_success: multi-step cases with a sandbox whose
    expected calls were made and succeeded and which ended in the reference state.
    A model that never calls scores 0 on each of these but irrelevance_accuracy.
    """
    relevant = [s for s in scores if s.relevant]
    silent = [s for s in relevant if s.calls_made == 0]
    unexecuted = [s for s in relevant if s.sandbox and s.calls_executed == 0]
    return {
        "tool_selection_accuracy": _share([s.selection_ok for s in relevant]),
        "parameter_accuracy": _share([s.params_ok for s in relevant]),
        "equivalent_accuracy": _share([s.equivalent_ok for s in relevant]),
        "schema_validity_rate": (sum(s.calls_valid for s in scores), sum(s.calls_made for s in scores) + len(silent)),
        "execution_success_rate": (
            sum(s.calls_exec_ok for s in scores),
            sum(s.calls_executed for s in scores) + len(unexecuted),
        ),
        "irrelevance_accuracy": _share([s.irrelevance_ok for s in scores if not s.relevant]),
        "multi_step_success": _share([s.task_ok for s in scores]),
    }


def quality_metrics(scores: Sequence[CaseScore]) -> dict[str, float | None]:
    """Each metric of `metric_counts` as a share in [0, 1]; None where its denominator is 0."""
    return {name: (passed / of if of else None) for name, (passed, of) in metric_counts(scores).items()}


def case_quality(score: CaseScore) -> float:
    """One case's share of `overall`, in [0, 1].

    A no-call case: 1 when no call was made, else 0. A call case: the weighted mean (WEIGHTS) of
    selection right, every value right (exact), the share of its calls that were schema-valid, the
    share of its executed calls that succeeded (sandboxed cases only) and the multi-step task done
    (multi-step cases with a sandbox only). A call case that made no call scores 0.
    """
    if not score.relevant:
        return 1.0 if score.irrelevance_ok else 0.0
    parts = {
        "tool_selection_accuracy": float(bool(score.selection_ok)),
        "parameter_accuracy": float(bool(score.params_ok)),
        "schema_validity_rate": score.calls_valid / score.calls_made if score.calls_made else 0.0,
    }
    if score.sandbox:
        parts["execution_success_rate"] = score.calls_exec_ok / score.calls_executed if score.calls_executed else 0.0
    if score.task_ok is not None:
        parts["multi_step_success"] = float(score.task_ok)
    total = sum(WEIGHTS[k] for k in parts)
    return sum(WEIGHTS[k] * v for k, v in parts.items()) / total


def overall(scores: Sequence[CaseScore]) -> tuple[float | None, str]:
    """The overall score and its formula as printed in the report.

    overall = (sum of case_quality over every case) / number of cases. Each case weighs the same,
    so no-call cases weigh their share of the cases: a model that never calls scores exactly the
    share of no-call cases (the no-call baseline), and can reach more only by calling right.
    None when there are no cases.
    """
    n = len(scores)
    if not n:
        return None, "overall = n/a (no cases)"
    irrelevant = sum(1 for s in scores if not s.relevant)
    parts = " + ".join(f"{w:.2f}*{k}" for k, w in WEIGHTS.items())
    formula = (
        f"overall = mean over {n} case(s) of: no-call case ({irrelevant}): 1 if no call was made; "
        f"call case ({n - irrelevant}): ({parts}) / (weights that apply to the case), each part 0 when "
        f"no call was made; execution only with a sandbox, multi_step only for multi-step cases"
    )
    return sum(case_quality(s) for s in scores) / n, formula


def no_call_baseline(scores: Sequence[CaseScore]) -> dict[str, float | None]:
    """What a model that never calls would score on these cases: every metric and `overall`.

    Such a model gets every no-call case right and nothing else, so each metric but
    irrelevance_accuracy is 0 (None where the run measured nothing) and overall is the share of
    no-call cases.
    """
    silent = [
        score.model_copy(
            update={
                "selection_ok": False if score.relevant else None,
                "params_ok": False if score.relevant else None,
                "equivalent_ok": False if score.relevant and score.equivalent_ok is not None else None,
                "irrelevance_ok": None if score.relevant else True,
                "task_ok": False if score.task_ok is not None else None,
                "calls_made": 0,
                "calls_valid": 0,
                "calls_executed": 0,
                "calls_exec_ok": 0,
            }
        )
        for score in scores
    ]
    return {**quality_metrics(silent), "overall": overall(silent)[0]}


def summary_line(
    counts: dict[str, tuple[int, int]], score: float | None, baseline: float | None, *, prefix: str = ""
) -> str:
    """One line: every measured metric as passed/of, overall, and how far it is above the no-call baseline."""
    parts = [f"{SHORT_NAMES.get(k, k)} {p}/{o}" for k, (p, o) in counts.items() if o]
    head = f"overall {score:.1%}" if score is not None else "overall n/a"
    if score is not None and baseline is not None:
        head += f", {(score - baseline) * 100:+.1f} points over the no-call baseline ({baseline:.1%})"
    return prefix + head + ("; " + ", ".join(parts) if parts else "")


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
        rank = (
            3
            if score.stop_reason in ("garbage", "empty", "error", "length")
            else 2
            if score.selection_ok is False
            else 1
        )
        return (-rank, -len(score.problems) - len(score.failures))

    return sorted((s for s in scores if not s.passed), key=severity)[:n]
