"""The one JSONL form of `edgefabric.events`: a sink that appends them, a reader that restores them.

A record is one JSON object per line: `{"type": "<class name>", <the event's fields>}`.
Training runs write every event to `runs/NAME/events.jsonl` this way, so a finished
(or killed, or CLI) run can be plotted later as the events it emitted.

The reader validates each record against its event class with pydantic (this is a
boundary: the file may be old, edited or torn). A torn last line (a kill mid-write)
is skipped silently; any other bad line, or an unknown type (a newer writer), is
counted in `EventReadReport.bad_lines` and skipped.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from edgefabric.dataset import read_jsonl_lines
from edgefabric.events import EVENT_TYPES, Event, EventSink, ignore_events

TYPE_KEY = "type"


def event_record(event: Event) -> dict[str, Any]:
    """The JSON-ready record of `event`: its class name under "type", then its fields."""
    return {TYPE_KEY: type(event).__name__, **asdict(event)}


@functools.cache
def _adapter(name: str) -> TypeAdapter[Any] | None:
    kind = next((cls for cls in EVENT_TYPES if cls.__name__ == name), None)
    return TypeAdapter(kind) if kind is not None else None


def event_from_record(record: dict[str, Any]) -> Event:
    """The event a record describes.

    Raises ValueError when the type is missing or unknown, and pydantic's ValidationError
    (a ValueError) when a field is missing or of the wrong type.
    """
    fields = dict(record)
    name = fields.pop(TYPE_KEY, None)
    adapter = _adapter(str(name)) if isinstance(name, str) else None
    if adapter is None:
        raise ValueError(f"unknown event type {name!r}")
    event: Event = adapter.validate_python(fields)
    return event


class JsonlEventSink:
    """An `EventSink` that appends each event to `path` as one JSON line, then passes it to `forward`.

    The file is opened per event (events are rare next to the work between them), so a
    kill loses at most the line being written; the folder is made on first use.
    """

    def __init__(self, path: Path, forward: EventSink = ignore_events) -> None:
        self.path = path
        self.forward = forward

    def __call__(self, event: Event) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(event_record(event), ensure_ascii=False, default=str) + "\n")
        self.forward(event)


@dataclass
class EventReadReport:
    """What `read_events` found: the events in file order, and the lines it skipped (path:line: why)."""

    events: list[Event] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)

    def of_type(self, kind: type) -> list[Any]:
        """The events that are instances of `kind` (a TrainStep is also a Progress)."""
        return [e for e in self.events if isinstance(e, kind)]


def read_events(path: Path) -> EventReadReport:
    """Every event in the JSONL file at `path`; a missing file reads as no events."""
    report = EventReadReport()
    if not path.exists():
        return report
    for line in read_jsonl_lines(path):
        try:
            if line.text is None:
                raise ValueError("not UTF-8 text")
            value = json.loads(line.text)
            if not isinstance(value, dict):
                raise ValueError("not a JSON object")
            report.events.append(event_from_record(value))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            report.bad_lines.append(f"{path}:{line.number}: {where}: {first['msg']}")
        except ValueError as exc:  # JSONDecodeError included
            if line.last and isinstance(exc, json.JSONDecodeError):
                continue  # a torn last line from a kill
            report.bad_lines.append(f"{path}:{line.number}: {exc}")
    return report
