"""Figures that agree with each other and with the disk (issue 15, problem 6): a met sample target is said
plainly before anything starts, a finished job's bar is full, and every screen shows the job that runs,
its phase and its progress."""

from __future__ import annotations

import threading
from pathlib import Path

from textual.widgets import ProgressBar, Static

from edgefabric.config import ProjectConfig
from edgefabric.dataset import append_samples
from edgefabric.event_log import JsonlEventSink
from edgefabric.events import PhaseStarted, Progress, StageDone, StageStarted, TrainStep
from edgefabric.schemas import Message, Sample
from edgefabric.tui.bridge import TextualSink
from edgefabric.tui.project import Project
from edgefabric.tui.screens.base import StageScreen
from edgefabric.tui.widgets import JobIndicator
from tests.tui.conftest import make_app, settle, wait_until


def rendered(app: object, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())  # type: ignore[attr-defined]


def bar(app: object, selector: str) -> ProgressBar:
    return app.screen.query_one(selector, ProgressBar)  # type: ignore[attr-defined, no-any-return]


def sample(index: int) -> Sample:
    return Sample(
        id=f"s{index}",
        messages=[Message(role="user", content=f"what is {index} + 1?"), Message(role="assistant", content="a")],
    )


def project_with_samples(folder: Path, written: int, target: int) -> None:
    config = ProjectConfig(name="figures")
    config.generation.num_samples = target
    Project(folder).create(config)
    append_samples(folder / "data" / "samples.jsonl", [sample(i) for i in range(written)])


async def test_a_met_sample_target_is_said_plainly_and_nothing_starts(project_dir: Path) -> None:
    project_with_samples(project_dir, written=4, target=4)
    app = make_app(project_dir, create=False)
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        said = "4 of 4 samples already written; nothing to generate — raise num_samples to add more"
        assert said in rendered(app, "#gen-stats")
        assert bar(app, "#gen-progress").percentage == 1.0  # the dataset on disk is complete
        await pilot.press("s")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StageScreen)
        assert screen.worker is None and not app.jobs.running()  # no teacher, no sandbox, no "done"
        assert said in rendered(app, "#status")
        assert "already written)" not in rendered(app, "#status")  # no "generate 4 samples (4 already written)"


async def test_a_stopped_generation_shows_its_figures_and_resumes(project_dir: Path) -> None:
    project_with_samples(project_dir, written=3, target=8)
    app = make_app(project_dir, create=False)
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        assert "3 of 8 samples in data/samples.jsonl; s resumes the run" in rendered(app, "#gen-stats")
        assert bar(app, "#gen-progress").percentage == 3 / 8


async def test_a_finished_training_run_on_disk_has_a_full_bar(project_dir: Path) -> None:
    app = make_app(project_dir)
    config = Project(project_dir).load()
    sink = JsonlEventSink(project_dir / "runs" / config.name / "events.jsonl")
    sink(StageStarted("train", total=10))
    for step in (4, 8):  # the last logged step is not the last step
        sink(TrainStep("train", step, 10, {"loss": 1.0 / step}))
    sink(StageDone("train", {"steps": 10}))
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        assert bar(app, "#train-progress").percentage == 1.0


async def test_a_finished_live_training_bar_is_full(project_dir: Path) -> None:
    app = make_app(project_dir)

    def call(sink: TextualSink) -> None:
        sink(StageStarted("train", total=10))
        sink(TrainStep("train", 8, 10, {"loss": 0.5}))
        sink(StageDone("train", {"steps": 10}))

    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StageScreen)
        screen.start(call)
        await settle(app, pilot)
        assert "Train done" in rendered(app, "#status")
        assert bar(app, "#train-progress").percentage == 1.0


async def test_every_screen_shows_the_running_job_its_phase_and_progress(project_dir: Path) -> None:
    app = make_app(project_dir)
    phase_seen, go_on, release = threading.Event(), threading.Event(), threading.Event()

    def call(sink: TextualSink) -> None:
        sink(StageStarted("generate", total=20))
        sink(PhaseStarted("generate", "starting the teacher"))
        phase_seen.set()
        go_on.wait(30)
        sink(Progress("generate", 5, 20))
        release.wait(30)

    def indicator() -> str:
        return str(app.screen.query_one(JobIndicator).render())

    async with app.run_test(size=(120, 32)) as pilot:
        assert not app.screen.query_one(JobIndicator).display  # nothing runs: no line taken
        await pilot.press("2")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StageScreen)
        screen.start(call)
        await pilot.press("3")  # the Train screen, idle itself
        await wait_until(pilot, lambda: "starting the teacher" in indicator(), timeout=30, what="the phase shown")
        assert "● Generate running" in indicator() and app.screen.query_one(JobIndicator).display
        go_on.set()
        await pilot.press("1")  # the Project screen, which runs no stage at all
        await wait_until(pilot, lambda: "5/20 (25%)" in indicator(), timeout=30, what="the progress shown")
        assert "starting the teacher" not in indicator()  # the phase ended with the first progress
        release.set()
        await settle(app, pilot)
        await wait_until(pilot, lambda: not app.screen.query_one(JobIndicator).display, timeout=30, what="hiding")
