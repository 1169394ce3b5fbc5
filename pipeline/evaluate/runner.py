"""Run eval cases through the runtime's agent loop and score them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from edgefabric.events import EventSink, Progress, StageDone, StageStarted, ignore_events
from edgefabric.pipeline.evaluate.cases import EvalCase
from edgefabric.pipeline.evaluate.equivalence import Run, match_equivalent, task_problems
from edgefabric.pipeline.evaluate.matching import match_calls
from edgefabric.pipeline.evaluate.scoring import (
    CaseScore,
    breakdown,
    metric_counts,
    no_call_baseline,
    overall,
    performance_metrics,
    quality_metrics,
    summary_line,
    worst,
)
from edgefabric.runtime.agent import Agent, AgentResult, Constrain
from edgefabric.runtime.backends.base import Backend
from edgefabric.runtime.memory import peak_rss_mb

_RAW_LIMIT = 2000


class EvalReport(BaseModel):
    """An eval run: every metric with its counts, the no-call baseline, performance, and every case.

    `metrics` maps each name of `scoring.METRICS` to a share in [0, 1] (None: not measured);
    `counts` gives each as [passed, of]; `baseline` is what a model that never calls scores on
    the same cases (every metric and "overall"); `summary` is one line saying both. Reports of
    version 1 (before counts and the baseline) still load, with those fields empty.
    """

    version: int = 2
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    model: str
    backend: str
    family: str
    profile: str
    constrain: str
    sources: list[str] = Field(default_factory=list)
    tool_sets: list[str] = Field(default_factory=list)
    n: int
    metrics: dict[str, float | None]
    counts: dict[str, tuple[int, int]] = Field(default_factory=dict)
    overall: float | None
    formula: str
    baseline: dict[str, float | None] = Field(default_factory=dict)
    summary: str = ""
    performance: dict[str, float | None]
    per_kind: dict[str, dict[str, Any]]
    per_tool: dict[str, dict[str, Any]]
    worst: list[CaseScore]
    cases: list[CaseScore]


def score_case(case: EvalCase, result: AgentResult, task_ok: bool | None, *, sandbox: bool = False) -> CaseScore:
    """Score one case's agent result: value-level match of the first calling step (exact), the
    irrelevance check, call validity and execution counts. `task_ok` is the multi-step verdict
    (None: not measured); `sandbox` says whether the case's calls ran in a sandbox."""
    by_name = {tool.name: tool for tool in case.tools}
    calls = result.calls
    valid = sum(1 for c in calls if c.name in by_name and not by_name[c.name].argument_errors(c.arguments))
    executed = [ex for ex in result.executed if ex.ok is not None]
    score = CaseScore(
        id=case.id,
        kind=case.kind,
        source=case.source,
        expected_tools=[e.name for e in case.expected or []],
        called_tools=[c.name for c in result.first_calls],
        relevant=case.expected is not None,
        sandbox=sandbox,
        calls_made=len(calls),
        calls_valid=valid,
        calls_executed=len(executed),
        calls_exec_ok=sum(1 for ex in executed if ex.ok),
        failures=[f"{f.kind}: {f.reason}" for f in result.failures],
        stop_reason=result.stop_reason,
        raw_output=result.raw_output[:_RAW_LIMIT],
        time_to_first_token_s=result.time_to_first_token_s,
        time_to_first_call_s=result.time_to_first_call_s,
        total_s=result.total_s,
        completion_tokens=result.completion_tokens,
        generation_s=result.generation_s,
        task_ok=task_ok,
    )
    if case.expected is None:
        score.irrelevance_ok = not calls
        if calls:
            score.problems.append(f"no call was needed; the model called {', '.join(c.name for c in calls)}")
    else:
        match = match_calls(result.first_calls, case.expected, case.tools)
        score.selection_ok, score.params_ok, score.problems = match.selection_ok, match.params_ok, match.problems
    return score


