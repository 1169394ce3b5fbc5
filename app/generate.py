"""One generation as every front end asks for it: `GenerateRequest`, its runner and its CLI form.

`edgefabric generate`, the TUI's Generate screen and the demo journey build a request and
call `run_generate`. The output folder defaults by the one project layout
(`edgefabric.layout`): data/ for a config named edgefabric.yaml, else datasets/NAME.
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
    from edgefabric.pipeline.generate.run import GenerateSummary, Outlook


@dataclass(frozen=True)
class GenerateRequest:
    """Generate the dataset the project config at `config` describes into `out`.

    - `out`: None means the project's default (`default_out`).
    - `resume`: continue the run already in `out` (refused otherwise if one is there).
    - `num_samples`: overrides generation.num_samples.
    The field defaults are the CLI's option defaults.
    """

    config: Path
    out: Path | None = None
    resume: bool = False
    num_samples: int | None = None

    @classmethod
    def for_project(cls, layout: ProjectLayout, *, num_samples: int | None = None) -> GenerateRequest:
        """A project's generation into its data/ folder, resuming the run there if one was started."""
        from edgefabric.pipeline.generate.run import run_started

        return cls(
            config=layout.config,
            out=layout.data,
            resume=run_started(layout.data),
            num_samples=num_samples,
        )

    def out_dir(self, config: ProjectConfig) -> Path:
        """Where the dataset goes: `out`, else data/ in the project, else datasets/<config.name>."""
        if self.out is not None:
            return self.out
        layout = ProjectLayout.of_config(self.config)
        return layout.data if layout else Path("datasets") / config.name

    def command(self, cwd: Path | None = None) -> str:
        """The `edgefabric generate ...` line for this request (defaults left out; paths under `cwd` relative)."""
        parts = ["edgefabric", "generate", quoted_path(self.config, cwd)]
        if self.out is not None:
            parts.append(f"--out {quoted_path(self.out, cwd)}")
        if self.resume:
            parts.append("--resume")
        if self.num_samples is not None:
            parts.append(f"--num-samples {self.num_samples}")
        return " ".join(parts)

    def under(self, root: Path) -> GenerateRequest:
        """The request with relative paths taken as relative to `root` (where its command runs)."""
        return replace(self, config=at(self.config, root), out=at(self.out, root) if self.out is not None else None)


def generate_outlook(request: GenerateRequest, config: ProjectConfig) -> Outlook:
    """What running `request` (with `config`, the config it names) would generate: the samples already in its
    output folder against its target. Front ends ask before starting, so a met target is said plainly
    instead of starting the teacher and the sandbox for nothing."""
    from edgefabric.pipeline.generate.run import outlook

    return outlook(request.out_dir(config), request.num_samples or config.generation.num_samples)


def run_generate(request: GenerateRequest, *, on_event: EventSink = ignore_events) -> GenerateSummary:
    """Run `request`: load the config, generate (topics, samples, splits, card) into the output folder.

    Events: the generation's (PhaseStarted for the teacher and the sandbox, the topic graph's
    StageStarted/Progress/StageDone, SampleAccepted/SampleRejected, Progress, Notes, StageDone).
    Returns the run's summary. Raises EdgeFabricError for an unreadable config, a folder that
    holds another run, or a teacher that fails (see pipeline.generate.run).
    """
    from edgefabric.config import load_config
    from edgefabric.pipeline.generate.run import generate

    config = load_config(request.config)
    return generate(
        config, request.out_dir(config), resume=request.resume, num_samples=request.num_samples, on_event=on_event
    )
