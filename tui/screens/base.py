"""What every stage screen shares: nav bar, status line, error panel, the stage worker."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.markup import escape
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, Static
from textual.worker import Worker

from edgefabric.events import PhaseStarted
from edgefabric.tui.bridge import (
    StageBegan,
    StageCall,
    StageCrashed,
    StageEvent,
    StageFinished,
    StageItem,
    StageNote,
    StageProgress,
    StageStopped,
    StageSummary,
    TextualSink,
    TypedEvent,
    run_stage_in_thread,
)
from edgefabric.tui.host import FabricHost, host_of
from edgefabric.tui.jobs import Job
from edgefabric.tui.project import Project
from edgefabric.tui.stages import STAGES
from edgefabric.tui.widgets import ErrorPanel, JobIndicator, NavBar, UnavailablePanel

# Stops the running stage from any focus: a priority binding, checked before the focused
# widget sees the key (the Input's own ctrl+x, cut, applies whenever no stage runs).
STOP_KEY = "ctrl+x"
JOBS_CHECK_S = 0.5  # how often the job indicator looks at the running jobs


class FabricScreen(Screen[None]):
    """A screen of the journey: nav bar on top, footer below, an error panel ready."""

    MODE: ClassVar[str] = ""
    TITLE_TEXT: ClassVar[str] = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "hide_error", "Hide error", id="hide_error", show=False),
    ]
    # No widget takes the keyboard until the user moves there (tab), so the digit keys
    # switch screens at once; escape hands the keyboard back from any field.
    AUTO_FOCUS: ClassVar[str | None] = None

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape" and self.focused is not None and not isinstance(self, ModalScreen):
            self.set_focus(None)
            event.stop()

    # Textual calls these handlers of every class in the MRO, so subclasses' own on_mount and
    # on_screen_resume do not replace them.
    def on_mount(self) -> None:
        # Cheap: a look at a dict of threading.Events and each sink's last progress. Every screen shows what runs.
        self.set_interval(JOBS_CHECK_S, self.show_running_jobs)

    def on_screen_resume(self) -> None:
        self.show_running_jobs()

    def show_running_jobs(self) -> None:
        """Show every stage running in the app (on any screen), its phase and progress, in the job indicator."""
        lines = [job.describe() for job in self.fabric.jobs.running()]
        for indicator in self.query(JobIndicator):
            indicator.show_jobs(lines)

    @property
    def fabric(self) -> FabricHost:
        return host_of(self.app)

    @property
    def project(self) -> Project:
        return self.fabric.project

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar(self.MODE)
        yield JobIndicator()
        yield ErrorPanel()
        with Vertical(id="body"):
            yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def show_error(self, stage: str, problem: str, fix: str | None = None, details: str = "") -> None:
        self.query_one(ErrorPanel).show_error(stage, problem, fix, details)

    def action_hide_error(self) -> None:
        self.query_one(ErrorPanel).hide()

    def copy(self, text: str, what: str) -> None:
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {what} to the clipboard")


class StageScreen(FabricScreen):
    """A screen that runs one stage in a thread of its own (bridge.run_stage_in_thread) and renders its events.

    The stop key (STOP_KEY) is a priority binding: it stops the stage whatever has the focus.
    """

    STAGE: ClassVar[str] = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(STOP_KEY, "cancel", "Stop", id="stage.stop", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sink: TextualSink | None = None
        self.worker: Worker[Any] | None = None
        self.started_at: float | None = None
        self.unavailable: str | None = None

    def compose(self) -> ComposeResult:
        entry = STAGES.get(self.STAGE)
        self.unavailable = entry.unavailable_reason() if entry else f"no stage named {self.STAGE}"
        if self.unavailable is None:
            yield from super().compose()
            return
        yield Header()
        yield NavBar(self.MODE)
        yield JobIndicator()
        yield ErrorPanel()
        with Vertical(id="body"):
            yield UnavailablePanel(self.TITLE_TEXT, self.unavailable)
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield Static("idle", id="status", classes="status")
        yield from self.compose_stage()

    def compose_stage(self) -> ComposeResult:
        yield from ()

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.is_running

    def cli_command(self) -> str | None:
        """The `edgefabric ...` command that does what this screen's start does, to copy."""
        return None

    def action_copy_command(self) -> None:
        command = self.cli_command()
        if command is None:
            self.notify("This screen has no CLI command to copy", severity="warning")
            return
        self.copy(command, f"`{command}`")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.unavailable is not None and action not in ("hide_error",):
            return False
        if action == "cancel":
            return True if self.running else None
        return True

    def stop_key(self) -> str:
        """The key that stops this screen's stage now (a user's keymap may have moved it)."""
        for key, active in self.active_bindings.items():
            if active.node is self and active.binding.action == "cancel" and active.binding.priority:
                return key
        return STOP_KEY

    def set_status(self, text: str) -> None:
        if self.unavailable is None:
            self.query_one("#status", Static).update(text)

    # Starting and stopping ------------------------------------------------

    def stage_call(self) -> StageCall | None:
        """The call to run (it receives the sink); None with an error shown if it cannot start."""
        return None

    def action_start(self) -> None:
        if self.unavailable is not None:
            self.notify(self.unavailable, severity="warning")
            return
        if self.running:
            self.notify(f"{self.TITLE_TEXT} is already running", severity="warning")
            return
        call = self.stage_call()
        if call is None:
            return
        self.start(call)

    def start(self, call: StageCall) -> None:
        self.query_one(ErrorPanel).hide()
        sink = TextualSink(self, self.STAGE)
        self.sink = sink
        self.fabric.jobs.add(Job(self.TITLE_TEXT, sink))
        self.started_at = time.monotonic()
        self.before_start()
        self.set_status(f"[b]{self.TITLE_TEXT}[/] running… ({self.stop_key()} stops)")
        self.worker = self.run_worker(
            run_stage_in_thread(sink, call), name=self.STAGE, group=self.STAGE, exit_on_error=False
        )
        self.refresh_bindings()

    def before_start(self) -> None:
        """Reset the screen's widgets for a fresh run."""

    def action_cancel(self) -> None:
        if self.sink is not None and self.running:
            self.sink.cancel()  # a paused stage wakes up to see it
            self.set_status(f"{self.TITLE_TEXT}: stopping at the next unit of work…")

    def elapsed(self) -> float:
        return time.monotonic() - self.started_at if self.started_at else 0.0

    # Events from the worker -----------------------------------------------

    @on(StageBegan)
    def _began(self, message: StageBegan) -> None:
        total = f" ({message.total} units)" if message.total else ""
        stop = f"  [dim]({self.stop_key()} stops)[/]" if self.sink is None or not self.sink.cancelling else ""
        self.set_status(f"[b]{self.TITLE_TEXT}[/] running{total}: {escape(message.detail)}{stop}")
        self.stage_began(message)

    @on(StageProgress)
    def _progress(self, message: StageProgress) -> None:
        self.stage_progress(message)

    @on(StageNote)
    def _note(self, message: StageNote) -> None:
        self.stage_note(message)

    @on(StageItem)
    def _item(self, message: StageItem) -> None:
        self.stage_item(message)

    @on(StageEvent)
    def _event(self, message: StageEvent) -> None:
        if isinstance(message.event, PhaseStarted):
            # A long silent phase (building the sandbox, starting the teacher, loading a model) is named.
            stop = f"  [dim]({self.stop_key()} stops)[/]" if self.sink is None or not self.sink.cancelling else ""
            self.set_status(f"[b]{self.TITLE_TEXT}[/] {escape(message.event.describe())}{stop}")
        self.stage_event(message.event)

    @on(StageSummary)
    def _summary(self, message: StageSummary) -> None:
        self.stage_summary(message)

    @on(StageFinished)
    def _finished(self, message: StageFinished) -> None:
        self.set_status(f"[b green]{self.TITLE_TEXT} done[/] in {self.elapsed():.1f} s")
        self.stage_finished(message)
        self.refresh_bindings()

    @on(StageStopped)
    def _stopped(self, message: StageStopped) -> None:
        self.set_status(f"[b yellow]{self.TITLE_TEXT} cancelled[/]; finished work on disk is kept")
        self.stage_ended()
        self.refresh_bindings()

    @on(StageCrashed)
    def _crashed(self, message: StageCrashed) -> None:
        self.set_status(f"[b red]{self.TITLE_TEXT} failed[/]; the project on disk is intact")
        self.show_error(self.TITLE_TEXT, message.problem, message.fix, message.details)
        self.stage_ended()
        self.refresh_bindings()

    def stage_began(self, message: StageBegan) -> None: ...

    def stage_progress(self, message: StageProgress) -> None: ...

    def stage_note(self, message: StageNote) -> None: ...

    def stage_item(self, message: StageItem) -> None: ...

    def stage_summary(self, message: StageSummary) -> None: ...

    def stage_event(self, event: TypedEvent) -> None:
        """A typed per-stage event (sample accepted, artifact written, …); screens dispatch on its type."""

    def stage_finished(self, message: StageFinished) -> None:
        self.stage_ended()

    def stage_ended(self) -> None:
        """Called after the stage ends in any way (done, cancelled, failed)."""
