"""A SIGKILLed run leaves no teacher server running and no temp files behind (after the next start)."""

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
from tests.processes import alive

pytestmark = pytest.mark.reliability

_RUN = """
import sys, time
from edgefabric.pipeline.generate.local_server import LocalTeacherServer
from edgefabric.runtime.models import resolve_gguf
server = LocalTeacherServer(resolve_gguf("embedded:smollm2-135m"), n_ctx=512, n_threads=1)
server.start()
print(server._process.pid, server.port, server._log.name, flush=True)
time.sleep(600)
"""


def _servers_on(port: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"llama_cpp.server" in b" ".join(cmdline) and str(port).encode() in cmdline and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_of_the_run_takes_the_teacher_server_with_it() -> None:
    run = subprocess.Popen([sys.executable, "-c", _RUN], stdout=subprocess.PIPE, text=True)
    try:
        assert run.stdout is not None
        line = run.stdout.readline()
        assert line, "the run did not start the server"
        server_pid, port, log = int(line.split()[0]), int(line.split()[1]), line.split()[2]
        assert alive(server_pid) and _servers_on(port) == [server_pid]
        os.kill(run.pid, signal.SIGKILL)
        run.wait(10)
        deadline = time.monotonic() + 20
        while alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(server_pid), "the teacher server outlived its killed parent"
        assert _servers_on(port) == []
        # The log the killed run left is removed when the next run starts.
        assert Path(log).exists()
        assert Path(log) in sweep_stale_temp("teacher")
        assert not Path(log).exists()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(10)


def test_the_sweep_removes_only_what_dead_processes_left() -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead_pid = int(dead.stdout)
    tmp = Path(tempfile.gettempdir())
    stale_dir = Path(tempfile.mkdtemp(prefix=f"edgefabric-session-{dead_pid}-"))
    (stale_dir / "scratch").mkdir()
    (stale_dir / "scratch" / "state.json").write_text("{}")
    live_dir = Path(tempfile.mkdtemp(prefix=f"edgefabric-session-{os.getpid()}-"))
    parent_dir = Path(tempfile.mkdtemp(prefix=f"edgefabric-session-{os.getppid()}-"))
    unrelated = Path(tempfile.mkdtemp(prefix="edgefabric-session-notapid-"))
    try:
        removed = sweep_stale_temp("session")
        assert stale_dir in removed and not stale_dir.exists()
        assert live_dir.exists() and parent_dir.exists() and unrelated.exists()
        assert all(p.parent == tmp for p in removed)
    finally:
        for path in (live_dir, parent_dir, unrelated):
            path.rmdir()
