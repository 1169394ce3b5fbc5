"""ToolBox (the tools of some tool sets) and ToolSession (one isolated run of calls against them).

Local tool sets (built-in names and user modules) run in the WebAssembly sandbox; MCP tool sets
run in their own server process, outside it. Every failure is a ToolResult with ok=False: the
caller (data generation, the agent loop, evaluation) puts the message into the trace as is.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from edgefabric.errors import EdgeFabricError
from edgefabric.events import EventSink, ignore_events
from edgefabric.paths import owned_temp_prefix, sweep_stale_temp
from edgefabric.runtime.sandbox.engine import Outcome, SessionEngine
from edgefabric.runtime.sandbox.limits import SandboxLimits
from edgefabric.runtime.sandbox.mcp_tools import McpConnection, McpToolSet, load_mcp
from edgefabric.runtime.sandbox.modules import BUILTIN_MODULES, ToolModule, builtin_path, load_module
from edgefabric.runtime.sandbox.protocol import SCENARIOS_CALL
from edgefabric.schemas import ToolSpec

ErrorKind = Literal["schema", "unknown_tool", "tool_error", "fuel", "timeout", "memory", "trap"]
STATE_DIR = ".state"  # tool sets keep their state as `/scratch/.state/<name>.json`


@dataclass(frozen=True)
class ToolResult:
    ok: bool
    content: str
    error_kind: ErrorKind | None = None
    elapsed_ms: float = 0.0


@dataclass(frozen=True)
class _Route:
    set_name: str
    tool: str
    mcp: McpToolSet | None = None


@dataclass
class ToolBox:
    """Tools of one or more tool sets, with one compiled component for the local ones."""

    modules: list[ToolModule]
    mcp_sets: list[McpToolSet]
    compiled: Path | None
    limits: SandboxLimits
    specs: list[ToolSpec] = field(default_factory=list)
    _routes: dict[str, _Route] = field(default_factory=dict)
    _scenarios: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        _check_unique([*self.modules, *self.mcp_sets])
        sets: list[tuple[str, list[ToolSpec], McpToolSet | None]] = [(m.name, m.specs, None) for m in self.modules]
        sets += [(s.name, s.tools, s) for s in self.mcp_sets]
        for set_name, specs, mcp in sets:
            for spec in specs:
                self.specs.append(spec)
                self._routes[spec.name] = _Route(set_name, spec.name, mcp)

    @property
    def set_names(self) -> list[str]:
        return [m.name for m in self.modules] + [s.name for s in self.mcp_sets]

    def set_of(self, tool: str) -> str:
        return self._routes[tool].set_name

    def spec(self, tool: str) -> ToolSpec | None:
        return next((spec for spec in self.specs if spec.name == tool), None)

    def scenarios(self) -> list[dict[str, Any]]:
        """Seed states the local tool sets define (JSON-able; pass one to `session`), each with its `set`.

        A module's SCENARIOS may be computed by its code, which runs only in the sandbox: they are read
        there, once per box (one instance, milliseconds). Raises EdgeFabricError when they are not a list
        of JSON objects.
        """
        if self._scenarios is None:
            self._scenarios = self._read_scenarios() if self.modules else []
        return self._scenarios

    def _read_scenarios(self) -> list[dict[str, Any]]:
        assert self.compiled is not None, "local tools always come with a compiled component"
        with tempfile.TemporaryDirectory(prefix=owned_temp_prefix("session")) as folder:
            root = Path(folder)
            (root / "scratch").mkdir()
            (root / "logs").mkdir()
            engine = SessionEngine(self.compiled, root, self.limits)
            try:
                outcome = engine.call(SCENARIOS_CALL, "{}")
            finally:
                engine.close()
        if not outcome.ok:
            raise EdgeFabricError(
                f"the tool sets' SCENARIOS could not be read in the sandbox: {outcome.content}",
                'write SCENARIOS = [{"name": ..., "state": {...}}, ...] (JSON-able dicts) in the module',
            )
        by_set = json.loads(outcome.content)
        return [dict(item, set=module.name) for module in self.modules for item in by_set.get(module.name, [])]

    @contextmanager
    def session(self, scenario: dict[str, Any] | str | None = None) -> Iterator[ToolSession]:
        session = ToolSession(self, self._scenario(scenario))
        try:
            yield session
        finally:
            session.close()

    def _scenario(self, scenario: dict[str, Any] | str | None) -> dict[str, Any] | None:
        if not isinstance(scenario, str):
            return scenario
        for known in self.scenarios():
            if known.get("name") == scenario:
                return known
        names = ", ".join(str(s.get("name")) for s in self.scenarios()) or "none"
        raise EdgeFabricError(f"no scenario named {scenario!r}", f"use one of: {names}")


def _check_unique(sets: Sequence[ToolModule | McpToolSet]) -> None:
    """Tool names are what a model calls, so they must be unique across the box's sets."""
    names = [item.name for item in sets]
    if len(set(names)) != len(names):
        raise EdgeFabricError(f"two tool sets share a name: {names}", "rename one of the module files")
    owners: dict[str, str] = {}
    for item in sets:
        for spec in item.specs if isinstance(item, ToolModule) else item.tools:
            if spec.name in owners:
                raise EdgeFabricError(
                    f"tool {spec.name!r} is in both tool sets {owners[spec.name]!r} and {item.name!r}",
                    "load only one of them, or rename the tool in your module",
                )
            owners[spec.name] = item.name


