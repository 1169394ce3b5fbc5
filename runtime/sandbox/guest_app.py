"""The component's entry point, compiled into WebAssembly by componentize-py (never run on the host).

The build copies each tool module into the `eftools` package next to this file and writes
`eftools/_sets.py` (SETS: set name -> (module name, tool names), and the constants of
`protocol`). Importing them here, at the top level,
means componentize-py snapshots the imported modules into the component, so a call does no
import work. Every exception is caught and returned as a JSON error, so a failing tool never
becomes a trap (a trap would lose the message).
"""

from __future__ import annotations

import importlib
import json
import os
import time
import urllib.error
from typing import Any, NoReturn

# Codecs are imported lazily by name, and componentize-py bundles only what is imported when it
# builds: without these, a host name in a tool (socket, urllib) fails with "unknown encoding: idna"
# (or "punycode", which idna uses for non-ASCII names) before the sandbox's real answer, no network.
try:
    import encodings.idna
    import encodings.punycode  # noqa: F401
    import socket
except ImportError:  # a WASI Python without them: no host names to look up, nothing to describe
    socket = None  # type: ignore[assignment]

_host_sleep = time.sleep
SLEEP_SLICE = 0.05


def _sliced_sleep(seconds: float) -> None:
    # A sleep is one host call, and wasm code (where the epoch deadline is checked) does not run
    # during it; short slices let the deadline stop a long sleep within 50 ms.
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        _host_sleep(min(left, SLEEP_SLICE))


time.sleep = _sliced_sleep  # type: ignore[assignment]  # before the tool modules import it

import wit_world  # noqa: E402
from componentize_py_types import Err  # noqa: E402
from eftools._sets import EXIT_MARKER, SCENARIOS_CALL, SETS  # noqa: E402

_host_exit = os._exit


def _exit_with_status(status: int) -> NoReturn:
    # WASI preview 2 carries only success or failure out of the instance, so the status is written
    # to stderr first, where the host reads it (edgefabric.runtime.sandbox.protocol).
    try:
        os.write(2, f"\n{EXIT_MARKER}{int(status)}\n".encode())
    finally:
        _host_exit(status)


os._exit = _exit_with_status  # before the tool modules import it

# The host read each module's source and listed its tools (edgefabric.runtime.sandbox.signatures);
# the modules' top-level code runs here, in the sandbox, and nowhere else.
MODULES: dict[str, Any] = {}
TOOLS: dict[str, Any] = {}
for _set_name, (_module_name, _tool_names) in SETS.items():
    MODULES[_set_name] = importlib.import_module(_module_name)
    for _tool_name in _tool_names:
        _function = getattr(MODULES[_set_name], _tool_name, None)
        if callable(_function):
            TOOLS[f"{_set_name}.{_tool_name}"] = _function


def _error(kind: str, message: str) -> Err:
    return Err(json.dumps({"kind": kind, "message": message}))


def _network_problem(exc: BaseException) -> str | None:
    """The message for a failed host-name lookup: the sandbox has no network, by design."""
    cause = exc.reason if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, OSError) else exc
    if socket is None or not isinstance(cause, socket.gaierror):
        return None
    detail = cause.strerror or str(cause) or type(cause).__name__
    return (
        f"{type(exc).__name__}: looking up a host name failed ({detail}): the sandbox has no network access "
        "(name lookup and connections are denied)"
    )


def _describe(exc: BaseException) -> str:
    network = _network_problem(exc)
    if network is not None:
        return network
    # Tools raise ValueError/LookupError with a message meant for the caller; keep it plain.
    if isinstance(exc, ValueError | LookupError | PermissionError | FileNotFoundError) and exc.args:
        if isinstance(exc, OSError) and exc.strerror:
            return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
        return str(exc.args[0])
    return f"{type(exc).__name__}: {exc}"


def _scenarios() -> str:
    """Every set's SCENARIOS (a list of dicts; computed by the module, so read here and not on the host)."""
    found = {}
    for set_name, module in MODULES.items():
        scenarios = getattr(module, "SCENARIOS", None) or []
        if not isinstance(scenarios, list | tuple) or not all(isinstance(item, dict) for item in scenarios):
            raise ValueError(f"SCENARIOS of tool set {set_name!r} is not a list of dicts")
        found[set_name] = list(scenarios)
    return json.dumps(found, ensure_ascii=False)


class WitWorld(wit_world.WitWorld):
    def call(self, name: str, args: str) -> str:
        if name == SCENARIOS_CALL:
            try:
                return _scenarios()
            except BaseException as exc:
                raise _error("tool_error", _describe(exc)) from None
        function = TOOLS.get(name)
        if function is None:
            raise _error("unknown_tool", f"no tool named {name!r} in this component")
        try:
            arguments = json.loads(args)
            result = function(**arguments)
            return json.dumps(result, ensure_ascii=False)
        except MemoryError:
            raise _error("memory", "the tool ran out of memory (the sandbox's memory limit)") from None
        except RecursionError:
            raise _error("tool_error", "RecursionError: maximum recursion depth exceeded") from None
        except BaseException as exc:  # any failure must come back as a message
            raise _error("tool_error", _describe(exc)) from None
