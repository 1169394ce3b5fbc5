"""A small typed event stream for long work.

Stages take an `EventSink` and call it; they never know whether a rich progress
bar (CLI), a Textual widget (TUI) or a test is listening.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StageStarted:
    stage: str
    total: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class Progress:
    stage: str
    done: int
    total: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Note:
    stage: str
    text: str
    level: str = "info"


@dataclass(frozen=True)
class ItemDone:
    """One unit of output (a sample, a checkpoint, an artifact) with its payload."""

    stage: str
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StageDone:
    stage: str
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StageFailed:
    stage: str
    error: str


Event = StageStarted | Progress | Note | ItemDone | StageDone | StageFailed
EventSink = Callable[[Event], None]


def ignore_events(event: Event) -> None:
    """The default sink for callers that do not listen."""


class EventLog:
    """A sink that keeps every event, for tests and reports."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of_type(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]
