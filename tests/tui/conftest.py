"""Fixtures for the TUI tests: projects on disk and apps built the way `fabric-tui` builds them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from edgefabric.tui.app import FabricApp
from edgefabric.tui.project import Project
from edgefabric.tui.settings import TuiSettings

# Snapshots show the project's path, so snapshot projects live at a fixed place.
SNAPSHOT_ROOT = Path("/tmp/edgefabric-tui-snapshots")


def make_app(folder: Path, *, create: bool = True, theme: str = "textual-dark") -> FabricApp:
    """The app as `fabric-tui FOLDER` builds it, with an existing project unless `create` is False."""
    if create:
        Project(folder).create()
    return FabricApp(folder, settings=TuiSettings(theme=theme))


def snapshot_app(name: str, *, create: bool = True) -> FabricApp:
    folder = SNAPSHOT_ROOT / name
    shutil.rmtree(folder, ignore_errors=True)
    return make_app(folder, create=create)


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    return tmp_path / "demo-project"


async def settle(app: Any, pilot: Any, timeout: float = 30.0) -> None:
    """Wait until no worker runs (a cancelled thread worker still runs to its next unit), then let messages land."""
    from textual.worker import WorkerCancelled, WorkerState

    try:
        await app.workers.wait_for_complete()
    except WorkerCancelled:
        pass
    steps = int(timeout / 0.02)
    for _ in range(steps):
        if not any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in app.workers):
            break
        await pilot.pause(0.02)
    await pilot.pause()
    await pilot.pause()


async def wait_until(pilot: Any, condition: Any, timeout: float = 120.0, what: str = "the condition") -> None:
    """Let the app run until `condition()` holds; the timeout only bounds a hang, it is not a pace.

    Tests wait on the app's state this way, never for a fixed time, so a loaded machine only slows them.
    """
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    assert condition(), f"{what} did not happen within {timeout:.0f} s"


@pytest.fixture(scope="session")
def tui_sandbox_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One EDGEFABRIC_HOME for the TUI tests that run real tools, so the sandbox is compiled once."""
    return tmp_path_factory.mktemp("tui-home")


@pytest.fixture
def shared_home(tui_sandbox_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EDGEFABRIC_HOME", str(tui_sandbox_home))
    return tui_sandbox_home
