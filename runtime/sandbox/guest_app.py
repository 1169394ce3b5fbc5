"""The component's entry point, compiled into WebAssembly by componentize-py (never run on the host).

The build copies each tool module into the `eftools` package next to this file and writes
`eftools/_sets.py` (SETS: set name -> module name). Importing them here, at the top level,
means componentize-py snapshots the imported modules into the component, so a call does no
import work. Every exception is caught and returned as a JSON error, so a failing tool never
becomes a trap (a trap would lose the message).
"""

from __future__ import annotations

import importlib
import inspect
import json
import time
from typing import Any

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
from eftools._sets import SETS  # noqa: E402


def _tools_of(module: Any) -> dict[str, Any]:
    # Same rule as the host (edgefabric.runtime.sandbox.modules.public_functions).
    names = getattr(module, "__all__", None)
    found: dict[str, Any] = {}
    for name, value in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(value):
            continue
        if value.__module__ != module.__name__:
            continue
        if names is not None and name not in names:
            continue
        found[name] = value
    return found


TOOLS: dict[str, Any] = {}
for _set_name, _module_name in SETS.items():
    for _tool_name, _function in _tools_of(importlib.import_module(_module_name)).items():
        TOOLS[f"{_set_name}.{_tool_name}"] = _function


def _error(kind: str, message: str) -> Err:
    return Err(json.dumps({"kind": kind, "message": message}))


def _describe(exc: BaseException) -> str:
    # Tools raise ValueError/LookupError with a message meant for the caller; keep it plain.
    if isinstance(exc, ValueError | LookupError | PermissionError | FileNotFoundError) and exc.args:
        if isinstance(exc, OSError) and exc.strerror:
            return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
        return str(exc.args[0])
    return f"{type(exc).__name__}: {exc}"


class WitWorld(wit_world.WitWorld):
    def call(self, name: str, args: str) -> str:
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
