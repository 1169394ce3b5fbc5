"""The bridge between stage functions (which emit edgefabric.events) and Textual.

A stage runs in a thread worker and is handed a `TextualSink`. The sink never
touches widgets: it turns each event into a typed Textual message and posts it
to the screen that started the stage (`post_message` is thread-safe). Between
units of work (every event is emitted at such a boundary) it honours cancel and
pause, so a stage stops cleanly without any stage knowing about Textual.

The stage runs in a daemon thread of its own (`run_stage_in_thread`), awaited by an
async Textual worker, and not in a Textual thread worker: those run in asyncio's
default executor, which `asyncio.run` joins when the app exits, so quitting during a
long unit (a teacher call, a training step) left a blank terminal for 20-30 s.
"""

from __future__ import annotations

import asyncio
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from textual.message import Message
from textual.message_pump import MessagePump
from textual.worker import NoActiveWorker, Worker, get_current_worker

from edgefabric.errors import EdgeFabricError
from edgefabric.events import (
    ArtifactWritten,
    BackendChosen,
    Event,
    ItemDone,
    Note,
    PhaseStarted,
    Progress,
    ReplyText,
    SampleAccepted,
    SampleRejected,
    StageDone,
    StageFailed,
    StageStarted,
    ToolCallExecuted,
)

# The typed per-stage events that reach screens as they are (in a StageEvent); TrainStep is a
# Progress and travels as StageProgress, which carries the metric series a plot needs.
TypedEvent = (
    PhaseStarted | SampleAccepted | SampleRejected | BackendChosen | ArtifactWritten | ToolCallExecuted | ReplyText
)


class StageCancelled(EdgeFabricError):
    """Raised inside the worker thread by the sink once the user cancelled the stage."""

    def __init__(self, stage: str) -> None:
        super().__init__(f"{stage} was cancelled", "start it again; finished work on disk is kept")


@dataclass(frozen=True)
class MetricPoint:
    done: int
    metrics: dict[str, float]


class StageMessage(Message):
    """Base of every message a stage worker posts; `stage` names the stage."""

    def __init__(self, stage: str) -> None:
        super().__init__()
        self.stage = stage


class StageBegan(StageMessage):
    def __init__(self, event: StageStarted) -> None:
        super().__init__(event.stage)
        self.total = event.total
        self.detail = event.detail


class StageProgress(StageMessage):
    """High rate: a newer progress message of the same stage supersedes an unhandled one.

    Nothing is lost by merging, because `series` carries every metric point so far.
    """

    def __init__(self, event: Progress, series: tuple[MetricPoint, ...]) -> None:
        super().__init__(event.stage)
        self.done = event.done
        self.total = event.total
        self.metrics = dict(event.metrics)
        self.series = series

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StageProgress) and message.stage == self.stage


class StageNote(StageMessage):
    def __init__(self, event: Note) -> None:
        super().__init__(event.stage)
        self.text = event.text
        self.level = event.level


class StageItem(StageMessage):
    """One unit of output (a sample, a checkpoint, an artifact, a tool call)."""

    def __init__(self, event: ItemDone) -> None:
        super().__init__(event.stage)
        self.kind = event.kind
        self.payload = dict(event.payload)


class StageEvent(StageMessage):
    """A typed per-stage event (edgefabric.events), passed on unchanged: screens dispatch on its type."""

    def __init__(self, event: TypedEvent) -> None:
        super().__init__(event.stage)
        self.event = event


class StageSummary(StageMessage):
    """A StageDone event: of the stage itself or of a part of it (generation's topic graph)."""

    def __init__(self, event: StageDone) -> None:
        super().__init__(event.stage)
        self.summary = dict(event.summary)


class StageFinished(StageMessage):
    """The stage function returned; `summary` is its StageDone summary, `result` its return value."""

    def __init__(self, stage: str, summary: dict[str, Any], result: Any = None) -> None:
        super().__init__(stage)
        self.summary = summary
        self.result = result


class StageCrashed(StageMessage):
    """The stage raised: `problem`/`fix` for the error panel, `details` a traceback for unexpected bugs."""

    def __init__(self, stage: str, problem: str, fix: str | None = None, details: str = "") -> None:
        super().__init__(stage)
        self.problem = problem
        self.fix = fix
        self.details = details


class StageStopped(StageMessage):
    """The stage stopped because the user cancelled it."""


@dataclass(frozen=True)
class JobProgress:
    """Where a running stage is, from its typed events, for the app-wide job indicator.

    `stage` is the (sub-)stage the figures belong to (generation's "topics" before its samples),
    `done`/`total` its last progress, `phase` the long phase it is in ("" when none).
    """

    stage: str = ""
    done: int | None = None
    total: int | None = None
    phase: str = ""

    def after(self, event: Event) -> JobProgress:
        """This progress once `event` is seen (a PhaseStarted lasts until the next progress or end)."""
        if isinstance(event, StageStarted):
            return JobProgress(event.stage, None, event.total)
        if isinstance(event, Progress):
            return JobProgress(event.stage, event.done, event.total)
        if isinstance(event, PhaseStarted):
            return replace(self, phase=event.phase)
        if isinstance(event, StageDone):
            return replace(self, phase="")
        return self

    def describe(self, main_stage: str) -> str:
        """One short line: "[topics ]12/20 (60%)", "starting the teacher…", or both; "" when nothing is known."""
        parts: list[str] = []
        if self.done is not None:
            figures = f"{self.done}/{self.total}" if self.total else str(self.done)
            if self.total:
                figures += f" ({min(self.done / self.total, 1.0):.0%})"
            parts.append(figures if self.stage in ("", main_stage) else f"{self.stage} {figures}")
        if self.phase:
            parts.append(f"{self.phase}…")
        return " · ".join(parts)


