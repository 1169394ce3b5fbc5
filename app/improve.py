"""One improve round as every front end asks for it: plan from a report -> next round's config -> recorded.

`edgefabric improve` and the TUI's Evaluate screen (`i`) build an `ImproveRequest` and call
`run_improve`; that is the one place a plan becomes a config file (through
`pipeline.evaluate.improve.apply_plan`) and a round is recorded. With `chain` it also runs
the round (`run_round`: generate -> train -> evaluate the merged model).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgefabric.app.command import at, quoted_path
from edgefabric.errors import EdgeFabricError
from edgefabric.events import EventSink, Note, PhaseStarted, ignore_events

if TYPE_CHECKING:
    from edgefabric.pipeline.evaluate.improve import ImprovePlan, Round
    from edgefabric.pipeline.evaluate.runner import EvalReport

STAGE = "improve"
REPORT_NAME = "eval-report.json"  # what a RUN folder given instead of a report holds
CONFIG_OUT_NAME = "improve-config.yaml"  # written beside the report unless config_out says otherwise


@dataclass(frozen=True)
class ImproveRequest:
    """Plan the next data round from the eval report `report` (or RUN/eval-report.json for a folder).

    - `config`: the project config to start from (None: the defaults); the plan's kind weights
      and `num_samples` are applied to it and the result written to `config_out`
      (default: improve-config.yaml beside the report).
    - `chain`: also run the round here (needs `config`); `train_steps` / `max_eval` cap it.
    The field defaults are the CLI's option defaults.
    """

    report: Path
    config: Path | None = None
    config_out: Path | None = None
    num_samples: int = 50
    chain: bool = False
    train_steps: int | None = None
    max_eval: int | None = None

    @property
    def report_path(self) -> Path:
        """The report file itself."""
        return self.report / REPORT_NAME if self.report.is_dir() else self.report

    @property
    def target(self) -> Path:
        """Where the next round's config is written."""
        return self.config_out or self.report_path.parent / CONFIG_OUT_NAME

    def check(self) -> None:
        """EdgeFabricError naming the problem and the fix if the request cannot run as asked."""
        if self.chain and self.config is None:
            raise EdgeFabricError("--chain needs the project config", "pass --config edgefabric.yaml")

    def command(self, cwd: Path | None = None) -> str:
        """The `edgefabric improve ...` line for this request (defaults left out; paths under `cwd` relative)."""
        parts = ["edgefabric", "improve", quoted_path(self.report, cwd)]
        if self.config is not None:
            parts.append(f"--config {quoted_path(self.config, cwd)}")
        if self.config_out is not None:
            parts.append(f"--config-out {quoted_path(self.config_out, cwd)}")
        if self.num_samples != ImproveRequest.num_samples:
            parts.append(f"--num-samples {self.num_samples}")
        if self.chain:
            parts.append("--chain")
        for option, value in (("train-steps", self.train_steps), ("max-eval", self.max_eval)):
            if value is not None:
                parts.append(f"--{option} {shlex.quote(str(value))}")
        return " ".join(parts)

    def under(self, root: Path) -> ImproveRequest:
        """The request with relative paths taken as relative to `root` (where its command runs)."""
        return replace(
            self,
            report=at(self.report, root),
            config=at(self.config, root) if self.config is not None else None,
            config_out=at(self.config_out, root) if self.config_out is not None else None,
        )


@dataclass
class ImproveResult:
    """What a round planned (and, chained, what it reached): the plan, the config written, the round recorded."""

    report: EvalReport
    plan: ImprovePlan
    config_out: Path
    round: Round
    rounds: list[Round] = field(default_factory=list)


def run_improve(request: ImproveRequest, *, on_event: EventSink = ignore_events) -> ImproveResult:
    """Run `request`: read the report, plan, write the next round's config, (run the round,) record it.

    Events: Notes (planning, the config written), and with `chain` every event of the round's
    generate, train and eval. Raises EdgeFabricError for a request that cannot run (`check`)
    or a report or config that cannot be read.
    """
    from edgefabric.config import ProjectConfig, load_config, save_config
    from edgefabric.pipeline.evaluate.improve import apply_plan, load_rounds, plan_from_report, record_round
    from edgefabric.pipeline.evaluate.report import load_report

    request.check()
    request = request.under(Path.cwd())  # rounds.json names files by absolute path: readable from any folder
    report_path = request.report_path
    on_event(Note(STAGE, f"planning from {report_path.name}"))
    report = load_report(report_path)
    plan = plan_from_report(report, str(report_path), num_samples=request.num_samples)
    target = request.target
    save_config(apply_plan(load_config(request.config) if request.config else ProjectConfig(), plan), target)
    extra: dict[str, Any]
    if request.chain:
        round_number = len(load_rounds(report_path.parent)) + 1
        new_path, new_report = run_round(
            target,
            report_path.parent / f"round-{round_number}",
            train_steps=request.train_steps,
            max_eval=request.max_eval,
            on_event=on_event,
        )
        extra = {
            "stages_done": ["generate", "train", "eval"],
            "result_report": str(new_path),
            "result_overall": new_report.overall,
            "result_metrics": new_report.metrics,
        }
    else:
        extra = {"stages_left": [f"generate (edgefabric generate {target} --out DATA)", "train", "eval"]}
    entry = record_round(report_path.parent, report, report_path, plan, **extra)
    on_event(Note(STAGE, f"round {entry.round} from {report_path.name}: next round's config in {target}"))
    return ImproveResult(report, plan, target, entry, load_rounds(report_path.parent))


def run_round(
    config_path: Path,
    round_dir: Path,
    *,
    train_steps: int | None = None,
    max_eval: int | None = None,
    on_event: EventSink = ignore_events,
) -> tuple[Path, EvalReport]:
    """One full round on the planned config at `config_path`: generate data -> train -> evaluate the merged model.

    Everything lands in `round_dir` (config.yaml, data/, train/, eval-report.json). Returns the new
    eval report's path and the report; the caller records the round.
    """
    from edgefabric.app.evaluate import EvalRequest, run_eval
    from edgefabric.app.generate import GenerateRequest, run_generate
    from edgefabric.app.train import TrainRequest, run_train
    from edgefabric.config import load_config, save_config
    from edgefabric.pipeline.generate.run import run_started

    config = load_config(config_path)
    round_dir.mkdir(parents=True, exist_ok=True)
    round_config = round_dir / "config.yaml"
    save_config(config, round_config)
    data_dir = round_dir / "data"
    on_event(PhaseStarted(STAGE, f"round in {round_dir}: generate -> train -> eval"))
    run_generate(GenerateRequest(config=round_config, out=data_dir, resume=run_started(data_dir)), on_event=on_event)
    train = TrainRequest(config=round_config, data=data_dir, out=round_dir / "train", max_steps=train_steps)
    trained = run_train(train, on_event=on_event)
    model_dir = trained.merged or trained.adapter
    request = EvalRequest.for_project(
        config,
        str(model_dir),
        cases=data_dir / "test.jsonl",
        out=round_dir / "eval-report.json",
        family=config.model.family,
    )
    # The merged folder is an HF model: transformers runs it without an export.
    request = replace(request, backend="transformers", max_samples=max_eval or request.max_samples)
    report = run_eval(request, on_event=on_event)
    return request.out, report
