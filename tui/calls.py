"""The calls each screen runs in its worker: the real stage entry functions, with the
project's config and folders, and the sink. No stage logic lives here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgefabric.config import ProjectConfig
from edgefabric.errors import ConfigError, EdgeFabricError
from edgefabric.tui.bridge import StageCall
from edgefabric.tui.project import Project

if TYPE_CHECKING:
    from edgefabric.tui.screens.base import FabricScreen


def project_config(project: Project, screen: FabricScreen) -> ProjectConfig | None:
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


def generate_call(project: Project, screen: FabricScreen) -> StageCall | None:
    """`edgefabric generate edgefabric.yaml --out data [--resume]`, in the worker."""
    config = project_config(project, screen)
    if config is None:
        return None
    from edgefabric.pipeline.generate.run import generate

    out_dir = project.data_dir
    resume = generate_resumes(project)
    return lambda sink: generate(config, out_dir, resume=resume, on_event=sink)


def _not_wired(screen: FabricScreen, stage: str) -> None:
    screen.show_error(stage, f"the {stage} stage's entry point is not wired into the TUI yet")


def train_call(project: Project, screen: FabricScreen) -> StageCall | None:
    if project_config(project, screen) is None:
        return None
    _not_wired(screen, "Train")
    return None


def export_call(project: Project, screen: FabricScreen, gguf: list[str], onnx: list[str]) -> StageCall | None:
    if project_config(project, screen) is None:
        return None
    _not_wired(screen, "Export")
    return None


def chat_call(
    project: Project, screen: FabricScreen, model: Path, history: list[dict[str, Any]], prompt: str
) -> StageCall | None:
    if project_config(project, screen) is None:
        return None
    _not_wired(screen, "Chat")
    return None


def evaluate_call(project: Project, screen: FabricScreen) -> StageCall | None:
    if project_config(project, screen) is None:
        return None
    _not_wired(screen, "Evaluate")
    return None


def improve_call(project: Project, screen: FabricScreen) -> StageCall | None:
    if project_config(project, screen) is None:
        return None
    _not_wired(screen, "Evaluate")
    return None
