"""Run one call in a fresh wasmtime Store and instance, and turn every way it can fail into a message.

Each session owns an Engine (cheap: the compiled component is memory-mapped, so its code pages are
shared). Owning it lets the host stop exactly one session's running call, by advancing that
engine's epoch past the call's deadline, when the scratch dir outgrows its quota; with a shared
engine that would interrupt every session's call at once. One daemon thread advances every live
engine's epoch each tick (the wall-clock deadline) and checks the disk use of running calls.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgefabric.runtime.sandbox.limits import SandboxLimits
from edgefabric.runtime.sandbox.protocol import EXIT_LINE, exit_status
from edgefabric.runtime.sandbox.quota import DiskUse, disk_use, roll_back, snapshot

if TYPE_CHECKING:
    from wasmtime import Engine

TICK_SECONDS = 0.01
QUOTA_CHECK_EVERY = 5  # ticks: the scratch dir is measured every 50 ms while a call runs
GRACE_SECONDS = 1.0  # how long past its deadline the host waits before abandoning a stuck call


def new_engine() -> Engine:
    """An engine with fuel and epoch interruption on (compiled code must match the engine's config)."""
    from wasmtime import Config, Engine

    config = Config()
    config.consume_fuel = True
    config.epoch_interruption = True
    return Engine(config)


@dataclass
class _Watch:
    engine: Engine
    root: Path
    limits: SandboxLimits
    deadline_ticks: int
    over_quota: DiskUse | None = None


@dataclass
class _Ticker:
    engines: dict[int, Engine] = field(default_factory=dict)
    watches: dict[int, _Watch] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None

    def start(self) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="edgefabric-epoch", daemon=True)
                self.thread.start()

    def _run(self) -> None:
        tick = 0
        while True:
            time.sleep(TICK_SECONDS)
            tick += 1
            with self.lock:
                engines = list(self.engines.values())
                watches = list(self.watches.values()) if tick % QUOTA_CHECK_EVERY == 0 else []
            for engine in engines:
                engine.increment_epoch()
            for watch in watches:
                use = disk_use(watch.root)
                if use.exceeds(watch.limits) and watch.over_quota is None:
                    watch.over_quota = use
                    # Past the deadline: the running call traps with "interrupt" at its next check.
                    for _ in range(watch.deadline_ticks + 2):
                        watch.engine.increment_epoch()


TICKER = _Ticker()


@dataclass(frozen=True)
class Outcome:
    ok: bool
    content: str
    error_kind: str | None = None


def _cause(message: str) -> str:
    """The 'Caused by' line of a wasmtime error (the rest is a wasm backtrace nobody can act on)."""
    tail = message.rsplit("Caused by:", 1)[-1].strip()
    return tail.splitlines()[0].strip() if tail else message.strip().splitlines()[0]


def _tail(path: Path, limit: int = 600) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - limit))
            return handle.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""


