"""The stage jobs running in the app, so that quitting (or any screen) can see and stop them all."""

from __future__ import annotations

from dataclasses import dataclass, field

from edgefabric.tui.bridge import TextualSink


@dataclass(frozen=True)
class Job:
    """One stage run: `title` as the user sees it ("Generate"), `sink` its cancel switch and end flag."""

    title: str
    sink: TextualSink

    @property
    def running(self) -> bool:
        return not self.sink.finished.is_set()

    def describe(self) -> str:
        """One line for the job indicator: "Generate running: 12/20 (60%) · starting the teacher…"."""
        state = "stopping" if self.sink.cancelling else "paused" if self.sink.paused else "running"
        where = self.sink.progress.describe(self.sink.stage)
        return f"{self.title} {state}" + (f": {where}" if where else "")


@dataclass
class JobBoard:
    """The latest job of each stage, whatever screen started it; a finished one stays until replaced."""

    jobs: dict[str, Job] = field(default_factory=dict)

    def add(self, job: Job) -> None:
        self.jobs[job.sink.stage] = job

    def running(self) -> list[Job]:
        """The jobs whose thread has not returned yet (cancelled ones included, until they stop)."""
        return [job for job in self.jobs.values() if job.running]

    def cancel_all(self) -> list[Job]:
        """Ask every running job to stop at its next unit of work; returns those jobs."""
        running = self.running()
        for job in running:
            job.sink.cancel()
        return running