class Evaluator:
    """Runs cases with one loaded backend; a toolbox (sandbox) makes calls really execute."""

    def __init__(
        self,
        backend: Backend,
        family: str,
        *,
        toolbox: Any = None,
        max_steps: int = 4,
        max_tokens: int = 256,
        constrain: Constrain = "off",
    ) -> None:
        self.backend = backend
        self.family = family
        self.toolbox = toolbox
        self.max_steps = max_steps
        self.max_tokens = max_tokens
        self.constrain: Constrain = constrain
        self._box_tools = {spec.name for spec in toolbox.specs} if toolbox is not None else set()

    def _runnable(self, case: EvalCase) -> bool:
        return self.toolbox is not None and bool(case.tools) and {t.name for t in case.tools} <= self._box_tools

    def run_case(self, case: EvalCase) -> CaseScore:
        """Run one case through the agent loop and score it; with a sandbox covering its tools the
        calls execute, multi-step cases are judged on execution, and equivalence is measured."""
        agent = Agent(
            self.backend,
            self.family,
            case.tools,
            max_steps=self.max_steps if (case.multi_step or self._runnable(case)) else 1,
            max_tokens=self.max_tokens,
            constrain=self.constrain if case.tools else "off",
        )
        if not self._runnable(case):
            return score_case(case, agent.run(case.messages), None)
        scenario = self._scenario(case)
        with self.toolbox.session(scenario=scenario) as session:
            result = agent.run(case.messages, session)
            final_state = session.state()
        problems: list[str] = []
        task_ok = None
        if case.multi_step:
            made = [(ex.call, bool(ex.ok), ex.content) for ex in result.executed if ex.ok is not None]
            runs, reference_state = self.reference_runs(case)
            problems = task_problems(made, final_state, runs, reference_state)
            task_ok = not problems
        score = score_case(case, result, task_ok, sandbox=True)
        score.problems += problems
        if case.expected is not None:
            score.equivalent_ok = bool(score.params_ok) or match_equivalent(
                result.first_calls, case.expected, case.tools, self.toolbox, scenario
            )
        return score

    def _scenario(self, case: EvalCase) -> Any:
        # Generated samples name their seed state by index into the tool sets' scenarios.
        if isinstance(case.scenario, int) and not isinstance(case.scenario, bool):
            scenarios = list(self.toolbox.scenarios())
            return scenarios[case.scenario] if 0 <= case.scenario < len(scenarios) else None
        return case.scenario

    def reference_runs(self, case: EvalCase) -> tuple[list[Run], Any]:
        """Replay the reference calls in order in one fresh session: each call's outcome and whether
        it changed the state, and the state the task should end in."""
        runs = []
        with self.toolbox.session(scenario=self._scenario(case)) as session:
            for call in case.reference_calls:
                before = session.state()
                outcome = session.call(call.name, call.arguments)
                after = session.state()
                runs.append(Run(call, bool(outcome.ok), str(outcome.content), after != before, after))
            return runs, session.state()

    def run(
        self,
        cases: Sequence[EvalCase],
        *,
        model: str = "",
        profile: str = "",
        tool_sets: Sequence[str] = (),
        sources: Sequence[str] = (),
        on_event: EventSink = ignore_events,
    ) -> EvalReport:
        on_event(StageStarted("eval", total=len(cases), detail=f"{model} on {len(cases)} case(s)"))
        start = time.perf_counter()
        scores: list[CaseScore] = []
        for case in cases:
            scores.append(self.run_case(case))
            passed = sum(s.passed for s in scores)
            on_event(Progress("eval", len(scores), len(cases), {"pass_rate": passed / len(scores)}))
        wall = time.perf_counter() - start
        counts = metric_counts(scores)
        metrics = quality_metrics(scores)
        score, formula = overall(scores)
        baseline = no_call_baseline(scores)
        report = EvalReport(
            model=model,
            backend=self.backend.name,
            family=self.family,
            profile=profile,
            constrain=self.constrain,
            sources=list(sources),
            tool_sets=list(tool_sets),
            n=len(scores),
            metrics=metrics,
            counts=counts,
            overall=score,
            formula=formula,
            baseline=baseline,
            summary=summary_line(counts, score, baseline["overall"]),
            performance=performance_metrics(scores, wall, peak_rss_mb()),
            per_kind=breakdown(scores, "kind"),
            per_tool=breakdown(scores, "tool"),
            worst=worst(scores),
            cases=scores,
        )
        on_event(StageDone("eval", {"overall": score, "n": len(scores), "baseline": baseline["overall"]}))
        return report
