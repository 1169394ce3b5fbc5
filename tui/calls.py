"""What each screen runs in its worker: the request of `edgefabric.app` built from the project (its
config, folders and the screen's choices), run by the app's runner with the screen's sink, and the
CLI line rendered from that same request for "copy command". No stage logic lives here."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from edgefabric.app.command import in_folder
from edgefabric.config import ProjectConfig
from edgefabric.errors import ConfigError, EdgeFabricError
from edgefabric.tui.bridge import StageCall, TextualSink
from edgefabric.tui.project import Project, family_for

if TYPE_CHECKING:
    from edgefabric.app.chat import ChatRequest
    from edgefabric.app.evaluate import EvalRequest
    from edgefabric.app.export import ExportRequest
    from edgefabric.app.generate import GenerateRequest
    from edgefabric.app.improve import ImproveRequest
    from edgefabric.app.train import TrainRequest
    from edgefabric.pipeline.generate.run import Outlook


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


def generate_request(project: Project) -> GenerateRequest:
    """What Generate runs: the project's config into data/, resuming the run there if one was started."""
    from edgefabric.app.generate import GenerateRequest

    return GenerateRequest.for_project(project.layout)


def generate_command(project: Project) -> str:
    """The CLI line for what Generate runs, rendered from the same request (so they cannot differ)."""
    return in_folder(project.root, generate_request(project).command(cwd=project.root))


def generate_outlook(project: Project, config: ProjectConfig) -> Outlook:
    """What Generate would do now: the samples in data/ against the project's num_samples."""
    from edgefabric.app.generate import generate_outlook as outlook

    return outlook(generate_request(project), config)


def generate_call(project: Project, screen: ErrorShower) -> StageCall | None:
    """`edgefabric generate edgefabric.yaml --out data [--resume]`, in the worker."""
    if project_config(project, screen) is None:
        return None
    request = generate_request(project)

    def run(sink: TextualSink) -> Any:
        from edgefabric.app.generate import run_generate

        return run_generate(request, on_event=sink)

    return run


def run_dir(project: Project, config: ProjectConfig) -> Path:
    return project.layout.run(config.name)


def train_request(project: Project, config: ProjectConfig) -> TrainRequest:
    """What Train runs: the project's config on data/ into runs/NAME, resuming the run there if one was started."""
    from edgefabric.app.train import TrainRequest

    return TrainRequest.for_project(project.layout, config.name)


def train_command(project: Project, config: ProjectConfig) -> str:
    """The CLI line for what Train runs, rendered from the same request."""
    return in_folder(project.root, train_request(project, config).command(cwd=project.root))


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
    request = train_request(project, config)

    def run(sink: TextualSink) -> Any:
        from edgefabric.app.train import run_train

        return run_train(request, on_event=sink)

    return run


def export_sources(project: Project, config: ProjectConfig) -> list[tuple[str, str]]:
    """(label, spec) the Export screen offers: finished training runs (merged/), then the base model."""
    runs = [p.parent.parent for p in project.files("runs", "config.json") if p.parent.name == "merged"]
    choices = [(f"runs/{run.name} (trained)", str(run)) for run in runs]
    choices.append((f"{config.model.base} (base, untrained)", config.model.base))
    return choices


def export_out(project: Project, spec: str) -> Path:
    name = spec.split(":", 1)[1] if spec.startswith("embedded:") else Path(spec).name
    return project.layout.bundle(name)


def export_request(
    project: Project, config: ProjectConfig, spec: str, gguf: list[str], onnx: list[str]
) -> ExportRequest:
    """What Export runs: `spec` to the chosen types in exports/NAME, in the project's chat format."""
    from edgefabric.app.export import ExportRequest

    return ExportRequest(
        source=spec,
        gguf=tuple(gguf),
        onnx=tuple(onnx),
        out=export_out(project, spec),
        family=config.model.family,
        onnx_quantization=config.export.onnx_quantization,
    )


def export_command(project: Project, config: ProjectConfig, spec: str, gguf: list[str], onnx: list[str]) -> str:
    """The CLI line for what Export runs, rendered from the same request (it once left out the format and
    an empty --onnx, so the CLI exported ONNX int4 that the TUI had not asked for)."""
    return in_folder(project.root, export_request(project, config, spec, gguf, onnx).command(cwd=project.root))


def export_call(project: Project, screen: ErrorShower, spec: str, gguf: list[str], onnx: list[str]) -> StageCall | None:
    """`edgefabric export SPEC --gguf ... --onnx ... --out exports/NAME --format FAMILY`, in the worker."""
    config = project_config(project, screen)
    if config is None:
        return None
    request = export_request(project, config, spec, gguf, onnx)

    def run(sink: TextualSink) -> Any:
        from edgefabric.app.export import run_export

        return run_export(request, on_event=sink)

    return run


def chat_request(project: Project, config: ProjectConfig, model: str) -> ChatRequest:
    """The chat Chat opens with `model`: the project's tool sets, device profile and agent steps."""
    from edgefabric.app.chat import ChatRequest

    return ChatRequest.for_project(config, model, family=family_for(project, config, model))


def chat_call(
    project: Project,
    screen: ErrorShower,
    model: str,
    history: list[Any],
    prompt: str,
    sessions: dict[Any, Any],
) -> StageCall | None:
    """One turn of `edgefabric chat MODEL --tools ...`: the same request and runner, its text and tool calls as events.

    `sessions` keeps a ChatSession per ChatRequest between turns (loading is the slow part); it is only
    touched from the worker, one turn at a time.
    """
    config = project_config(project, screen)
    if config is None:
        return None
    from edgefabric.app.chat import ChatSession, ChatTurnRequest

    request = chat_request(project, config, model)
    turn = ChatTurnRequest(request, tuple(history), prompt)

    def run(sink: TextualSink) -> Any:
        from edgefabric.app.chat import run_chat_turn

        if request not in sessions:
            sessions[request] = ChatSession(request)
        return run_chat_turn(turn, sessions[request], on_event=sink)

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
    from edgefabric.app.evaluate import EvalRequest

    return EvalRequest.for_project(
        config,
        model,
        cases=eval_cases_path(project),
        out=report_path(project, model),
        family=family_for(project, config, model),
    )


def evaluate_command(project: Project, config: ProjectConfig, model: str) -> str:
    """The CLI line for what Evaluate runs, rendered from the same request (so they cannot differ)."""
    return in_folder(project.root, evaluate_request(project, config, model).command(cwd=project.root))


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
        from edgefabric.app.evaluate import run_eval

        return run_eval(request, on_event=sink)

    return run


def improve_request(project: Project, config: ProjectConfig, report: Path) -> ImproveRequest:
    """What Evaluate's improve runs on `report`: the project's config, the next round's into reports/, the
    project's sample count (the TUI's own copy of this used to drop num_samples)."""
    from edgefabric.app.improve import CONFIG_OUT_NAME, ImproveRequest

    return ImproveRequest(
        report=report,
        config=project.layout.config,
        config_out=project.layout.reports / CONFIG_OUT_NAME,
        num_samples=config.generation.num_samples,
    )


def improve_command(project: Project, config: ProjectConfig, report: Path) -> str:
    """The CLI line for what improve runs, rendered from the same request."""
    return in_folder(project.root, improve_request(project, config, report).command(cwd=project.root))


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
    request = improve_request(project, config, report_path)

    def run(sink: TextualSink) -> Any:
        from edgefabric.app.improve import run_improve

        return run_improve(request, on_event=sink)

    return run