class SessionEngine:
    """One session's engine, linker and component; `call` makes a fresh Store and instance each time."""

    def __init__(self, compiled: Path, root: Path, limits: SandboxLimits) -> None:
        self.compiled = compiled
        self.root = root
        self.scratch = root / "scratch"
        self.logs = root / "logs"
        self.limits = limits
        self.deadline_ticks = max(1, round(limits.timeout_s / TICK_SECONDS))
        self._lock = threading.Lock()
        self._fresh()
        TICKER.start()

    def _fresh(self) -> None:
        from wasmtime.component import Component, Linker

        self.engine = new_engine()
        self.component = Component.deserialize_file(self.engine, str(self.compiled))
        self.linker = Linker(self.engine)
        self.linker.add_wasip2()
        # Calls run on a worker thread so the host can stop waiting for one that is stuck in a host call.
        self._worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgefabric-sandbox")
        with TICKER.lock:
            TICKER.engines[id(self.engine)] = self.engine

    def close(self) -> None:
        self._worker.shutdown(wait=False)
        with TICKER.lock:
            TICKER.engines.pop(id(self.engine), None)

    def call(self, name: str, arguments: str) -> Outcome:
        with self._lock:  # a session's calls run one at a time: they share the scratch dir
            future = self._worker.submit(self._call, name, arguments)
            try:
                return future.result(timeout=self.limits.timeout_s + GRACE_SECONDS)
            except concurrent.futures.TimeoutError:
                self._abandon(future)
                return Outcome(
                    False,
                    f"the call timed out after {self.limits.timeout_s:g} s (the sandbox's wall-clock limit); it was "
                    "blocked outside WebAssembly code, so it was abandoned and the session continues with a new instance",
                    "timeout",
                )

    def _abandon(self, future: concurrent.futures.Future[Outcome]) -> None:
        """Leave a call blocked in a host call behind; its engine keeps ticking until it ends."""
        engine, worker = self.engine, self._worker
        worker.shutdown(wait=False)

        def forget(_: object) -> None:
            with TICKER.lock:
                TICKER.engines.pop(id(engine), None)

        future.add_done_callback(forget)
        self._fresh()

    def _store(self) -> Any:
        from wasmtime import Store, WasiConfig

        store = Store(self.engine)
        store.set_fuel(self.limits.fuel)
        # Without a deadline the store's is 0 and the first epoch check traps at once.
        store.set_epoch_deadline(self.deadline_ticks)
        store.set_limits(memory_size=self.limits.memory_bytes)
        wasi = WasiConfig()
        # Only the scratch dir is visible; no env, no argv, no stdin, no sockets (WASI denies them by default).
        wasi.preopen_dir(str(self.scratch), "/scratch")
        wasi.stdout_file = str(self.logs / "stdout.txt")
        wasi.stderr_file = str(self.logs / "stderr.txt")
        store.set_wasi(wasi)
        return store

    def _call(self, name: str, arguments: str) -> Outcome:
        from wasmtime import WasmtimeError

        before = snapshot(self.scratch)
        watch = _Watch(self.engine, self.root, self.limits, self.deadline_ticks)
        with TICKER.lock:
            TICKER.watches[id(watch)] = watch
        try:
            store = self._store()
            try:
                instance = self.linker.instantiate(store, self.component)
                function = instance.get_func(store, "call")
                if function is None:
                    return Outcome(False, "the tool component exports no `call` function", "trap")
                result = function(store, name, arguments)
                function.post_return(store)
            except WasmtimeError as exc:
                if watch.over_quota is None and disk_use(self.root).exceeds(self.limits):
                    watch.over_quota = disk_use(self.root)  # stopped for another reason, but over quota too
                if watch.over_quota is not None:
                    return self._quota(watch.over_quota, before)
                return self._trapped(str(exc))
        finally:
            with TICKER.lock:
                TICKER.watches.pop(id(watch), None)
        if watch.over_quota is None and disk_use(self.root).exceeds(self.limits):
            watch.over_quota = disk_use(self.root)  # grew past the quota between two checks
        if watch.over_quota is not None:
            return self._quota(watch.over_quota, before)
        if result.tag == "ok":
            return Outcome(True, str(result.payload))
        try:
            error = json.loads(result.payload)
            kind, message = str(error["kind"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            return Outcome(False, str(result.payload), "tool_error")
        if kind == "memory":
            message = f"the call ran out of memory: the sandbox allows {self.limits.memory_bytes >> 20} MiB per call"
        return Outcome(False, message, kind)

    def _quota(self, use: DiskUse, before: dict[str, tuple[int, int]]) -> Outcome:
        removed = roll_back(self.scratch, before)
        for log in self.logs.iterdir():
            log.write_bytes(b"")
        listed = ", ".join(removed[:5]) + (f" and {len(removed) - 5} more" if len(removed) > 5 else "")
        return Outcome(
            False,
            f"the call was stopped: the session's scratch dir grew past its quota ({use.describe(self.limits)}); "
            f"what it wrote was removed ({listed or 'nothing'}), earlier files are intact",
            "trap",
        )

    def _trapped(self, message: str) -> Outcome:
        cause = _cause(message)
        stderr = _tail(self.logs / "stderr.txt")
        if "all fuel consumed" in cause:
            return Outcome(
                False,
                f"the call ran out of fuel: it used its CPU budget of {self.limits.fuel:,} instructions "
                "(an endless loop, or far more work than a tool call should do)",
                "fuel",
            )
        if "interrupt" in cause:
            return Outcome(
                False,
                f"the call timed out after {self.limits.timeout_s:g} s (the sandbox's wall-clock limit)",
                "timeout",
            )
        if "memory" in cause.lower() or "MemoryError" in stderr or "out of memory" in stderr.lower():
            return Outcome(
                False,
                f"the call ran out of memory: the sandbox allows {self.limits.memory_bytes >> 20} MiB ({cause})",
                "memory",
            )
        status = exit_status(stderr)
        if status is not None:
            # The guest recorded the status: WASI preview 2 itself reports any failing exit as 1.
            stderr = EXIT_LINE.sub("", stderr).strip()
            detail = f"; the tool's stderr ends with: {stderr}" if stderr else ""
            return Outcome(
                False, f"the tool crashed inside the sandbox: it exited with status {status} (os._exit){detail}", "trap"
            )
        detail = f"; the tool's stderr ends with: {stderr}" if stderr else ""
        return Outcome(False, f"the tool crashed inside the sandbox ({cause}){detail}", "trap")
