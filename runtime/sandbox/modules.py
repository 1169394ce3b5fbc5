"""Tool modules: plain Python files whose public functions are tools.

A tool is a module-level function with type hints and a docstring. Its JSON Schema is
derived from the signature with pydantic; the first docstring paragraph is the tool's
description, and a Google-style `Args:` section describes each parameter. A module may
override a schema (`TOOL_SCHEMAS = {"tool": {...}}`), limit which functions are tools
(`__all__`) and offer seed states (`SCENARIOS = [{"name": ..., "state": {...}}]`).

The host imports a module once to read its signatures (top-level code runs on the host, so
tool modules should only define things); the tools themselves only ever run in the sandbox.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Any

from pydantic import ValidationError

from edgefabric.errors import EdgeFabricError
from edgefabric.schemas import ToolSpec

BUILTIN_MODULES = {
    "files": "files.py",
    "kv": "kv.py",
    "math": "math_tools.py",
    "mobile": "mobile.py",
    "scene": "scene.py",
}
SET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")


@dataclass(frozen=True)
class ToolModule:
    """One tool set backed by a Python file: its tools' specs and the source that runs them."""

    name: str
    path: Path
    source: str
    specs: list[ToolSpec]
    scenarios: list[dict[str, Any]] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.name}\0{self.source}".encode()).hexdigest()


def tool_source_problems(builtin: list[str], modules: list[Path]) -> list[str]:
    """What in a config's `tools` section would fail only when used: unknown built-in sets, missing modules.

    Nothing is imported or run: this only names and checks paths, so `config validate` stays safe.
    """
    problems = []
    for index, name in enumerate(builtin):
        if name not in BUILTIN_MODULES:
            problems.append(
                f"tools.builtin.{index}: got {name[:60]!r}; not a built-in tool set (they are: "
                f"{', '.join(sorted(BUILTIN_MODULES))}); list your own .py files under tools.modules"
            )
    for index, path in enumerate(modules):
        resolved = Path(path).expanduser()
        if resolved.is_dir():
            problems.append(f"tools.modules.{index}: {path} is a folder; give a .py tool module or an MCP .json")
        elif not resolved.is_file():
            problems.append(f"tools.modules.{index}: {path} does not exist (relative paths start at {Path.cwd()})")
        elif resolved.suffix not in (".py", ".json"):
            problems.append(f"tools.modules.{index}: {path} is neither a tool module (.py) nor an MCP tool set (.json)")
    return problems


def builtin_path(name: str) -> Path:
    return Path(__file__).resolve().parent.parent / "toolsets" / BUILTIN_MODULES[name]


def public_functions(module: ModuleType) -> dict[str, FunctionType]:
    """The module's tools: functions it defines itself, public, and in `__all__` when it has one."""
    names = getattr(module, "__all__", None)
    found: dict[str, FunctionType] = {}
    for name, value in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(value) or value.__module__ != module.__name__:
            continue
        if names is not None and name not in names:
            continue
        found[name] = value
    return found


def import_file(path: Path, module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise EdgeFabricError(f"{path} is not a Python module", "give the path of a .py file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise EdgeFabricError(
            f"tool module {path} failed to import: {type(exc).__name__}: {exc}",
            "fix the module; tool modules may only use the Python standard library",
        ) from None
    return module


def _docstring_parts(function: FunctionType) -> tuple[str, dict[str, str]]:
    """The description (first paragraph) and per-argument text from a Google-style `Args:` block."""
    doc = inspect.getdoc(function) or ""
    description = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    arguments: dict[str, str] = {}
    match = re.search(r"^Args:\s*\n((?:[ \t]+.*\n?|\s*\n)+)", doc, flags=re.MULTILINE)
    if match:
        current = None
        for line in match.group(1).splitlines():
            entry = re.match(r"^\s{2,}(\w+)(?:\s*\([^)]*\))?:\s*(.*)$", line)
            if entry and (current is None or len(line) - len(line.lstrip()) <= 4):
                current = entry.group(1)
                arguments[current] = entry.group(2).strip()
            elif current and line.strip():
                arguments[current] = f"{arguments[current]} {line.strip()}"
    return description, arguments


def _strip_titles(schema: Any) -> Any:
    # pydantic adds a "title" to every node; models read the description, titles only cost tokens.
    if isinstance(schema, dict):
        return {
            key: _strip_titles(value)
            for key, value in schema.items()
            if not (key == "title" and isinstance(value, str))
        }
    if isinstance(schema, list):
        return [_strip_titles(item) for item in schema]
    return schema


def derive_parameters(function: FunctionType) -> dict[str, Any]:
    """The JSON Schema of a function's keyword arguments, built by pydantic from its signature."""
    from typing import get_type_hints

    from pydantic import Field, create_model

    hints = get_type_hints(function)
    _, described = _docstring_parts(function)
    fields: dict[str, Any] = {}
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD, parameter.POSITIONAL_ONLY):
            raise EdgeFabricError(
                f"tool {function.__name__} has a parameter *{parameter.name} or a positional-only one",
                "give every tool parameter a name and a type; tools are called with keyword arguments",
            )
        if parameter.name not in hints:
            raise EdgeFabricError(
                f"tool {function.__name__}: parameter {parameter.name!r} has no type hint",
                f"annotate it, e.g. `{parameter.name}: str`",
            )
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (hints[parameter.name], Field(default, description=described.get(parameter.name)))
    model = create_model(f"{function.__name__}_arguments", **fields)
    schema = _strip_titles(model.model_json_schema())
    schema["additionalProperties"] = False
    schema.setdefault("properties", {})
    return dict(schema)


def load_module(path: Path, name: str | None = None) -> ToolModule:
    """Read a tool module: its set name (the file's stem unless given), tools and scenarios."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise EdgeFabricError(f"tool module {path} does not exist", "check the path in tools.modules")
    info = path.stat()
    return _load_module(path.resolve(), name or path.stem, info.st_size, info.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _load_module(path: Path, set_name: str, size: int, mtime_ns: int) -> ToolModule:
    # Memoised per file version: validating every schema costs ~0.1 s a module, and data generation
    # loads the same sets for every worker and sample.
    if not SET_NAME.match(set_name):
        raise EdgeFabricError(
            f"tool set name {set_name!r} (from {path.name}) is not a plain identifier",
            "rename the file to letters, digits and underscores",
        )
    source = path.read_text(encoding="utf-8")
    module = import_file(path, f"edgefabric_toolset_{set_name}_{hashlib.sha1(source.encode()).hexdigest()[:8]}")
    overrides: dict[str, Any] = getattr(module, "TOOL_SCHEMAS", {}) or {}
    specs = []
    for tool_name, function in public_functions(module).items():
        description, _ = _docstring_parts(function)
        parameters = overrides.get(tool_name) or derive_parameters(function)
        try:
            specs.append(ToolSpec(name=tool_name, description=description, parameters=parameters))
        except ValidationError as exc:
            raise EdgeFabricError(
                f"tool {set_name}.{tool_name} has an invalid schema: {exc.errors()[0]['msg']}",
                "fix its signature or its TOOL_SCHEMAS entry",
            ) from None
    if not specs:
        raise EdgeFabricError(
            f"tool module {path} defines no tools",
            "define public functions with type hints (names not starting with '_')",
        )
    scenarios = [dict(item, set=set_name) for item in getattr(module, "SCENARIOS", []) or []]
    return ToolModule(name=set_name, path=path.resolve(), source=source, specs=specs, scenarios=scenarios)
