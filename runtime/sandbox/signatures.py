"""A tool module's tools read from its source text (Python's `ast`), never by running it on the host.

Reading a module by importing it would run its top-level code with the user's rights; the sandbox
promises that a tool module's code only ever runs inside WebAssembly. So the host parses the file
and reads, without executing anything from it:
- the tools: public top-level `def`s (in `__all__` when it is set) still bound to that name at the end;
- each parameter's type, built from the annotation's syntax by `annotation_type` (no `eval`): builtin
  types, names from a few standard-library typing modules, the module's own aliases of those
  (`Unit = Literal["C", "F"]`), subscripts (`list[str]`, `Literal[...]`), `X | Y` and string forms;
- defaults, docstrings, `__all__` and `TOOL_SCHEMAS` as literals (`ast.literal_eval`).
What needs the module to run (computed `SCENARIOS`) is read inside the sandbox instead (see toolbox).

`inspect` and `typing.get_type_hints` need live objects, and no library reads type hints from
source without evaluating them, hence this small interpreter.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgefabric.errors import EdgeFabricError

# Modules whose names may appear in annotations; they are standard library, imported on the host as usual.
TYPING_MODULES = frozenset({"typing", "collections.abc", "datetime", "decimal", "uuid", "pathlib", "ipaddress"})
BUILTIN_TYPES = {
    name: getattr(builtins, name)
    for name in ("int", "float", "str", "bool", "bytes", "list", "dict", "tuple", "set", "frozenset", "object")
}
# Typing forms subscripted with values only known here (typed Any: they are built at run time, not checked).
_UNION: Any = typing.Union
_LITERAL: Any = typing.Literal
_ANNOTATED: Any = typing.Annotated
MAX_ANNOTATION_DEPTH = 32
NO_DEFAULT = object()  # the parameter is required
UNREADABLE_DEFAULT = object()  # it has a default that is not a literal: optional, but the schema names no default


@dataclass(frozen=True)
class Parameter:
    """One parameter: its name, its type (a real type object built from the annotation) and default."""

    name: str
    annotation: Any
    default: Any = NO_DEFAULT  # a literal value, NO_DEFAULT or UNREADABLE_DEFAULT


@dataclass(frozen=True)
class ToolSignature:
    """What the host knows of one tool: name, docstring (cleaned as `inspect.getdoc` cleans it), parameters."""

    name: str
    doc: str
    parameters: list[Parameter]


@dataclass
class ModuleSource:
    """The parts of a tool module the host reads: its tools and its schema overrides."""

    tools: list[ToolSignature] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)


class _Scope:
    """Top-level names of one module: what each is bound to, for resolving annotations and defaults."""

    def __init__(self, tree: ast.Module, path: Path) -> None:
        self.path = path
        self.imports: dict[str, tuple[str, str | None]] = {}  # local name -> (module, attribute or None)
        self.values: dict[str, ast.expr] = {}  # name -> the expression last assigned to it
        self.functions: dict[str, ast.FunctionDef] = {}
        self.other: set[str] = set()  # classes, async defs and anything else bound at the top level
        for node in tree.body:
            self._bind(node)

    def _drop(self, name: str) -> None:
        self.imports.pop(name, None)
        self.values.pop(name, None)
        self.functions.pop(name, None)
        self.other.discard(name)

    def _bind(self, node: ast.stmt) -> None:
        if isinstance(node, ast.FunctionDef):
            self._drop(node.name)
            self.functions[node.name] = node
        elif isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                self._drop(local)
                self.imports[local] = (alias.name if alias.asname else local, None)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                local = alias.asname or alias.name
                self._drop(local)
                if node.level == 0 and node.module:
                    self.imports[local] = (node.module, alias.name)
                else:
                    self.other.add(local)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in _target_names(target):
                    self._drop(name)
                    if isinstance(target, ast.Name) and node.value is not None:
                        self.values[name] = node.value
                    else:
                        self.other.add(name)
        elif isinstance(node, ast.ClassDef | ast.AsyncFunctionDef):
            self._drop(node.name)
            self.other.add(node.name)
        else:
            # if/try/for/with at the top level: whatever they bind is not read statically
            for child in ast.walk(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    self._drop(child.name)
                    self.other.add(child.name)
                elif isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                    self._drop(child.id)
                    self.other.add(child.id)
                elif isinstance(child, ast.alias):
                    local = child.asname or child.name.split(".")[0]
                    self._drop(local)
                    self.other.add(local)

    def literal(self, name: str, what: str) -> Any:
        """The literal value assigned to a top-level `name`, or None when it is not assigned; EdgeFabricError
        when it is assigned something that is not a literal."""
        node = self.values.get(name)
        if node is None:
            if name in self.other or name in self.imports or name in self.functions:
                raise EdgeFabricError(
                    f"{what} in {self.path} is not a plain assignment",
                    f"assign {name} once at the top level, written out as a literal",
                )
            return None
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise EdgeFabricError(
                f"{what} in {self.path} (line {node.lineno}) is computed, not written out as a literal",
                f"write {name} out as a literal: the host reads it without running the module",
            ) from None


def _target_names(target: ast.expr) -> list[str]:
    return [node.id for node in ast.walk(target) if isinstance(node, ast.Name)]


def _stdlib(module: str) -> bool:
    return module.split(".")[0] in sys.stdlib_module_names


def check_imports(tree: ast.Module, path: Path) -> None:
    """Refuse top-level imports the sandbox cannot satisfy: only the standard library is there.

    Checked from the syntax (nothing is imported), so a module that would fail to import in the
    sandbox fails here, with its line, before a build. Imports inside functions or `try` blocks are
    the module's own business (a tool may fall back when a module is missing).
    """
    for node in tree.body:
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.ImportFrom):
            raise EdgeFabricError(
                f"tool module {path} failed to import: line {node.lineno} is a relative import",
                "a tool module is copied into the sandbox alone: import only the Python standard library",
            )
        for name in names:
            if not _stdlib(name):
                raise EdgeFabricError(
                    f"tool module {path} failed to import: line {node.lineno} imports {name!r}, "
                    "which is not part of the Python standard library",
                    "tool modules may only use the Python standard library (the sandbox has nothing else)",
                )


def annotation_type(node: ast.expr, scope: _Scope, depth: int = 0) -> Any:
    """The type an annotation's syntax names, built without evaluating the module (see the module doc).

    Raises ValueError naming the part that cannot be read statically.
    """
    if depth > MAX_ANNOTATION_DEPTH:
        raise ValueError("the annotation nests too deeply (or an alias refers to itself)")
    if isinstance(node, ast.Constant):
        if node.value is None:
            return None
        if isinstance(node.value, str):  # a forward reference, as "int | None"
            try:
                parsed = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                raise ValueError(f"the string annotation {node.value!r} is not a Python expression") from None
            return annotation_type(parsed, scope, depth + 1)
        raise ValueError(f"{node.value!r} is not a type")
    if isinstance(node, ast.Name):
        return _name_type(node.id, scope, depth)
    if isinstance(node, ast.Attribute):
        base = node.value
        dotted = [node.attr]
        while isinstance(base, ast.Attribute):
            dotted.insert(0, base.attr)
            base = base.value
        if not isinstance(base, ast.Name) or base.id not in scope.imports:
            raise ValueError(f"{ast.unparse(node)} is not a name from an imported typing module")
        module, attribute = scope.imports[base.id]
        full = ".".join([module, *([attribute] if attribute else []), *dotted[:-1]])
        return _module_attribute(full, dotted[-1])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = annotation_type(node.left, scope, depth + 1), annotation_type(node.right, scope, depth + 1)
        return _UNION[left, right]  # `left | right` fails for None | None; Union flattens and dedupes
    if isinstance(node, ast.Subscript):
        origin = annotation_type(node.value, scope, depth + 1)
        items = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if origin is _LITERAL:
            try:
                values = tuple(ast.literal_eval(item) for item in items)
            except ValueError:
                raise ValueError(f"Literal[...] takes literal values: {ast.unparse(node.slice)}") from None
            return _LITERAL[values]
        if origin is _ANNOTATED:
            inner = annotation_type(items[0], scope, depth + 1)
            try:
                extras = tuple(ast.literal_eval(item) for item in items[1:])
            except ValueError:
                raise ValueError("Annotated[...] extras must be literals (read without running the module)") from None
            return _ANNOTATED[(inner, *extras)]
        arguments = tuple(
            [annotation_type(e, scope, depth + 1) for e in item.elts] if isinstance(item, ast.List) else
            annotation_type(item, scope, depth + 1)
            for item in items
        )  # fmt: skip
        try:
            return origin[arguments if len(arguments) > 1 else arguments[0]]
        except TypeError as exc:
            raise ValueError(f"{ast.unparse(node)}: {exc}") from None
    raise ValueError(f"{ast.unparse(node)} cannot be read without running the module")


def _module_attribute(module: str, name: str) -> Any:
    if module not in TYPING_MODULES:
        raise ValueError(
            f"{module}.{name} is not from a module types are read from ({', '.join(sorted(TYPING_MODULES))})"
        )
    value = getattr(importlib.import_module(module), name, None)
    if value is None:
        raise ValueError(f"{module} has no {name}")
    return value


def _name_type(name: str, scope: _Scope, depth: int) -> Any:
    if name in scope.imports:
        module, attribute = scope.imports[name]
        if attribute is None:
            raise ValueError(f"{name} is a module, not a type")
        return _module_attribute(module, attribute)
    if name in scope.values:
        return annotation_type(scope.values[name], scope, depth + 1)  # an alias: Unit = Literal["C", "F"]
    if name in scope.functions or name in scope.other:
        raise ValueError(
            f"{name} is defined in the module (a class or a computed value); the host reads signatures without "
            "running the module, so use builtin types, typing forms (Literal, Optional, ...) or aliases of them"
        )
    if name in BUILTIN_TYPES:
        return BUILTIN_TYPES[name]
    raise ValueError(f"{name} is not a known type name (import it from typing, or use a builtin type)")


def _default(node: ast.expr, scope: _Scope) -> Any:
    """A default written as a literal, or as the name of a top-level literal; else UNREADABLE_DEFAULT."""
    if isinstance(node, ast.Name) and node.id in scope.values:
        node = scope.values[node.id]
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return UNREADABLE_DEFAULT


def _signature(function: ast.FunctionDef, scope: _Scope, typed: bool = True) -> ToolSignature:
    """The tool's signature; with `typed` False (its schema is given in TOOL_SCHEMAS) parameters are not read."""
    doc = ast.get_docstring(function, clean=True) or ""
    if not typed:
        return ToolSignature(function.name, doc, [])
    arguments = function.args
    if arguments.posonlyargs or arguments.vararg or arguments.kwarg:
        raise EdgeFabricError(
            f"tool {function.name} has a parameter *args, **kwargs or a positional-only one",
            "give every tool parameter a name and a type; tools are called with keyword arguments",
        )
    positional_defaults: list[ast.expr | None] = [None] * (len(arguments.args) - len(arguments.defaults))
    pairs = list(zip(arguments.args, [*positional_defaults, *arguments.defaults], strict=True))
    pairs += list(zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True))
    parameters = []
    for argument, default in pairs:
        if argument.annotation is None:
            raise EdgeFabricError(
                f"tool {function.name}: parameter {argument.arg!r} has no type hint",
                f"annotate it, e.g. `{argument.arg}: str`",
            )
        try:
            annotation = annotation_type(argument.annotation, scope)
        except ValueError as exc:
            raise EdgeFabricError(
                f"tool {function.name}: the type of parameter {argument.arg!r} "
                f"({ast.unparse(argument.annotation)}) cannot be read: {exc}",
                "use builtin types and typing forms in tool signatures",
            ) from None
        value = NO_DEFAULT if default is None else _default(default, scope)
        parameters.append(Parameter(argument.arg, annotation, value))
    return ToolSignature(function.name, doc, parameters)


