"""The calls each screen runs in its worker: the real stage entry functions, with the
project's config and folders, and the sink. No stage logic lives here."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from edgefabric.config import ProjectConfig
from edgefabric.errors import ConfigError, EdgeFabricError
from edgefabric.events import Note, PhaseStarted, ReplyText, ToolCallExecuted
from edgefabric.tui.bridge import StageCall, TextualSink
from edgefabric.tui.project import Project, family_for

if TYPE_CHECKING:
    from edgefabric.pipeline.evaluate.request import EvalRequest


class ErrorShower(Protocol):
    """Where a call that cannot start shows why (a screen's error panel); screens are not imported here."""

    def show_error(self, stage: str, problem: str, fix: str | None = None, details: str = "") -> None: ...


def project_config(project: Project, screen: ErrorShower) -> ProjectConfig | None:
    """The saved config, or None with the problems shown in the screen's error panel."""
    if not project.exists:
        screen.show_error("Project", f"no edgefabric.yaml in {project.root}", "create the project on screen 1 first")
        return None
    try:
        return project.load()
    except ConfigError as exc:
        screen.show_error("Project", "\n".join(exc.problems), exc.fix)
        return None
    except EdgeFabricError as exc:
        screen.show_error("Project", exc.problem, exc.fix)
        return None


def generate_resumes(project: Project) -> bool:
    """An earlier run's samples are in data/: continue it (nothing repeated, nothing lost)."""
    return any((project.data_dir / name).exists() for name in ("samples.jsonl", "rejects.jsonl", "run-config.yaml"))


def generate_command(project: Project) -> str:
    resume = " --resume" if generate_resumes(project) else ""
    return f"cd {project.root} && edgefabric generate edgefabric.yaml --out data{resume}"


def generate_call(project: Project, screen: ErrorShower) -> StageCall | None:
    """`edgefabric generate edgefabric.yaml --out data [--resume]`, in the worker."""
    config = project_config(project, screen)
    if config is None:
        return None
    from edgefabric.pipeline.generate.run import generate

    out_dir = project.data_dir
    resume = generate_resumes(project)
    return lambda sink: generate(config, out_dir, resume=resume, on_event=sink)


def run_dir(project: Project, config: ProjectConfig) -> Path:
    return project.layout.run(config.name)


def train_resumes(project: Project, config: ProjectConfig) -> bool:
    """A run is already in runs/NAME: continue it from its last checkpoint."""
    folder = run_dir(project, config)
    return (folder / "config.yaml").exists() or (folder / "checkpoints").exists()


def train_command(project: Project, config: ProjectConfig) -> str:
    resume = " --resume" if train_resumes(project, config) else ""
    return f"cd {project.root} && edgefabric train edgefabric.yaml --data data --out runs/{config.name}{resume}"


def train_call(project: Project, screen: ErrorShower) -> StageCall | None:
    """`edgefabric train edgefabric.yaml --data data --out runs/NAME [--resume]`, in the worker."""
    config = project_config(project, screen)
    if config is None:
        return None
    if not (project.data_dir / "train.jsonl").exists():
        screen.show_error(
            "Train",
            f"no training data: {project.data_dir / 'train.jsonl'} does not exist",
            "generate data on screen 2 first",
        )
        return None
    from edgefabric.pipeline.train import train

    out_dir = run_dir(project, config)
    resume = train_resumes(project, config)
    return lambda sink: train(config, project.data_dir, out_dir, resume=resume, on_event=sink)


def export_sources(project: Project, config: ProjectConfig) -> list[tuple[str, str]]:
    """(label, spec) the Export screen offers: finished training runs (merged/), then the base model."""
    runs = [p.parent.parent for p in project.files("runs", "config.json") if p.parent.name == "merged"]
    choices = [(f"runs/{run.name} (trained)", str(run)) for run in runs]
    choices.append((f"{config.model.base} (base, untrained)", config.model.base))
    return choices


def export_out(project: Project, spec: str) -> Path:
    name = spec.split(":", 1)[1] if spec.startswith("embedded:") else Path(spec).name
    return project.layout.bundle(name)


def export_command(project: Project, spec: str, gguf: list[str], onnx: list[str]) -> str:
    parts = [f"cd {project.root} && edgefabric export {spec}"]
    if gguf:
        parts.append("--gguf " + ",".join(gguf))
    if onnx:
        parts.append("--onnx " + ",".join(onnx))
    parts.append(f"--out {export_out(project, spec).relative_to(project.root)}")
    return " ".join(parts)


def export_call(project: Project, screen: ErrorShower, spec: str, gguf: list[str], onnx: list[str]) -> StageCall | None:
    """`edgefabric export SPEC --gguf ... --onnx ... --out exports/NAME`, in the worker."""
    config = project_config(project, screen)
    if config is None:
        return None
    from edgefabric.export.run import export_model

    out = export_out(project, spec)
    family = config.model.family
    return lambda sink: export_model(spec, gguf=gguf, onnx=onnx, out=out, family=family, on_event=sink)


def chat_call(
    project: Project,
    screen: ErrorShower,
    model: str,
    history: list[Any],
    prompt: str,
    engines: dict[str, Any],
) -> StageCall | None:
    """One turn of `edgefabric chat MODEL --tools ...`: the same Agent, its text and tool calls as events.

    `engines` keeps loaded models between turns (loading is the slow part); it is only
    touched from the worker, one turn at a time.
    """
    config = project_config(project, screen)
    if config is None:
        return None
    family = family_for(project, config, model)
    sets = tool_sets(config)

    def run(sink: TextualSink) -> Any:
        from edgefabric.runtime.agent import Agent, ExecutedCall
        from edgefabric.runtime.backends import load_backend
        from edgefabric.runtime.profiles import get_profile
        from edgefabric.runtime.sandbox import load_toolbox
        from edgefabric.schemas import Message

        profile = get_profile(config.eval.device_profile)
        box = load_toolbox(sets)
        if model not in engines:
            sink(PhaseStarted("chat", f"loading {model}"))
            engines[model] = load_backend(model, profile=profile)

        def on_text(piece: str) -> None:
            sink(ReplyText("chat", piece))

        def on_call(executed: ExecutedCall) -> None:
            sink(
                ToolCallExecuted(
                    "chat",
                    executed.call.name,
                    executed.call.arguments,
                    executed.ok,
                    executed.content,
                    executed.error_kind,
                    executed.elapsed_ms,
                )
            )

        agent = Agent(
            engines[model],
            family,
            box.specs,
            max_steps=config.eval.max_steps,
            max_tokens=profile.max_tokens,
            on_text=on_text,
            on_call=on_call,
        )
        turn = [*history, Message(role="user", content=prompt)]
        with box.session() as session:
            return agent.run(turn, session)  # type: ignore[arg-type]  # ToolSession satisfies it at run time, as in the CLI

    return run


def tool_sets(config: ProjectConfig) -> list[str]:
    """The tool sets the project names, as the CLI's --tools takes them."""
    return config.tools.sets()


def eval_cases_path(project: Project) -> Path:
    return project.layout.test_cases


def report_path(project: Project, model: str) -> Path:
    stem = Path(model).stem if not model.startswith("embedded:") else model.split(":", 1)[1]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return project.layout.reports / f"eval-{stem}-{stamp}.json"


def evaluate_request(project: Project, config: ProjectConfig, model: str) -> EvalRequest:
    """What Evaluate runs for `model`: the held-out split, the project's tools, format and eval settings."""
    from edgefabric.pipeline.evaluate.request import EvalRequest

    return EvalRequest.for_project(
        config,
        model,
        cases=eval_cases_path(project),
        out=report_path(project, model),
        family=family_for(project, config, model),
    )


def evaluate_command(project: Project, config: ProjectConfig, model: str) -> str:
    """The CLI line for what Evaluate runs, rendered from the same request (so they cannot differ)."""
    return f"cd {project.root} && " + evaluate_request(project, config, model).command(cwd=project.root)


def evaluate_call(project: Project, screen: ErrorShower, model: str) -> StageCall | None:
    """`edgefabric eval MODEL --samples data/test.jsonl --tools ... --out reports/...`, in the worker."""
    config = project_config(project, screen)
    if config is None:
        return None
    cases_path = eval_cases_path(project)
    if not cases_path.exists():
        screen.show_error(
            "Evaluate", f"no held-out samples: {cases_path} does not exist", "generate data on screen 2 first"
        )
        return None
    request = evaluate_request(project, config, model)

    def run(sink: TextualSink) -> Any:
        from edgefabric.pipeline.evaluate.request import run_eval

        return run_eval(request, on_event=sink)

    return run


def improve_call(project: Project, screen: ErrorShower, report_path: Path | None) -> StageCall | None:
    """`edgefabric improve REPORT --config edgefabric.yaml --config-out reports/improve-config.yaml`.

    `report_path` is the report the screen shows (the selected model's); None shows why nothing can start.
    """
    config = project_config(project, screen)
    if config is None:
        return None
    if report_path is None:
        screen.show_error(
            "Evaluate",
            "no evaluation report for the selected model yet",
            "press s to evaluate it, or press enter on a report in the Runs tab to use that one",
        )
        return None
    latest = report_path
    target = project.folder("reports") / "improve-config.yaml"

    def run(sink: TextualSink) -> Any:
        from edgefabric.config import save_config
        from edgefabric.pipeline.evaluate.improve import apply_plan, plan_from_report, record_round
        from edgefabric.pipeline.evaluate.report import load_report

        sink(Note("improve", f"planning from {latest.name}"))
        report = load_report(latest)
        plan = plan_from_report(report, str(latest), num_samples=config.generation.num_samples)
        save_config(apply_plan(config, plan), target)
        left = [f"generate (edgefabric generate {target})", "train", "export", "eval"]
        entry = record_round(latest.parent, report, latest, plan, stages_left=left)
        sink(Note("improve", f"round {entry.round} from {latest.name}: next round's config in {target}"))
        return entry

    return run
