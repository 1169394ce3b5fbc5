"""A run killed while it builds the tool component takes the build with it, and leaves no temp folder
once the next build starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from edgefabric.paths import sweep_stale_temp
from tests.processes import alive, descendants

pytestmark = pytest.mark.reliability


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_kill_during_the_build_stops_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "fresh.py"  # a module no cache has: loading it starts a build
    module.write_text(f'def fresh() -> str:\n    """Fresh."""\n    return "{time.time_ns()}"\n')
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "EDGEFABRIC_HOME": str(tmp_path / "home"), "TMPDIR": str(temp)}
    command = [sys.executable, "-m", "edgefabric.cli", "tools", "call", str(module), "fresh"]
    run = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        builders: list[int] = []
        while not builders and run.poll() is None and time.monotonic() < deadline:
            builders = descendants(run.pid, b"componentize_py")
            time.sleep(0.05)
        assert builders, "the run did not start a build"
        os.kill(run.pid, signal.SIGKILL)
        run.wait(10)
        deadline = time.monotonic() + 20
        while any(alive(pid) for pid in builders) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in builders if alive(pid)], "the build outlived its killed run"
        left = [entry for entry in temp.iterdir() if entry.name.startswith(f"edgefabric-build-{run.pid}-")]
        assert left, "expected the killed build's folder, for the next build to remove"
        monkeypatch.setattr(tempfile, "tempdir", str(temp))
        assert set(sweep_stale_temp("build")) >= set(left)
        assert not any(entry.exists() for entry in left)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(10)
