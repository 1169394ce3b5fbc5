"""The embedded teacher: llama-cpp-python's OpenAI-compatible server on 127.0.0.1, run by us.

A separate process (not llama.cpp in-process) so the event loop never blocks on
generation and the same litellm code path serves local and hosted teachers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from edgefabric.children import watched_python
from edgefabric.config import TeacherConfig
from edgefabric.errors import EdgeFabricError
from edgefabric.events import EventSink, PhaseStarted, ignore_events
from edgefabric.paths import owned_temp_prefix, sweep_stale_temp
from edgefabric.pipeline.generate.teacher import Endpoint, endpoint_for
from edgefabric.runtime.threads import thread_plan

ALIAS = "teacher"

# The server runs under a watchdog (edgefabric.children): it ends when the pipe on its stdin, which
# only we hold open, closes, so the server never outlives the run, SIGKILL included.
_SERVER = 'import runpy\nrunpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)\n'


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_local_model(spec: str) -> bool:
    """Whether the teacher is a GGUF we serve ourselves rather than a litellm model."""
    return spec.startswith("embedded:") or spec.endswith(".gguf")


class LocalTeacherServer:
    """Start, wait for and stop `python -m llama_cpp.server` serving one GGUF."""

    def __init__(self, gguf: Path, *, n_ctx: int = 4096, n_threads: int | None = None, ready_timeout_s: float = 180):
        self.gguf = gguf
        self.n_ctx = n_ctx
        # The shared thread policy: ggml's threads spin-wait at barriers, so when anything else runs
        # (the pipeline, the sandbox, a second server, a test worker) a server holding every core
        # collapses; measured here on 2 cores, 44 tokens/s fell to 0.4-0.5.
        plan = thread_plan(override=n_threads)
        self.n_threads = plan.generation
        self.n_threads_batch = plan.batch
        self.ready_timeout_s = ready_timeout_s
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def endpoint(self, label: str) -> Endpoint:
        return Endpoint(model=f"openai/{ALIAS}", api_base=self.url, api_key="none", label=label, min_timeout_s=900)

    def start(self) -> None:
        self.port = free_port()
        sweep_stale_temp("teacher")  # logs of runs that were killed
        self._log = tempfile.NamedTemporaryFile(prefix=owned_temp_prefix("teacher"), suffix=".log", delete=False)
        command = watched_python(
            _SERVER,
            "--model",
            str(self.gguf),
            "--model_alias",
            ALIAS,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.n_threads),
            "--n_threads_batch",
            str(self.n_threads_batch),
        )
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        self._wait_ready()

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        return Path(self._log.name).read_text(encoding="utf-8", errors="replace")[-1500:]

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                tail = self._log_tail()
                self.stop()
                hint = "install it: pip install 'llama-cpp-python[server]'" if "No module named" in tail else ""
                raise EdgeFabricError(
                    f"the local teacher server exited at start (code {self._process.returncode}):\n{tail}",
                    hint or "check the GGUF file and the server log above",
                )
            try:
                if httpx.get(f"{self.url}/models", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise EdgeFabricError(
            f"the local teacher server did not answer within {self.ready_timeout_s:.0f} s",
            "the machine may be overloaded; try again, or use a hosted teacher (teacher.model)",
        )

    def crashed(self) -> str | None:
        """Why the server died under us (its exit code and log tail), or None while it runs."""
        if self._process is None or self._process.poll() is None:
            return None
        return f"exit code {self._process.returncode}; log tail:\n{self._log_tail()[-800:]}"

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if process is not None and process.stdin is not None:
            process.stdin.close()
        if self._log is not None:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> LocalTeacherServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def replica_count(concurrency: int, *, physical_cores: int, load: float, threads_per_server: int) -> int:
    """How many servers to run for the embedded teacher: llama-cpp-python's server answers one
    request at a time, so with single-threaded servers (what the thread policy gives on small
    machines) one per free core serves `concurrency` requests at once without the spin-wait
    collapse a multi-threaded server suffers when its cores are shared. Bigger machines get one
    server with more threads. At least 1, at most `concurrency`.
    """
    if threads_per_server > 1:
        return 1
    free = physical_cores - math.floor(max(0.0, load))
    return max(1, min(concurrency, free))


@contextlib.contextmanager
def serve_teacher(config: TeacherConfig, on_event: EventSink = ignore_events) -> Iterator[Endpoint]:
    """The teacher's endpoint for the duration of a run; a local GGUF is served meanwhile
    (`replica_count` servers, each request sent to the least busy one). Starting those emits
    PhaseStarted("generate", "starting the teacher …") on `on_event` (seconds to a minute)."""
    if not is_local_model(config.model):
        yield endpoint_for(config)
        return
    on_event(PhaseStarted("generate", f"starting the teacher ({config.model})"))
    from edgefabric.runtime.models import resolve_gguf
    from edgefabric.runtime.threads import current_load, machine_cores

    gguf = resolve_gguf(config.model)
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(LocalTeacherServer(gguf))
        count = replica_count(
            config.concurrency, physical_cores=machine_cores(), load=current_load(), threads_per_server=first.n_threads
        )
        servers = [first] + [stack.enter_context(LocalTeacherServer(gguf, n_threads=1)) for _ in range(count - 1)]
        endpoint = first.endpoint(config.model)
        endpoint = dataclasses.replace(endpoint, replicas=tuple(server.url for server in servers[1:]))
        try:
            yield endpoint
        except EdgeFabricError as exc:
            crash = next((c for c in (server.crashed() for server in servers) if c is not None), None)
            if crash is None:
                raise
            raise EdgeFabricError(
                f"the local teacher server crashed ({crash})\nwhich made the run fail: {exc.problem}",
                "run again with --resume (samples written so far are kept); if it recurs, report the log above",
            ) from None
