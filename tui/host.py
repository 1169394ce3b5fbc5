"""What a screen may ask of the app it runs in: its project, its jobs, opening another folder.

Screens depend on this protocol, never on the app class, so the app can import every
screen without an import circle (tests/tui/test_import_graph.py checks there is none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from textual.app import App

from edgefabric.tui.jobs import JobBoard
from edgefabric.tui.project import Project


@runtime_checkable
class FabricHost(Protocol):
    """The app as the screens see it (edgefabric.tui.app.FabricApp implements it)."""

    project: Project
    jobs: JobBoard

    def open_project(self, folder: Path) -> None:
        """Make `folder` the app's project (it need not hold edgefabric.yaml yet)."""


def host_of(app: App[object]) -> FabricHost:
    """`app` as a FabricHost; TypeError naming the problem if a screen is mounted in another app."""
    if not isinstance(app, FabricHost):
        raise TypeError(
            f"{type(app).__name__} is not an EdgeFabric app: a FabricScreen needs an app with "
            "`project`, `jobs` and `open_project` (edgefabric.tui.host.FabricHost)"
        )
    return app
