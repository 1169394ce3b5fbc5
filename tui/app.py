"""The app shell: the project's config and its validation, ready for the stage screens."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from edgefabric.config import ProjectConfig, load_config
from edgefabric.errors import ConfigError

CONFIG_NAME = "edgefabric.yaml"


class ProjectSummary(Static):
    """The project's config as loaded, or each problem it has."""

    def __init__(self, project_dir: Path) -> None:
        super().__init__(id="project-summary")
        self.project_dir = project_dir

    def on_mount(self) -> None:
        self.refresh_summary()

    def refresh_summary(self) -> None:
        path = self.project_dir / CONFIG_NAME
        if not path.exists():
            self.update(
                f"No {CONFIG_NAME} in {self.project_dir}.\nRun `edgefabric config init` in that folder, then press r."
            )
            return
        try:
            config = load_config(path)
        except ConfigError as exc:
            lines = "\n".join(f"  - {p}" for p in exc.problems)
            self.update(f"[b red]{path} has problems:[/]\n{lines}")
            return
        self.update(self._describe(config, path))

    @staticmethod
    def _describe(config: ProjectConfig, path: Path) -> str:
        return (
            f"[b]{config.name}[/]  ({path})\n\n"
            f"model:    {config.model.base} ({config.model.family} format)\n"
            f"teacher:  {config.teacher.model}\n"
            f"tools:    {', '.join(config.tools.builtin) or 'none'}\n"
            f"samples:  {config.generation.num_samples}\n"
            f"export:   GGUF {', '.join(config.export.gguf)}; ONNX {', '.join(config.export.onnx)}"
        )


class FabricApp(App[None]):
    TITLE = "EdgeFabric"
    SUB_TITLE = "small, private, offline tool-calling models"
    BINDINGS = [
        Binding("r", "reload", "Reload config", id="reload"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(self, project_dir: Path) -> None:
        super().__init__()
        self.project_dir = project_dir

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield ProjectSummary(self.project_dir)
        yield Footer()

    def action_reload(self) -> None:
        self.query_one(ProjectSummary).refresh_summary()