@dataclass
class TextualSink:
    """An `EventSink` that posts Textual messages to `target` and enforces cancel/pause.

    `cancel()` (from any thread) makes the next event raise `StageCancelled` in the stage's
    thread; `finished` is set once the stage's thread has returned, however it ended.
    """

    target: MessagePump
    stage: str
    worker: Worker[Any] | None = None
    resume: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    series: list[MetricPoint] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None
    # Replaced (never mutated) from the stage's thread at each event; read by the app's job indicator.
    progress: JobProgress = field(default_factory=JobProgress)

    def __post_init__(self) -> None:
        self.resume.set()

    def pause(self) -> None:
        self.resume.clear()

    def unpause(self) -> None:
        self.resume.set()

    @property
    def paused(self) -> bool:
        return not self.resume.is_set()

    def cancel(self) -> None:
        """Stop the stage at its next unit of work (a paused stage wakes up to see it)."""
        self.stop.set()
        self.resume.set()

    @property
    def cancelling(self) -> bool:
        return self.stop.is_set() and not self.finished.is_set()

    def check(self) -> None:
        """Block while paused, raise once cancelled: called at each unit boundary."""
        while not self.resume.wait(0.1):
            if self.is_cancelled:
                break
        if self.is_cancelled:
            raise StageCancelled(self.stage)

    @property
    def is_cancelled(self) -> bool:
        return self.stop.is_set() or (self.worker is not None and self.worker.is_cancelled)

    def __call__(self, event: Event) -> None:
        self.progress = self.progress.after(event)
        if isinstance(event, StageStarted):
            self.target.post_message(StageBegan(event))
        elif isinstance(event, Progress):
            if event.metrics:
                self.series.append(MetricPoint(event.done, dict(event.metrics)))
            self.target.post_message(StageProgress(event, tuple(self.series)))
        elif isinstance(event, Note):
            self.target.post_message(StageNote(event))
        elif isinstance(event, ItemDone):
            self.target.post_message(StageItem(event))
        elif isinstance(event, StageDone):
            if event.stage == self.stage:
                self.summary = dict(event.summary)
            self.target.post_message(StageSummary(event))
        elif isinstance(event, StageFailed):
            if event.stage == self.stage:
                self.failure = event.error
            else:
                self.target.post_message(StageNote(Note(event.stage, f"failed: {event.error}", "error")))
        else:
            self.target.post_message(StageEvent(event))
        self.check()


StageCall = Callable[[TextualSink], Any]


def run_stage(sink: TextualSink, call: StageCall) -> Any:
    """Run `call(sink)` in the current (worker) thread; always ends with exactly one final message.

    Every failure becomes a message, so the app stays usable; stages write append-only
    or through temporary files, so whatever finished is intact on disk.
    """
    try:
        sink.worker = get_current_worker()
    except NoActiveWorker:
        sink.worker = None  # a thread of our own (run_stage_in_thread): cancel goes through sink.cancel()
    try:
        return _run(sink, call)
    finally:
        sink.finished.set()


def _run(sink: TextualSink, call: StageCall) -> Any:
    try:
        result = call(sink)
    except StageCancelled:
        sink.target.post_message(StageStopped(sink.stage))
        return None
    except EdgeFabricError as exc:
        sink.target.post_message(StageCrashed(sink.stage, exc.problem, exc.fix))
        return None
    except Exception as exc:  # a bug in a stage must not take the app down
        sink.target.post_message(
            StageCrashed(
                sink.stage,
                f"{type(exc).__name__}: {exc}",
                "this is a bug; the details below help report it. Data already written is kept.",
                traceback.format_exc(),
            )
        )
        return None
    if sink.is_cancelled:
        sink.target.post_message(StageStopped(sink.stage))
        return None
    if sink.failure is not None:
        sink.target.post_message(StageCrashed(sink.stage, sink.failure))
        return None
    sink.target.post_message(StageFinished(sink.stage, sink.summary, result))
    return result


async def run_stage_in_thread(sink: TextualSink, call: StageCall) -> Any:
    """Run `run_stage(sink, call)` in a new daemon thread and wait for it without blocking the app.

    Meant as the body of an async Textual worker. Cancelling that worker (the app exits)
    abandons the thread instead of joining it; a daemon thread never holds the process
    open, and the stages write append-only or temp-then-rename, so nothing finished is lost.
    Returns what `run_stage` returns.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()

    def settle(outcome: Any, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(outcome)

    def body() -> None:
        outcome: Any = None
        error: BaseException | None = None
        try:
            outcome = run_stage(sink, call)
        except BaseException as exc:  # run_stage catches Exception; this is KeyboardInterrupt and kin
            error = exc
        try:
            loop.call_soon_threadsafe(settle, outcome, error)
        except RuntimeError:
            pass  # the app (and its loop) ended first: nobody is waiting

    threading.Thread(target=body, name=f"edgefabric-{sink.stage}", daemon=True).start()
    return await done
