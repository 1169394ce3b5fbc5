"""One training run as every front end asks for it: `TrainRequest`, its runner and its CLI form.

`edgefabric train`, the TUI's Train screen and the demo journey build a request and call
`run_train`. The data and run folders default by the one project layout (`edgefabric.layout`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from edgefabric.app.command import at, quoted_path
from edgefabric.events import EventSink, ignore_events
from edgefabric.layout import ProjectLayout

if TYPE_CHECKING:
    from edgefabric.config import ProjectConfig
    from edgefabric.pipeline.train.run import TrainResult


@dataclass(frozen=True)
class TrainRequest:
    """Fine-tune the model of the project config at `config` on the dataset in `data` into the run folder `out`.

    - `data` / `out`: None means the project's defaults (`data_dir`, `run_dir`).
    - `max_steps`: overrides training.max_steps; `merge`: overrides training.merge (None keeps it).
    - `resume`: continue the run in `out` from its last checkpoint.
    The field defaults are the CLI's option defaults.
    """

    config: Path
    data: Path | None = None
    out: Path | None = None
    max_steps: int | None = None
    resume: bool = False
    merge: bool | None = None

    @classmethod
    def for_project(cls, layout: ProjectLayout, name: str, *, merge: bool | None = None) -> TrainRequest:
        """A project's training on its data/ into runs/`name`, resuming the run there if one was started."""
        from edgefabric.pipeline.train.layout import RunLayout

        out = layout.run(name)
        return cls(config=layout.config, data=layout.data, out=out, resume=RunLayout(out).started, merge=merge)

    def data_dir(self, config: ProjectConfig) -> Path:
        """The dataset folder: `data`, else data/ in the project, else datasets/<config.name>."""
        if self.data is not None:
            return self.data
        layout = ProjectLayout.of_config(self.config)
        return layout.data if layout else Path("datasets") / config.name

    def run_dir(self, config: ProjectConfig) -> Path:
        """The run folder: `out`, else runs/<config.name> in the project, else runs/<config.name> here."""
        if self.out is not None:
            return self.out
        layout = ProjectLayout.of_config(self.config)
        return layout.run(config.name) if layout else Path("runs") / config.name

    def command(self, cwd: Path | None = None) -> str:
        """The `edgefabric train ...` line for this request (defaults left out; paths under `cwd` relative)."""
        parts = ["edgefabric", "train", quoted_path(self.config, cwd)]
        if self.data is not None:
            parts.append(f"--data {quoted_path(self.data, cwd)}")
        if self.out is not None:
            parts.append(f"--out {quoted_path(self.out, cwd)}")
        if self.max_steps is not None:
            parts.append(f"--max-steps {self.max_steps}")
        if self.resume:
            parts.append("--resume")
        if self.merge is not None:
            parts.append("--merge" if self.merge else "--no-merge")
        return " ".join(parts)

    def under(self, root: Path) -> TrainRequest:
        """The request with relative paths taken as relative to `root` (where its command runs)."""
        return replace(
            self,
            config=at(self.config, root),
            data=at(self.data, root) if self.data is not None else None,
            out=at(self.out, root) if self.out is not None else None,
        )


def run_train(request: TrainRequest, *, on_event: EventSink = ignore_events) -> TrainResult:
    """Run `request`: load the config (with the request's overrides) and train into the run folder.

    Events: training's (BackendChosen, PhaseStarted, StageStarted, TrainStep per logged step,
    ArtifactWritten for checkpoints, the adapter and the merged model, StageDone); all of them
    also land in the run's events.jsonl. Returns the run's result. Raises EdgeFabricError for
    an unreadable config or dataset, a run folder that holds another run, or a failed run.
    """
    from edgefabric.config import load_config
    from edgefabric.pipeline.train import train

    config = load_config(request.config)
    if request.merge is not None:
        config.training.merge = request.merge
    # Absolute, so the run's report and events name the same files whether the request came from the TUI
    # (project paths) or from a CLI line run in the project's folder (relative ones), readable from anywhere.
    return train(
        config,
        request.data_dir(config).absolute(),
        request.run_dir(config).absolute(),
        max_steps=request.max_steps,
        resume=request.resume,
        on_event=on_event,
    )