def read_module_source(source: str, path: Path) -> ModuleSource:
    """The tools and schema overrides of a tool module's source, read without running any of it.

    Raises EdgeFabricError for a syntax error, an import the sandbox lacks, a parameter without a
    readable type hint, or an `__all__`/`TOOL_SCHEMAS` that is not written out as a literal.
    """
    try:
        tree = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise EdgeFabricError(
            f"tool module {path} failed to import: it is not valid Python ({exc})",
            "fix the module; tool modules may only use the Python standard library",
        ) from None
    check_imports(tree, path)
    scope = _Scope(tree, path)
    listed = scope.literal("__all__", "__all__")
    if listed is not None and not (isinstance(listed, list | tuple) and all(isinstance(item, str) for item in listed)):
        raise EdgeFabricError(f"__all__ in {path} is not a list of names", "write __all__ = ['tool', ...]")
    overrides = scope.literal("TOOL_SCHEMAS", "TOOL_SCHEMAS") or {}
    if not isinstance(overrides, dict):
        raise EdgeFabricError(f"TOOL_SCHEMAS in {path} is not a dict", 'write TOOL_SCHEMAS = {"tool": {...}}')
    tools = [
        _signature(function, scope, typed=name not in overrides)
        for name, function in scope.functions.items()
        if not name.startswith("_") and (listed is None or name in listed)
    ]
    return ModuleSource(tools=tools, overrides=overrides)
