"""The Train screen reads a run on disk from its events.jsonl as typed events: the loss, the backend,
and whether the run finished (shown as finished) or stopped (offered to resume)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from edgefabric.event_log import JsonlEventSink
from edgefabric.events import BackendChosen, StageDone, StageStarted, TrainStep
from edgefabric.tui.project import Project
from tests.tui.conftest import make_app


def rendered(app: object, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())  # type: ignore[attr-defined]


@pytest.mark.parametrize("finished", [True, False])
async def test_a_run_on_disk_is_shown_finished_or_resumable(project_dir: Path, finished: bool) -> None:
    app = make_app(project_dir)
    config = Project(project_dir).load()
    sink = JsonlEventSink(project_dir / "runs" / config.name / "events.jsonl")
    sink(BackendChosen("train", "trl", "no CUDA GPU"))
    sink(StageStarted("train", total=4))
    for step, loss in ((1, 2.5), (2, 1.75)):
        sink(TrainStep("train", step, 4, {"loss": loss, "tokens_per_s": 70.0}))
    if finished:
        sink(StageDone("train", {"steps": 2, "final_loss": 1.75}))
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        status = rendered(app, "#status")
        assert "backend trl: no CUDA GPU" in rendered(app, "#backend")
        assert "loss 1.75" in rendered(app, "#train-stats")
        if finished:
            assert "finished (2 steps)" in status and "resumes" not in status
        else:
            assert "stopped at step 2: s resumes it" in status
