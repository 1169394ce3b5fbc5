"""`fabric-tui` for real, in a real terminal (tmux): it starts, renders, switches and quits."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

FABRIC_TUI = Path(sys.executable).with_name("fabric-tui")


def capture(session: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], check=True, capture_output=True, text=True
    ).stdout


def wait_for(session: str, *texts: str, gone: str | None = None, timeout: float = 30.0) -> str:
    """The pane once any of `texts` shows (and `gone` no longer does)."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(session)
        if any(text in screen for text in texts) and (gone is None or gone not in screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{texts!r} never appeared; the pane shows:\n{screen}")


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_fabric_tui_starts_renders_and_quits_under_tmux(tmp_path: Path, size: tuple[int, int]) -> None:
    project = tmp_path / "tmux-project"
    project.mkdir()
    session = f"edgefabric-tui-test-{os.getpid()}-{size[0]}"
    env_args = [f"EDGEFABRIC_HOME={tmp_path / 'home'}", "HF_HUB_OFFLINE=1", "TERM=xterm-256color"]
    command = f"cd {project} && env {' '.join(env_args)} {FABRIC_TUI}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]), command], check=True
    )
    try:
        screen = wait_for(session, "1 Project")
        assert "No project in" in wait_for(session, "No project in")
        subprocess.run(["tmux", "send-keys", "-t", session, "C-n"], check=True)
        wait_for(session, "(ctrl+s saves)", "(ctrl+s\n")
        assert (project / "edgefabric.yaml").exists()
        subprocess.run(["tmux", "send-keys", "-t", session, "?"], check=True)
        screen = wait_for(session, "id (for remapping)")
        subprocess.run(["tmux", "send-keys", "-t", session, "Escape"], check=True)
        wait_for(session, "Save config", gone="id (for remapping)")
        subprocess.run(["tmux", "send-keys", "-t", session, "3"], check=True)
        # The Train screen: its controls, or the panel saying the stage is not in this build.
        screen = wait_for(session, "Start training", "Train stage is not available")
        subprocess.run(["tmux", "send-keys", "-t", session, "C-q"], check=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            alive = subprocess.run(["tmux", "has-session", "-t", session], capture_output=True).returncode == 0
            if not alive:
                break
            time.sleep(0.2)
        assert not alive, f"fabric-tui did not quit on ctrl+q:\n{screen}"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
