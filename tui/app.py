"""The app shell: one mode per step of the journey, themes, help and the command palette."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from edgefabric.tui.jobs import JobBoard
from edgefabric.tui.project import Project
from edgefabric.tui.screens.chat import ChatScreen
from edgefabric.tui.screens.evaluate import EvaluateScreen
from edgefabric.tui.screens.export import ExportScreen
from edgefabric.tui.screens.generate import GenerateScreen
from edgefabric.tui.screens.help import HelpGroup, HelpRow, HelpScreen
from edgefabric.tui.screens.project import ProjectScreen
from edgefabric.tui.screens.quitting import QuittingScreen
from edgefabric.tui.screens.train import TrainScreen
from edgefabric.tui.settings import DARK_THEME, LIGHT_THEME, TuiSettings, load_settings, save_settings
from edgefabric.tui.widgets import SCREENS

# How long quitting waits for running stages to reach their next unit of work. A unit can
# take longer (a teacher call, a training step); then the app ends without it and the
# stage's thread ends with the process: what it finished is on disk already.
QUIT_GRACE_S = 2.0


class FabricApp(App[None]):
    TITLE = "EdgeFabric"
    SUB_TITLE = "small, private, offline tool-calling models"
    CSS_PATH = "fabric.tcss"
    MODES: ClassVar[dict[str, type[Screen] | str]] = {  # type: ignore[assignment]
        "project": ProjectScreen,
        "generate": GenerateScreen,
        "train": TrainScreen,
        "export": ExportScreen,
        "chat": ChatScreen,
        "evaluate": EvaluateScreen,
    }
    DEFAULT_MODE = "project"
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(key, f"switch_mode('{mode}')", title, id=f"screen.{mode}", show=False)
            for mode, key, title in SCREENS
        ),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("ctrl+t", "toggle_theme", "Theme", id="app.theme", show=False),
        Binding("ctrl+q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(self, project_dir: Path, *, settings: TuiSettings | None = None) -> None:
        super().__init__()
        self.project = Project(project_dir)
        self.settings = settings if settings is not None else load_settings()
        self.jobs = JobBoard()
        self.quitting = False

    def on_mount(self) -> None:
        self.theme = self.settings.theme if self.settings.theme in self.available_themes else DARK_THEME
        self.sub_title = str(self.project.root)

    def watch_theme(self, theme: str) -> None:
        if self.settings.theme != theme:
            self.settings.theme = theme
            save_settings(self.settings)

    def open_project(self, folder: Path) -> None:
        self.project = Project(folder)
        self.sub_title = str(folder)

    async def action_quit(self) -> None:
        """Quit; with stages running, stop them at their next unit and say so, waiting QUIT_GRACE_S at most.

        A second ctrl+q (or the grace period ending) quits at once; `fabric-tui` then ends the
        process without waiting for a stage still inside a unit (see edgefabric.tui.__main__).
        """
        running = self.jobs.running()
        if not running or self.quitting:
            self.exit()
            return
        self.quitting = True
        self.jobs.cancel_all()
        await self.push_screen(QuittingScreen([job.title for job in running], QUIT_GRACE_S))
        self.run_worker(self._exit_when_stopped(), name="quit", group="quit")

    async def _exit_when_stopped(self) -> None:
        deadline = time.monotonic() + QUIT_GRACE_S
        while self.jobs.running() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.exit()

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT_THEME if self.current_theme.dark else DARK_THEME

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.binding_groups()))

    def binding_groups(self) -> list[HelpGroup]:
        """Every binding with an id, for the help screen: "Everywhere" (the app's and those every screen
        inherits), then each screen's own in journey order; a binding is listed once, where it is first found."""
        seen: set[str] = set()

        def rows(owners: Iterable[type]) -> list[HelpRow]:
            found = []
            for owner in owners:
                for binding in owner.__dict__.get("BINDINGS", []):
                    if isinstance(binding, Binding) and binding.id and binding.id not in seen:
                        seen.add(binding.id)
                        found.append((binding.key.replace(",", " / "), binding.description, binding.id))
            return found

        screens = [mode for mode in self.MODES.values() if isinstance(mode, type)]
        shared = [base for mode in screens for base in mode.__mro__[1:] if issubclass(base, Screen)]
        groups: list[HelpGroup] = [("Everywhere", rows([type(self), *dict.fromkeys(shared)]))]
        for mode in screens:
            groups.append((str(getattr(mode, "TITLE_TEXT", "") or mode.__name__), rows([mode])))
        return groups

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every action in the palette: screens, each screen's own actions, app actions."""
        for mode, key, title in SCREENS:
            yield SystemCommand(f"Go to {title}", f"Show the {title} screen (key {key})", self._switcher(mode))
        for binding in getattr(type(screen), "BINDINGS", []):
            if isinstance(binding, Binding) and (
                binding.id
                and not binding.id.startswith(("screen.", "app."))
                and screen.check_action(binding.action, ())
            ):
                yield SystemCommand(
                    f"{binding.description} ({getattr(screen, 'TITLE_TEXT', '') or type(screen).__name__})",
                    f"key {binding.key}",
                    self._runner(screen, binding.action),
                )
        yield SystemCommand("Help", "Show the journey and every key", self.action_help)
        yield SystemCommand("Toggle dark/light theme", "Saved for next time", self.action_toggle_theme)
        yield from super().get_system_commands(screen)

    def _switcher(self, mode: str):  # type: ignore[no-untyped-def]
        async def switch() -> None:
            await self.switch_mode(mode)

        return switch

    def _runner(self, screen: Screen, action: str):  # type: ignore[no-untyped-def]
        async def run() -> None:
            await screen.run_action(action)

        return run