def _depth_and_check(value: Any, limit: int) -> int:
    """Nesting depth of a JSON value, without recursion (a hostile value may be nested 10^6 deep)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _relative(path: str) -> PurePosixPath:
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise EdgeFabricError(f"scenario file {path!r} is not a plain relative path", "use paths like notes/a.txt")
    return relative


_SWEPT: list[bool] = []


def _sweep_once() -> None:
    """Remove the session folders of killed runs, once per process."""
    if not _SWEPT:
        _SWEPT.append(True)
        sweep_stale_temp("session")


class ToolSession:
    """One isolated run: its own scratch dir (state as files), calls one at a time."""

    def __init__(self, box: ToolBox, scenario: dict[str, Any] | None = None) -> None:
        self.box = box
        _sweep_once()
        self.root = Path(tempfile.mkdtemp(prefix=owned_temp_prefix("session")))
        self.scratch = self.root / "scratch"
        (self.scratch / STATE_DIR).mkdir(parents=True)
        (self.root / "logs").mkdir()
        self._engine: SessionEngine | None = None
        self._mcp: dict[str, McpConnection] = {}
        self.calls = 0
        if scenario:
            self._seed(scenario)

    def _seed(self, scenario: dict[str, Any]) -> None:
        for path, text in (scenario.get("files") or {}).items():
            target = self.scratch / _relative(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(str(text), encoding="utf-8")
        for name, value in (scenario.get("state") or {}).items():
            (self.scratch / STATE_DIR / f"{_relative(name).name}.json").write_text(json.dumps(value), encoding="utf-8")

    def call(self, name: str, arguments: dict[str, Any] | str | None = None) -> ToolResult:
        """Validate, then execute one call; never raises for a tool's failure."""
        started = time.perf_counter()
        outcome = self._call(name, arguments)
        self.calls += 1
        elapsed = (time.perf_counter() - started) * 1000
        return ToolResult(outcome.ok, outcome.content, outcome.error_kind, elapsed)  # type: ignore[arg-type]

    def _call(self, name: str, arguments: dict[str, Any] | str | None) -> Outcome:
        limits = self.box.limits
        spec = self.box.spec(name)
        if spec is None:
            known = ", ".join(sorted(s.name for s in self.box.specs))
            return Outcome(False, f"unknown tool {name!r}; the available tools are: {known}", "unknown_tool")
        if arguments is None:
            arguments = {}
        if isinstance(arguments, str):
            if len(arguments.encode()) > limits.max_argument_bytes:
                return self._too_big(len(arguments.encode()))
            try:
                arguments = json.loads(arguments)
            except RecursionError:
                return Outcome(False, f"{name}: the arguments are nested too deeply", "schema")
            except ValueError as exc:
                return Outcome(False, f"{name}: the arguments are not valid JSON ({exc})", "schema")
        if not isinstance(arguments, dict):
            return Outcome(
                False, f"{name}: the arguments must be a JSON object, not {type(arguments).__name__}", "schema"
            )
        too_deep = Outcome(
            False,
            f"{name}: the arguments are nested more than {limits.max_argument_depth} levels deep; "
            "tool arguments are flat objects",
            "schema",
        )
        try:
            encoded = json.dumps(arguments, ensure_ascii=False, allow_nan=False)
        except RecursionError:
            return too_deep
        except (TypeError, ValueError) as exc:
            return Outcome(False, f"{name}: the arguments are not JSON ({exc})", "schema")
        if len(encoded.encode()) > limits.max_argument_bytes:
            return self._too_big(len(encoded.encode()))
        # After the size check, so a huge (wide) value is refused before it is walked.
        if _depth_and_check(arguments, limits.max_argument_depth) > limits.max_argument_depth:
            return too_deep
        errors = spec.argument_errors(arguments)
        if errors:
            return Outcome(False, "invalid arguments: " + "; ".join(errors), "schema")
        route = self.box._routes[name]
        if route.mcp is not None:
            outcome = self._mcp_connection(route.mcp).call(route.tool, arguments)
        else:
            outcome = self._local().call(f"{route.set_name}.{route.tool}", encoded)
        if len(outcome.content.encode()) > limits.max_result_bytes:
            return Outcome(
                False,
                f"{name} returned {len(outcome.content.encode()):,} bytes; results are limited to "
                f"{limits.max_result_bytes:,} bytes (ask for less, e.g. a smaller range)",
                "tool_error",
            )
        return outcome

    def _too_big(self, size: int) -> Outcome:
        return Outcome(
            False,
            f"the arguments are {size:,} bytes; the sandbox accepts at most {self.box.limits.max_argument_bytes:,}",
            "schema",
        )

    def _local(self) -> SessionEngine:
        if self._engine is None:
            assert self.box.compiled is not None, "local tools always come with a compiled component"
            self._engine = SessionEngine(self.box.compiled, self.root, self.box.limits)
        return self._engine

    def _mcp_connection(self, toolset: McpToolSet) -> McpConnection:
        if toolset.name not in self._mcp:
            self._mcp[toolset.name] = McpConnection(
                toolset, self.box.limits.timeout_s, self.root / "logs" / f"mcp-{toolset.name}.log"
            )
        return self._mcp[toolset.name]

    def state(self) -> dict[str, Any]:
        """The session's state: each tool set's `.state/<name>.json`, plus other files under "files"."""
        snapshot: dict[str, Any] = {}
        files: dict[str, Any] = {}
        for path in sorted(self.scratch.rglob("*")):
            if not path.is_file() or path.is_symlink():
                continue
            relative = path.relative_to(self.scratch).as_posix()
            if relative.startswith(f"{STATE_DIR}/"):
                # Tool state; a leftover temp file from a stopped call is not part of it.
                if path.suffix == ".json" and path.parent.name == STATE_DIR:
                    try:
                        snapshot[path.stem] = json.loads(path.read_text(encoding="utf-8"))
                    except ValueError:
                        snapshot[path.stem] = {"unreadable": True}
                continue
            data = path.read_bytes()
            try:
                files[relative] = data.decode("utf-8")
            except UnicodeDecodeError:
                files[relative] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        snapshot["files"] = files
        return snapshot

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
        for connection in self._mcp.values():
            connection.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ToolSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolve_set(entry: str | Path) -> ToolModule | McpToolSet:
    """A built-in set name, a tool module path or an MCP tool set file, read (not built)."""
    text = str(entry)
    if text in BUILTIN_MODULES:
        return load_module(builtin_path(text), text)
    path = Path(text).expanduser()
    if path.suffix == ".json":
        return load_mcp(path)
    if path.suffix == ".py":
        return load_module(path)
    raise EdgeFabricError(
        f"unknown tool set {text!r}",
        f"use a built-in set ({', '.join(sorted(BUILTIN_MODULES))}), a tool module (.py) "
        "or an imported MCP tool set (.json)",
    )


