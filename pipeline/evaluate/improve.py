"""`improve`: from an eval report, aim the next round of data at what the model does worst.

The analysis ranks kinds and tools by how often their cases fail, and turns that into
generation weights: each kind's weight (and each tool's focus weight) grows with its
failure rate, with a floor so nothing strong is dropped entirely. Rounds are recorded
in `rounds.json` under the run folder: the report each round was planned from, its
scores and the settings it asked for.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from edgefabric.config import SAMPLE_KINDS, ProjectConfig
from edgefabric.pipeline.evaluate.runner import EvalReport

FLOOR = 0.05  # every kind keeps at least this share, so strengths are not forgotten
# BFCL categories map onto the sample kinds the generator knows.
_CATEGORY_KIND = {
    "simple": "single",
    "multiple": "single",
    "parallel": "parallel",
    "parallel_multiple": "parallel",
    "irrelevance": "no_call",
}


class Weakness(BaseModel):
    name: str
    n: int
    pass_rate: float


class ImprovePlan(BaseModel):
    source_report: str
    overall: float | None
    weakest_kinds: list[Weakness]
    weakest_tools: list[Weakness]
    kind_weights: dict[str, float]  # -> generation.kinds
    tool_weights: dict[str, float]  # how much of the new data should exercise each tool
    num_samples: int


class Round(BaseModel):
    round: int
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    report: str
    overall: float | None
    metrics: dict[str, float | None]
    plan: ImprovePlan
    stages_done: list[str] = Field(default_factory=list)
    stages_left: list[str] = Field(default_factory=list)
    # Filled when the round was run through (generate -> train -> eval): the new model's scores.
    result_report: str | None = None
    result_overall: float | None = None
    result_metrics: dict[str, float | None] = Field(default_factory=dict)


def _weights(failure: dict[str, float]) -> dict[str, float]:
    raw = {name: FLOOR + rate for name, rate in failure.items()}
    total = sum(raw.values())
    return {name: round(value / total, 4) for name, value in raw.items()}


def plan_from_report(report: EvalReport, source: str, *, num_samples: int = 50, top: int = 3) -> ImprovePlan:
    kind_failure: dict[str, list[float]] = {k: [] for k in SAMPLE_KINDS}
    weakest_kinds = []
    for name, group in report.per_kind.items():
        kind = _CATEGORY_KIND.get(name, name)
        if kind in kind_failure:
            kind_failure[kind].append(1.0 - float(group["pass_rate"]))
        weakest_kinds.append(Weakness(name=name, n=int(group["n"]), pass_rate=float(group["pass_rate"])))
    # Kinds the eval never saw get the mean failure rate: unknown is not the same as strong.
    seen = [sum(v) / len(v) for v in kind_failure.values() if v]
    default = sum(seen) / len(seen) if seen else 0.5
    kind_weights = _weights({k: (sum(v) / len(v) if v else default) for k, v in kind_failure.items()})
    tools = [Weakness(name=n, n=int(g["n"]), pass_rate=float(g["pass_rate"])) for n, g in report.per_tool.items()]
    tool_weights = _weights({t.name: 1.0 - t.pass_rate for t in tools}) if tools else {}
    return ImprovePlan(
        source_report=source,
        overall=report.overall,
        weakest_kinds=sorted(weakest_kinds, key=lambda w: w.pass_rate)[:top],
        weakest_tools=sorted(tools, key=lambda w: w.pass_rate)[:top],
        kind_weights=kind_weights,
        tool_weights=tool_weights,
        num_samples=num_samples,
    )


def apply_plan(config: ProjectConfig, plan: ImprovePlan) -> ProjectConfig:
    """The next round's config: `config` (not changed) with the plan's kind weights and sample count.

    The one place a plan becomes a config: the CLI's improve, the TUI's and a chained round all
    call it (the TUI's own copy used to drop num_samples). Kinds weighted 0 are left out.
    """
    following = config.model_copy(deep=True)
    following.generation.kinds = {kind: weight for kind, weight in plan.kind_weights.items() if weight > 0}
    following.generation.num_samples = plan.num_samples
    return following


def record_round(run_dir: Path, report: EvalReport, report_path: Path, plan: ImprovePlan, **extra: Any) -> Round:
    """Append a round to run_dir/rounds.json (rewritten through a temporary file)."""
    path = run_dir / "rounds.json"
    rounds: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    entry = Round(
        round=len(rounds) + 1,
        report=str(report_path),
        overall=report.overall,
        metrics=report.metrics,
        plan=plan,
        **extra,
    )
    rounds.append(json.loads(entry.model_dump_json()))
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(rounds, indent=2), encoding="utf-8")
    tmp.replace(path)
    return entry


def load_rounds(run_dir: Path) -> list[Round]:
    path = run_dir / "rounds.json"
    if not path.exists():
        return []
    return [Round.model_validate(r) for r in json.loads(path.read_text(encoding="utf-8"))]
