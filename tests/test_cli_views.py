"""The CLI's views render the typed events by their type: rejects with the check that said no, long
phases by name, the backend, artifacts; a TrainStep drives the training bar like any progress."""

from __future__ import annotations

import io

from rich.console import Console

from edgefabric.cli.generate_cmd import StageView, stage_progress
from edgefabric.cli.train_cmd import TrainView
from edgefabric.events import (
    ArtifactWritten,
    BackendChosen,
    PhaseStarted,
    SampleAccepted,
    SampleRejected,
    StageStarted,
    TrainStep,
)


def test_generation_and_training_events_are_rendered_by_type() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    progress = stage_progress(console)
    stages, train = StageView(console, progress), TrainView(console, progress)
    stages(PhaseStarted("generate", "starting the teacher (embedded:smollm2-135m)"))
    stages(SampleAccepted("generate", "s1", "single"))
    stages(SampleRejected("generate", "s2", "parallel", "grounding", "the value [7] is not in the request"))
    train(BackendChosen("train", "trl", "no CUDA GPU"))
    train(StageStarted("train", total=4))
    train(TrainStep("train", 1, 4, {"loss": 2.0, "tokens_per_s": 70.0}))
    train(ArtifactWritten("train", "adapter", "/runs/p/adapter"))
    text = out.getvalue()
    assert "generate: starting the teacher (embedded:smollm2-135m)…" in text
    assert "rejected parallel: grounding: the value [7] is not in the request" in text  # markup-escaped
    assert "s1" not in text  # an accepted sample moves the bar; it is not a line
    assert "train: backend trl: no CUDA GPU" in text
    assert "adapter written to /runs/p/adapter" in text
    (task,) = [t for t in progress.tasks if t.description == "train"]
    assert task.completed == 1 and task.total == 4 and "loss 2.000" in task.fields["stats"]