def load_toolbox(
    sets: Sequence[str | Path],
    *,
    limits: SandboxLimits | None = None,
    cache_dir: Path | None = None,
    on_event: EventSink = ignore_events,
) -> ToolBox:
    """The tools of `sets`, with their local modules built and compiled into one cached component.

    The component always holds every built-in set (so any mix of built-ins shares one cached build)
    plus the given user modules; the box exposes only the sets asked for.
    """
    from edgefabric.runtime.sandbox.build import build_wasm, compile_component

    if not sets:
        raise EdgeFabricError("no tool sets given", f"name at least one ({', '.join(sorted(BUILTIN_MODULES))})")
    resolved = [resolve_set(entry) for entry in dict.fromkeys(str(entry) for entry in sets)]
    modules = [item for item in resolved if isinstance(item, ToolModule)]
    mcp_sets = [item for item in resolved if isinstance(item, McpToolSet)]
    _check_unique(resolved)  # before the build: a clash should not cost a minute of compiling
    compiled = None
    if modules:
        bundled = {name: load_module(builtin_path(name), name) for name in BUILTIN_MODULES}
        for module in modules:
            if module.name in bundled and module.path != bundled[module.name].path:
                raise EdgeFabricError(
                    f"tool module {module.path} has the name of the built-in set {module.name!r}",
                    "rename the file",
                )
            bundled[module.name] = module
        wasm = build_wasm(list(bundled.values()), cache_dir, on_event)
        compiled = compile_component(wasm, cache_dir, on_event)
    return ToolBox(modules=modules, mcp_sets=mcp_sets, compiled=compiled, limits=limits or SandboxLimits())
