"""The one JSONL form of the events: every event type survives a write and a read unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgefabric.event_log import JsonlEventSink, event_from_record, event_record, read_events
from edgefabric.events import (
    EVENT_TYPES,
    ArtifactWritten,
    BackendChosen,
    Event,
    EventLog,
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
    TrainStep,
)

ONE_OF_EACH: list[Event] = [
    StageStarted("train", total=4, detail="gemma on 10 samples"),
    Progress("generate", 3, 10, {"accept_rate": 0.5}),
    Note("train", "2 torch thread(s)", "warning"),
    ItemDone("demo", "thing", {"n": 1, "nested": {"a": [1, 2]}}),
    StageDone("train", {"steps": 4, "out": "runs/x"}),
    StageFailed("export", "no space left"),
    PhaseStarted("generate", "starting the teacher"),
    SampleAccepted("generate", "s-1", "single"),
    SampleRejected("generate", "s-2", "parallel", "grounding", "7 is not in the request"),
    TrainStep("train", 2, 4, {"loss": 1.25, "tokens_per_s": 73.0}),
    BackendChosen("train", "trl", "no GPU"),
    ArtifactWritten("export", "gguf", "/b/model-q8_0.gguf", {"quant": "q8_0", "seconds": 13.7}),
    ToolCallExecuted("chat", "add", {"a": 1, "b": 2}, True, "3", None, 2.5),
    ToolCallExecuted("chat", "nope", "{broken", None),
    ReplyText("chat", "héllo"),
]


def test_every_event_type_is_covered_here() -> None:
    assert {type(e) for e in ONE_OF_EACH} == set(EVENT_TYPES)


def test_events_round_trip_through_the_jsonl_sink_and_reader(tmp_path: Path) -> None:
    path = tmp_path / "run" / "events.jsonl"
    seen = EventLog()
    sink = JsonlEventSink(path, seen)
    for event in ONE_OF_EACH:
        sink(event)
    assert seen.events == ONE_OF_EACH  # passed on unchanged
    report = read_events(path)
    assert report.bad_lines == []
    assert report.events == ONE_OF_EACH
    assert [type(e) for e in report.events] == [type(e) for e in ONE_OF_EACH]  # a TrainStep stays a TrainStep
    assert report.of_type(Progress) == [ONE_OF_EACH[1], ONE_OF_EACH[9]]


def test_a_torn_last_line_is_skipped_and_other_bad_lines_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    good = event_record(SampleAccepted("generate", "s-1", "single"))
    lines = [
        json.dumps(good),
        json.dumps({"type": "FromTheFuture", "stage": "x"}),
        json.dumps({"type": "TrainStep", "stage": "train", "done": "many"}),
        "[1, 2]",
        json.dumps(good),
        '{"type": "Note", "stage": "tr',  # a kill mid-write
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    report = read_events(path)
    assert report.events == [SampleAccepted("generate", "s-1", "single")] * 2
    assert len(report.bad_lines) == 3
    assert "unknown event type 'FromTheFuture'" in report.bad_lines[0]
    assert report.bad_lines[1].startswith(f"{path}:3: done")
    assert "not a JSON object" in report.bad_lines[2]


def test_a_missing_file_reads_as_no_events(tmp_path: Path) -> None:
    assert read_events(tmp_path / "absent.jsonl").events == []


def test_runs_written_before_typed_events_still_read(tmp_path: Path) -> None:
    """events.jsonl of older runs: the same record shape, train steps as plain Progress."""
    path = tmp_path / "events.jsonl"
    old = {"type": "Progress", "stage": "train", "done": 5, "total": 10, "metrics": {"loss": 1.5}}
    path.write_text(json.dumps(old) + "\n", encoding="utf-8")
    assert read_events(path).events == [Progress("train", 5, 10, {"loss": 1.5})]


def test_a_record_without_a_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown event type None"):
        event_from_record({"stage": "train"})
