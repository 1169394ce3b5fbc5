"""Tool modules: plain Python files whose public functions are tools.

A tool is a module-level function with type hints and a docstring. Its JSON Schema is
derived from the signature with pydantic; the first docstring paragraph is the tool's
description, and a Google-style `Args:` section describes each parameter. A module may
override a schema (`TOOL_SCHEMAS = {"tool": {...}}`), limit which functions are tools
(`__all__`) and offer seed states (`SCENARIOS = [{"name": ..., "state": {...}}]`).

The host never runs a tool module: it reads signatures, type hints and docstrings from the
source (`signatures`), and everything else, the tools and the module's top-level code included,
runs only in the sandbox (seed states too: `ToolBox.scenarios` reads them there).
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.sandbox.signatures import NO_DEFAULT, UNREADABLE_DEFAULT, ToolSignature, read_module_source
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


def _docstring_parts(doc: str) -> tuple[str, dict[str, str]]:
    """The description (first paragraph) and per-argument text from a Google-style `Args:` block."""
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


def derive_parameters(tool: ToolSignature) -> dict[str, Any]:
    """The JSON Schema of a tool's keyword arguments, built by pydantic from its signature."""
    from pydantic import Field, create_model

    _, described = _docstring_parts(tool.doc)
    fields: dict[str, Any] = {}
    unnamed_defaults = []
    for parameter in tool.parameters:
        default = parameter.default
        if default is NO_DEFAULT:
            default = ...
        elif default is UNREADABLE_DEFAULT:
            default = None  # optional; the schema names no default (it is computed by the module)
            unnamed_defaults.append(parameter.name)
        fields[parameter.name] = (parameter.annotation, Field(default, description=described.get(parameter.name)))
    try:
        model = create_model(f"{tool.name}_arguments", **fields)
        schema = _strip_titles(model.model_json_schema())
    except Exception as exc:  # pydantic raises several types for types it cannot put in a schema
        raise EdgeFabricError(
            f"tool {tool.name}: no JSON Schema for its parameters ({type(exc).__name__}: {str(exc)[:300]})",
            "use JSON-like types (str, int, float, bool, list, dict, Literal, Optional), or give a TOOL_SCHEMAS entry",
        ) from None
    for name in unnamed_defaults:
        schema.get("properties", {}).get(name, {}).pop("default", None)
    schema["additionalProperties"] = False
    schema.setdefault("properties", {})
    return dict(schema)


def load_module(path: Path, name: str | None = None) -> ToolModule:
    """Read a tool module without running it: its set name (the file's stem unless given) and tools' specs."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise EdgeFabricError(f"tool module {path} does not exist", "check the path in tools.modules")
    info = path.stat()
    return _load_module(path.resolve(), name or path.stem, info.st_size, info.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _load_module(path: Path, set_name: str, size: int, mtime_ns: int) -> ToolModule:
    # Memoised per file version: validating every schema costs ~0.1 s a module, and data generation
    # loads the same sets for every worker and sample. The module is read, never run (see `signatures`).
    if not SET_NAME.match(set_name):
        raise EdgeFabricError(
            f"tool set name {set_name!r} (from {path.name}) is not a plain identifier",
            "rename the file to letters, digits and underscores",
        )
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise EdgeFabricError(f"tool module {path} is not UTF-8 text ({exc.reason})", "save it as UTF-8") from None
    read = read_module_source(source, path)
    specs = []
    for tool in read.tools:
        description, _ = _docstring_parts(tool.doc)
        parameters = read.overrides.get(tool.name) or derive_parameters(tool)
        try:
            specs.append(ToolSpec(name=tool.name, description=description, parameters=parameters))
        except ValidationError as exc:
            raise EdgeFabricError(
                f"tool {set_name}.{tool.name} has an invalid schema: {exc.errors()[0]['msg']}",
                "fix its signature or its TOOL_SCHEMAS entry",
            ) from None
    if not specs:
        raise EdgeFabricError(
            f"tool module {path} defines no tools",
            "define public functions with type hints (names not starting with '_')",
        )
    return ToolModule(name=set_name, path=path.resolve(), source=source, specs=specs)
