"""One evaluation as every front end asks for it: the request, its one runner, and its CLI form.

`edgefabric eval`, the TUI's Evaluate screen, the demo journey and an improve round each
build an `EvalRequest` and call `run_eval`; before this, each wired the backend, toolbox,
agent settings and report by hand, and the copies disagreed (token cap, family, engine
closing, tool sets). The TUI's "copy CLI command" is `request.command()`, so what it
copies is what it runs (tests/app/test_evaluate.py parses it back with the CLI).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from edgefabric.app.command import at, quoted_path
from edgefabric.errors import EdgeFabricError
from edgefabric.events import EventSink, PhaseStarted, ignore_events

if TYPE_CHECKING:
    from edgefabric.config import ProjectConfig
    from edgefabric.pipeline.evaluate.runner import EvalReport

STAGE = "eval"
CONSTRAIN_CHOICES = ("off", "auto", "required")
DEFAULT_OUT = Path("eval-report.json")


@dataclass(frozen=True)
class EvalRequest:
    """Evaluate `model` on held-out cases and write the report to `out`.

    - `samples`: Sample JSONL files (held-out splits); `bfcl`: BFCL question files, with
      `answers` for a single one (else found beside it). At least one source is needed.
    - `tools`: tool sets whose calls execute in the sandbox (built-in names, .py modules).
    - `family`: a registered chat format or alias (runtime/formats/registry.py); None guesses it from the model.
    - `backend`: auto, llama.cpp, onnxruntime-genai or transformers.
    - `profile`: the device profile (runtime.profiles); `max_tokens` None means its cap per step.
    - `max_samples`: at most this many cases per source; `max_steps`: agent steps per case.
    The field defaults are the CLI's option defaults.
    """

    model: str
    samples: tuple[Path, ...] = ()
    bfcl: tuple[Path, ...] = ()
    answers: Path | None = None
    tools: tuple[str, ...] = ()
    family: str | None = None
    backend: str = "auto"
    profile: str = "laptop"
    constrained: str = "off"
    max_samples: int | None = None
    max_steps: int = 4
    max_tokens: int | None = None
    out: Path = DEFAULT_OUT

    @classmethod
    def for_project(
        cls, config: ProjectConfig, model: str, *, cases: Path, out: Path, family: str | None = None
    ) -> EvalRequest:
        """A project's evaluation of `model` on `cases`: its tool sets, device profile and eval settings."""
        return cls(
            model=model,
            samples=(cases,),
            tools=tuple(config.tools.sets()),
            family=family,
            profile=config.eval.device_profile,
            max_samples=config.eval.max_samples,
            max_steps=config.eval.max_steps,
            out=out,
        )

    def check(self) -> None:
        """EdgeFabricError naming the problem and the fix if the request cannot run as asked."""
        if not self.samples and not self.bfcl:
            raise EdgeFabricError("nothing to evaluate", "pass --samples test.jsonl and/or --bfcl questions.json")
        if self.answers is not None and len(self.bfcl) != 1:
            raise EdgeFabricError("--answers goes with exactly one --bfcl file", "pass one --bfcl, or drop --answers")
        if self.constrained not in CONSTRAIN_CHOICES:
            raise EdgeFabricError(
                f"--constrained {self.constrained!r} is not known", f"use one of: {', '.join(CONSTRAIN_CHOICES)}"
            )

    def command(self, cwd: Path | None = None) -> str:
        """The `edgefabric eval ...` command line for this request; paths under `cwd` are written relative.

        Options at their default are left out; the CLI parses the line back to an equal request.
        """

        def show(path: Path | str) -> str:
            return quoted_path(path, cwd)

        parts = ["edgefabric", "eval", show(self.model)]
        parts += [f"--samples {show(path)}" for path in self.samples]
        parts += [f"--bfcl {show(path)}" for path in self.bfcl]
        if self.answers is not None:
            parts.append(f"--answers {show(self.answers)}")
        parts += [f"--tools {shlex.quote(name)}" for name in self.tools]
        defaults = EvalRequest(model=self.model)
        for option, value in (
            ("family", self.family),
            ("backend", self.backend),
            ("profile", self.profile),
            ("constrained", self.constrained),
            ("max-samples", self.max_samples),
            ("max-steps", self.max_steps),
            ("max-tokens", self.max_tokens),
        ):
            if value is not None and value != getattr(defaults, option.replace("-", "_")):
                parts.append(f"--{option} {shlex.quote(str(value))}")
        parts.append(f"--out {show(self.out)}")
        return " ".join(parts)

    def under(self, root: Path) -> EvalRequest:
        """The request with relative paths taken as relative to `root` (where its command runs)."""

        model = self.model
        if ":" not in model and not Path(model).is_absolute() and (root / model).exists():
            model = str(root / model)  # a path, not a hub id or embedded:NAME
        return replace(
            self,
            model=model,
            samples=tuple(at(p, root) for p in self.samples),
            bfcl=tuple(at(p, root) for p in self.bfcl),
            answers=at(self.answers, root) if self.answers is not None else None,
            out=at(self.out, root),
        )


def run_eval(request: EvalRequest, *, on_event: EventSink = ignore_events) -> EvalReport:
    """Run `request`: load its cases, tools and model, evaluate, write the report, close the engine.

    Events: PhaseStarted (loading the model), the sandbox build's, then the Evaluator's StageStarted, Progress
    per case and StageDone. Returns the report, already saved at `request.out` (through a
    temporary file). Raises EdgeFabricError for a request that cannot run (see `check`), a
    missing or empty case file, an unknown profile or backend, or a model that does not load.
    """
    from edgefabric.pipeline.evaluate.cases import load_bfcl_cases, load_sample_cases
    from edgefabric.pipeline.evaluate.report import save_report
    from edgefabric.pipeline.evaluate.runner import Evaluator
    from edgefabric.runtime.backends import guess_family, load_backend
    from edgefabric.runtime.profiles import get_profile
    from edgefabric.runtime.sandbox import load_toolbox

    request.check()
    profile = get_profile(request.profile)
    cases = [c for path in request.samples for c in load_sample_cases(path, request.max_samples)]
    cases += [c for path in request.bfcl for c in load_bfcl_cases(path, request.answers, request.max_samples)]
    box = load_toolbox(list(request.tools), on_event=on_event) if request.tools else None
    on_event(PhaseStarted(STAGE, f"loading {request.model}"))
    engine = load_backend(request.model, backend=request.backend, profile=profile)
    try:
        evaluator = Evaluator(
            engine,
            request.family or guess_family(request.model),
            toolbox=box,
            max_steps=request.max_steps,
            max_tokens=request.max_tokens or profile.max_tokens,
            constrain=request.constrained,  # type: ignore[arg-type]  # checked above
        )
        report = evaluator.run(
            cases,
            model=request.model,
            profile=profile.name,
            tool_sets=list(request.tools),
            sources=[str(path) for path in (*request.samples, *request.bfcl)],
            on_event=on_event,
        )
    finally:
        engine.close()
    save_report(report, request.out)
    return report
