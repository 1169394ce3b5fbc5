"""A small typed event stream for long work.

Stages take an `EventSink` and call it; they never know whether a rich progress
bar (CLI), a Textual widget (TUI), a JSONL file (`edgefabric.event_log`) or a test
is listening.

Two families of events:
- the generic life cycle of a stage: `StageStarted`, `Progress`, `Note`, `ItemDone`,
  `StageDone`, `StageFailed`;
- typed per-stage events with named fields, for what front ends act on: `PhaseStarted`
  (a long silent phase, by name), `SampleAccepted` / `SampleRejected`, `TrainStep`,
  `BackendChosen`, `ArtifactWritten`, `ToolCallExecuted`, `ReplyText`.

Front ends dispatch on the type (`isinstance` / `match`), never on a Note's text or a
payload key. Every typed event has `describe()`: one line for renderers that show it
as plain text (logs, the demo's headless output). `TrainStep` is a `Progress`, so a
plain progress bar needs no special case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StageStarted:
    """A stage (or a part of one, such as generation's topic graph) begins; `total` units if known."""

    stage: str
    total: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class Progress:
    """`done` of `total` units finished; `metrics` are the stage's figures at this point."""

    stage: str
    done: int
    total: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Note:
    """A line of text for the user; `level` is "info", "warning" or "error"."""

    stage: str
    text: str
    level: str = "info"


@dataclass(frozen=True)
class ItemDone:
    """One unit of output with a free-form payload; prefer a typed event below for anything a front end reads."""

    stage: str
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StageDone:
    """The stage ended; `summary` holds its headline figures."""

    stage: str
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StageFailed:
    """The stage stopped with an error (the exception is raised too; this is for the event log)."""

    stage: str
    error: str


# Typed per-stage events ---------------------------------------------------------


@dataclass(frozen=True)
class PhaseStarted:
    """A phase that can take a while without other events, named for the user.

    `phase` reads as a progressive verb phrase: "building the sandbox", "starting the
    teacher", "loading the model", "merging the adapter". It lasts until the next
    PhaseStarted, Progress or StageDone of the same stage.
    """

    stage: str
    phase: str

    def describe(self) -> str:
        return f"{self.phase}…"


@dataclass(frozen=True)
class SampleAccepted:
    """Generation accepted sample `sample_id` of kind `kind` (single, parallel, no_call, …) and wrote it."""

    stage: str
    sample_id: str
    kind: str

    def describe(self) -> str:
        return f"accepted {self.kind} sample {self.sample_id}"


@dataclass(frozen=True)
class SampleRejected:
    """Generation rejected a sample: `check` is the verification that said no (format, execution,
    grounding, cycle, semantic, dedup, teacher), `reason` its message. The reject is in rejects.jsonl."""

    stage: str
    sample_id: str
    kind: str
    check: str
    reason: str

    def describe(self) -> str:
        return f"rejected {self.kind}: {self.check}: {self.reason}"


@dataclass(frozen=True)
class TrainStep(Progress):
    """A logged training step (or evaluation): `done` is the global step, `total` the run's max steps.

    `metrics` keys: step, epoch, tokens_per_s, s_per_step, eta_s, rss_mb, and when logged
    loss, lr, grad_norm, val_loss, gpu_mb. The properties read the common ones.
    """

    @property
    def step(self) -> int:
        return self.done

    @property
    def loss(self) -> float | None:
        return self.metrics.get("loss")

    @property
    def val_loss(self) -> float | None:
        return self.metrics.get("val_loss")

    @property
    def tokens_per_s(self) -> float | None:
        return self.metrics.get("tokens_per_s")

    def describe(self) -> str:
        parts = [f"step {self.done}/{self.total if self.total is not None else '?'}"]
        if self.loss is not None:
            parts.append(f"loss {self.loss:.4g}")
        if self.val_loss is not None:
            parts.append(f"val loss {self.val_loss:.4g}")
        if self.tokens_per_s:
            parts.append(f"{self.tokens_per_s:.0f} tokens/s")
        return ", ".join(parts)


@dataclass(frozen=True)
class BackendChosen:
    """The stage picked an implementation (training: trl or unsloth; an engine: llama.cpp, …) and why."""

    stage: str
    backend: str
    reason: str

    def describe(self) -> str:
        return f"backend {self.backend}: {self.reason}"


@dataclass(frozen=True)
class ArtifactWritten:
    """A file or folder is complete on disk: `kind` is checkpoint, adapter, merged, gguf, onnx, …;
    `detail` holds kind-specific figures (quant, seconds, step)."""

    stage: str
    kind: str
    path: str
    detail: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.kind} written to {self.path}"


@dataclass(frozen=True)
class ToolCallExecuted:
    """A model's tool call and what running it gave: `ok` None means it was not run (unknown tool, …)."""

    stage: str
    name: str
    arguments: dict[str, Any] | str
    ok: bool | None
    content: str = ""
    error_kind: str | None = None
    elapsed_ms: float = 0.0

    def describe(self) -> str:
        outcome = "ok" if self.ok else "not run" if self.ok is None else (self.error_kind or "failed")
        return f"called {self.name}: {outcome}"


@dataclass(frozen=True)
class ReplyText:
    """A piece of a model's streamed reply text."""

    stage: str
    text: str

    def describe(self) -> str:
        return self.text


Event = (
    StageStarted
    | Progress
    | Note
    | ItemDone
    | StageDone
    | StageFailed
    | PhaseStarted
    | SampleAccepted
    | SampleRejected
    | TrainStep
    | BackendChosen
    | ArtifactWritten
    | ToolCallExecuted
    | ReplyText
)
EventSink = Callable[[Event], None]

# Every event class, for readers that restore events by type name (edgefabric.event_log).
EVENT_TYPES: tuple[type, ...] = (
    StageStarted,
    Progress,
    Note,
    ItemDone,
    StageDone,
    StageFailed,
    PhaseStarted,
    SampleAccepted,
    SampleRejected,
    TrainStep,
    BackendChosen,
    ArtifactWritten,
    ToolCallExecuted,
    ReplyText,
)


def ignore_events(event: Event) -> None:
    """The default sink for callers that do not listen."""


def fan_out(*sinks: EventSink) -> EventSink:
    """One sink that passes each event to every one of `sinks`, in order."""

    def each(event: Event) -> None:
        for sink in sinks:
            sink(event)

    return each


class EventLog:
    """A sink that keeps every event, for tests and reports."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of_type(self, kind: type) -> list[Any]:
        """The events that are instances of `kind` (a TrainStep is also a Progress)."""
        return [e for e in self.events if isinstance(e, kind)]
