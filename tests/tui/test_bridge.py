"""The worker/event bridge in a small host app: events become messages, cancel stops
between units, a crash becomes a message and the app stays usable."""

from __future__ import annotations

import threading
from typing import Any

from textual import on
from textual.app import App, ComposeResult
from textual.widgets import Static

from edgefabric.errors import EdgeFabricError
from edgefabric.events import (
    ArtifactWritten,
    ItemDone,
    Note,
    PhaseStarted,
    Progress,
    SampleRejected,
    StageDone,
    StageStarted,
    TrainStep,
)
from edgefabric.tui.bridge import (
    MetricPoint,
    StageBegan,
    StageCrashed,
    StageEvent,
    StageFinished,
    StageItem,
    StageMessage,
    StageNote,
    StageProgress,
    StageStopped,
    TextualSink,
    run_stage,
)


class Host(App[None]):
    """Runs one stage call in a thread worker and records every message it gets."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[StageMessage] = []
        self.sink: TextualSink | None = None

    def compose(self) -> ComposeResult:
        yield Static("host", id="label")

    def start(self, call: Any) -> None:
        sink = TextualSink(self, "demo")
        self.sink = sink
        self.run_worker(lambda: run_stage(sink, call), thread=True, exit_on_error=False)

    @on(StageMessage)
    def record(self, message: StageMessage) -> None:
        self.got.append(message)


def kinds(host: Host) -> list[str]:
    return [type(m).__name__ for m in host.got]


async def test_events_become_typed_messages_in_order() -> None:
    def stage(sink: TextualSink) -> str:
        sink(StageStarted("demo", total=2, detail="two units"))
        sink(ItemDone("demo", "sample", {"id": "a"}))
        sink(Note("demo", "halfway"))
        sink(ItemDone("demo", "sample", {"id": "b"}))
        sink(StageDone("demo", {"accepted": 2}))
        return "result"

    app = Host()
    async with app.run_test() as pilot:
        app.start(stage)
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert kinds(app) == ["StageBegan", "StageItem", "StageNote", "StageItem", "StageSummary", "StageFinished"]
    began, item = app.got[0], app.got[1]
    assert isinstance(began, StageBegan) and began.total == 2 and began.detail == "two units"
    assert isinstance(item, StageItem) and item.payload == {"id": "a"}
    assert isinstance(app.got[2], StageNote) and app.got[2].text == "halfway"
    finished = app.got[-1]
    assert isinstance(finished, StageFinished)
    assert finished.summary == {"accepted": 2} and finished.result == "result"


async def test_typed_events_reach_the_screen_as_they_are() -> None:
    """Screens dispatch on the event's type (no payload keys, no Note text); a TrainStep is progress with a series."""
    rejected = SampleRejected("demo", "s1", "single", "grounding", "the value 7 is not in the request")
    artifact = ArtifactWritten("demo", "adapter", "/runs/x/adapter")

    def stage(sink: TextualSink) -> None:
        sink(PhaseStarted("demo", "building the sandbox"))
        sink(rejected)
        sink(TrainStep("demo", 1, 4, {"loss": 2.0}))
        sink(artifact)

    app = Host()
    async with app.run_test() as pilot:
        app.start(stage)
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert kinds(app) == ["StageEvent", "StageEvent", "StageProgress", "StageEvent", "StageFinished"]
    phase, reject, step, written = app.got[:4]
    assert isinstance(phase, StageEvent) and phase.event == PhaseStarted("demo", "building the sandbox")
    assert isinstance(reject, StageEvent) and reject.event is rejected
    assert isinstance(step, StageProgress) and step.series == (MetricPoint(1, {"loss": 2.0}),)
    assert isinstance(written, StageEvent) and written.event is artifact


async def test_cancel_stops_the_stage_between_units() -> None:
    units_done: list[int] = []
    second_unit = threading.Event()

    def stage(sink: TextualSink) -> None:
        for unit in range(1000):
            units_done.append(unit)
            if unit == 1:
                second_unit.set()
            sink(Progress("demo", done=unit + 1, total=1000))
            threading.Event().wait(0.01)

    app = Host()
    async with app.run_test() as pilot:
        app.start(stage)
        for _ in range(500):
            if second_unit.is_set():
                break
            await pilot.pause(0.01)
        assert second_unit.is_set()
        for worker in app.workers:
            worker.cancel()
        for _ in range(500):
            if app.got and isinstance(app.got[-1], StageStopped):
                break
            await pilot.pause(0.01)
    assert 2 <= len(units_done) < 1000
    assert isinstance(app.got[-1], StageStopped)


async def test_pause_holds_the_stage_until_resumed() -> None:
    passed: list[int] = []

    def stage(sink: TextualSink) -> None:
        for unit in range(3):
            sink(Progress("demo", done=unit, total=3))
            passed.append(unit)

    app = Host()
    async with app.run_test() as pilot:
        app.start(stage)
        app.sink.pause()  # type: ignore[union-attr]
        await pilot.pause(0.3)
        assert len(passed) == 0  # paused at the first unit boundary
        app.sink.unpause()  # type: ignore[union-attr]
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert passed == [0, 1, 2]
    assert isinstance(app.got[-1], StageFinished)


async def test_a_crash_becomes_an_error_message_and_the_app_stays_usable() -> None:
    def bug(sink: TextualSink) -> None:
        sink(StageStarted("demo"))
        raise ZeroDivisionError("a bug in a stage")

    def user_error(sink: TextualSink) -> None:
        raise EdgeFabricError("the teacher is unreachable", "start the server")

    app = Host()
    async with app.run_test() as pilot:
        app.start(bug)
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.start(user_error)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.is_running
        app.query_one("#label", Static).update("still here")
        await pilot.pause()
    crashes = [m for m in app.got if isinstance(m, StageCrashed)]
    assert len(crashes) == 2
    assert "ZeroDivisionError" in crashes[0].problem and "Traceback" in crashes[0].details
    assert crashes[1].problem == "the teacher is unreachable" and crashes[1].fix == "start the server"


def test_progress_messages_of_one_stage_supersede_each_other() -> None:
    a = StageProgress(Progress("train", 1, 10, {"loss": 2.0}), (MetricPoint(1, {"loss": 2.0}),))
    b = StageProgress(
        Progress("train", 2, 10, {"loss": 1.5}), (MetricPoint(1, {"loss": 2.0}), MetricPoint(2, {"loss": 1.5}))
    )
    other = StageProgress(Progress("generate", 2, 10), ())
    assert a.can_replace(b)
    assert not a.can_replace(other)
    assert not a.can_replace(StageNote(Note("train", "x")))
    # A merged message loses no plot point: it carries the whole series.
    assert [p.done for p in b.series] == [1, 2]


async def test_merged_progress_keeps_every_metric_point() -> None:
    def stage(sink: TextualSink) -> None:
        for step in range(1, 51):
            sink(Progress("demo", done=step, total=50, metrics={"loss": 1.0 / step}))

    app = Host()
    async with app.run_test() as pilot:
        app.start(stage)
        await app.workers.wait_for_complete()
        await pilot.pause()
    progress = [m for m in app.got if isinstance(m, StageProgress)]
    assert 1 <= len(progress) <= 50
    assert [p.done for p in progress[-1].series] == list(range(1, 51))
