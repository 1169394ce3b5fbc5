"""Build a tool set into one WebAssembly component and compile it, both cached on disk.

componentize-py turns the tool modules plus `guest_app.py` into a component (a bundled
CPython for WASI; offline, tens of seconds). wasmtime then compiles it to native code
(also tens of seconds on 2 cores) and serialises the result; loading that file later
takes milliseconds. The .wasm is keyed by the hash of everything that goes into it, the
compiled file by the hash of the .wasm and the wasmtime version (a serialised component
only loads in the wasmtime that wrote it). Every output is written to a temp file and
renamed into place: a compiled file is memory-mapped when loaded, and overwriting one in
place crashes the process that maps it (SIGBUS), so files are only ever replaced whole.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from edgefabric.children import supervised
from edgefabric.errors import EdgeFabricError
from edgefabric.events import EventSink, Note, PhaseStarted, StageDone, StageStarted, ignore_events
from edgefabric.paths import cache_home, owned_temp_prefix, sweep_stale_temp
from edgefabric.runtime.sandbox.modules import ToolModule
from edgefabric.runtime.sandbox.protocol import EXIT_MARKER, SCENARIOS_CALL

HERE = Path(__file__).resolve().parent
WIT_FILE = HERE / "toolset.wit"
GUEST_APP = HERE / "guest_app.py"
WORLD = "toolset"
STAGE = "sandbox-build"


def sandbox_cache(cache_dir: Path | None = None) -> Path:
    path = Path(cache_dir) if cache_dir else cache_home() / "sandbox"
    path.mkdir(parents=True, exist_ok=True)
    return path


def versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in ("componentize-py", "wasmtime")}


def source_key(modules: list[ToolModule]) -> str:
    digest = hashlib.sha256()
    digest.update(versions()["componentize-py"].encode())
    digest.update(WIT_FILE.read_bytes())
    digest.update(GUEST_APP.read_bytes())
    # This file writes the guest's tables (_write_app), with the protocol's constants.
    digest.update(Path(__file__).read_bytes())
    digest.update((HERE / "protocol.py").read_bytes())
    for module in sorted(modules, key=lambda m: m.name):
        digest.update(module.digest.encode())
        digest.update(",".join(spec.name for spec in module.specs).encode())
    return digest.hexdigest()[:32]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # One process builds while others wait and then reuse its output (pytest-xdist workers, parallel CLIs).
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: builds may race, the rename keeps files whole
        yield
        return
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_app(modules: list[ToolModule], folder: Path) -> None:
    shutil.copyfile(GUEST_APP, folder / "app.py")
    package = folder / "eftools"
    package.mkdir()
    (package / "__init__.py").write_text("")
    sets = {}
    for module in modules:
        # Prefixed so a user's `json.py` or `math.py` cannot shadow the standard library in the guest.
        module_name = f"eftools.set_{module.name}"
        (package / f"set_{module.name}.py").write_text(module.source, encoding="utf-8")
        # The host decided which functions are tools (from the source); the guest serves exactly those.
        sets[module.name] = (module_name, [spec.name for spec in module.specs])
    (package / "_sets.py").write_text(
        f"SETS = {sets!r}\nSCENARIOS_CALL = {SCENARIOS_CALL!r}\nEXIT_MARKER = {EXIT_MARKER!r}\n"
    )
    wit = folder / "wit"
    wit.mkdir()
    shutil.copyfile(WIT_FILE, wit / WIT_FILE.name)


def _run_watched(command: list[str], folder: Path, timeout_s: float = 900) -> tuple[int, str]:
    """Run a supervised child (edgefabric.children) in `folder`: its exit code and the tail of its output.

    Its stdin pipe stays open until it ends, so a build never outlives a killed run.
    """
    log_path = folder / "build.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=folder, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)
        try:
            returncode = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            returncode = process.wait()
        finally:
            if process.stdin is not None:
                process.stdin.close()
    return returncode, log_path.read_text(encoding="utf-8", errors="replace").strip()[-2000:]


def build_wasm(modules: list[ToolModule], cache_dir: Path | None = None, on_event: EventSink = ignore_events) -> Path:
    """The component for these modules, built once (cached by source hash)."""
    cache = sandbox_cache(cache_dir)
    target = cache / f"toolset-{source_key(modules)}.wasm"
    if target.exists():
        return target
    with _locked(cache / f".build-{target.stem}.lock"):
        if target.exists():
            return target
        names = ", ".join(module.name for module in modules)
        on_event(StageStarted(STAGE, detail=f"building the tool component ({names}) with componentize-py"))
        started = time.monotonic()
        sweep_stale_temp("build")  # build folders of runs killed mid-build
        with tempfile.TemporaryDirectory(prefix=owned_temp_prefix("build")) as scratch:
            folder = Path(scratch)
            _write_app(modules, folder)
            output = folder / "out.wasm"
            script = (
                "import sys; from componentize_py import script; sys.argv[0] = 'componentize-py'; sys.exit(script())"
            )
            command = supervised(
                [
                    sys.executable,
                    "-c",
                    script,
                    "-q",
                    "-d",
                    str(folder / "wit"),
                    "-w",
                    WORLD,
                    "componentize",
                    "-p",
                    str(folder),
                    "app",
                    "-o",
                    str(output),
                ]
            )
            returncode, detail = _run_watched(command, folder)
            if returncode != 0 or not output.exists():
                raise EdgeFabricError(
                    f"componentize-py could not build the tool set ({names}):\n{detail}",
                    "tool modules may only import the Python standard library; fix the module named above",
                )
            partial = target.with_suffix(f".{os.getpid()}.tmp")
            shutil.copyfile(output, partial)
            os.replace(partial, target)
        on_event(StageDone(STAGE, {"seconds": round(time.monotonic() - started, 1), "bytes": target.stat().st_size}))
    return target


@functools.lru_cache(maxsize=16)
def _file_digest(path: Path, size: int, mtime_ns: int) -> str:
    # Memoised per (path, size, mtime): hashing an 18 MB component on every load_toolbox is wasted time.
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()[:32]


def compiled_path(wasm: Path, cache_dir: Path | None = None) -> Path:
    info = wasm.stat()
    digest = _file_digest(wasm.resolve(), info.st_size, info.st_mtime_ns)
    return sandbox_cache(cache_dir) / f"component-{digest}-wasmtime-{versions()['wasmtime']}.cwasm"


def compile_component(wasm: Path, cache_dir: Path | None = None, on_event: EventSink = ignore_events) -> Path:
    """The serialised native code for `wasm`, compiled once per .wasm hash and wasmtime version."""
    from edgefabric.runtime.sandbox.engine import new_engine

    target = compiled_path(wasm, cache_dir)
    if target.exists():
        return target
    with _locked(sandbox_cache(cache_dir) / f".build-{target.stem}.lock"):
        if target.exists():
            return target
        from wasmtime.component import Component

        on_event(PhaseStarted(STAGE, "compiling the tool component to native code (once; cached afterwards)"))
        started = time.monotonic()
        component = Component.from_file(new_engine(), str(wasm))
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(bytes(component.serialize()))
        os.replace(partial, target)
        on_event(Note(STAGE, f"compiled in {time.monotonic() - started:.1f} s"))
    return target
