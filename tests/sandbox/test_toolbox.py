"""Loading tool sets: schemas from signatures, overrides, user modules, errors, the build cache."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.sandbox import ToolBox, load_toolbox
from edgefabric.runtime.sandbox.build import compiled_path, sandbox_cache, source_key
from edgefabric.runtime.sandbox.modules import BUILTIN_MODULES, builtin_path, load_module
from edgefabric.runtime.sandbox.toolbox import resolve_set
from tests.sandbox.conftest import BUILTINS, HOSTILE

ISSUE_TOOLS = {
    "files": {"read_file", "write_file", "list_files", "delete_file", "search_text"},
    "math": {"calculate", "convert_units"},
    "kv": {"set", "get", "delete", "list_keys"},
    "scene": {
        "create_object", "delete_object", "move_object", "scale_object", "rotate_object", "add_modifier",
        "apply_modifier", "set_material", "list_objects", "get_object_info", "render_stats",
    },
    "mobile": {"set_alarm", "create_calendar_event", "send_message", "toggle_setting", "open_app", "search_contacts"},
}  # fmt: skip


def write_module(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


@pytest.mark.parametrize("name", sorted(BUILTIN_MODULES))
def test_builtin_sets_have_exactly_the_issue_tools(name: str) -> None:
    module = load_module(builtin_path(name), name)
    assert {spec.name for spec in module.specs} == ISSUE_TOOLS[name]
    for spec in module.specs:
        assert spec.description, f"{spec.name} has no description"
        assert spec.parameters["additionalProperties"] is False
        for field, schema in spec.parameters["properties"].items():
            assert schema.get("description"), f"{spec.name}.{field} has no description"


def test_schema_from_signature_and_docstring(tmp_path: Path) -> None:
    path = write_module(
        tmp_path,
        "weather",
        '''
        from typing import Literal

        def forecast(city: str, days: int = 3, unit: Literal["C", "F"] = "C") -> dict:
            """Forecast the weather.

            More text that is not part of the description.

            Args:
                city: The city's name.
                days: How many days
                    ahead, 1 to 7.
            """
            return {}

        def _helper() -> None:
            pass
        ''',
    )
    module = load_module(path)
    assert module.name == "weather" and [s.name for s in module.specs] == ["forecast"]
    spec = module.specs[0]
    assert spec.description == "Forecast the weather."
    assert spec.parameters["required"] == ["city"]
    properties = spec.parameters["properties"]
    assert properties["city"] == {"type": "string", "description": "The city's name."}
    assert properties["days"] == {"type": "integer", "default": 3, "description": "How many days ahead, 1 to 7."}
    assert properties["unit"]["enum"] == ["C", "F"]


def test_schema_override_and_all(tmp_path: Path) -> None:
    path = write_module(
        tmp_path,
        "custom",
        """
        __all__ = ["shown"]
        TOOL_SCHEMAS = {"shown": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}}}

        def shown(n: int) -> int:
            '''Shown.'''
            return n

        def hidden(n: int) -> int:
            '''Not a tool: not in __all__.'''
            return n
        """,
    )
    module = load_module(path)
    assert [s.name for s in module.specs] == ["shown"]
    assert module.specs[0].parameters["properties"]["n"]["minimum"] == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("def f(x):\n    return x\n", "has no type hint"),
        ("def f(*args: int) -> None:\n    pass\n", "positional-only"),
        ("X = 1\n", "defines no tools"),
        ("import not_a_module_anywhere\n", "failed to import"),
        (
            "TOOL_SCHEMAS = {'f': {'type': 'array'}}\ndef f(x: int) -> int:\n    return x\n",
            "invalid schema",
        ),
    ],
)
def test_bad_modules_are_clear_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(EdgeFabricError, match=message):
        load_module(write_module(tmp_path, "bad", body))


def test_unknown_sets_and_clashes(tmp_path: Path) -> None:
    with pytest.raises(EdgeFabricError, match="unknown tool set 'maths'") as caught:
        resolve_set("maths")
    assert "files, kv, math, mobile, scene" in (caught.value.fix or "")
    with pytest.raises(EdgeFabricError, match="does not exist"):
        resolve_set(tmp_path / "missing.py")
    clash = write_module(tmp_path, "mine", "def calculate(expression: str) -> str:\n    return expression\n")
    with pytest.raises(EdgeFabricError, match="'calculate' is in both tool sets 'math' and 'mine'"):
        load_toolbox(["math", str(clash)])
    with pytest.raises(EdgeFabricError, match="no tool sets given"):
        load_toolbox([])


def test_box_specs_scenarios_and_sets(toolbox: ToolBox) -> None:
    assert toolbox.set_names == [*BUILTINS, HOSTILE.stem]
    names = [spec.name for spec in toolbox.specs]
    assert len(names) == len(set(names))
    assert toolbox.set_of("calculate") == "math" and toolbox.set_of("spin") == "hostile_tools"
    scenarios = toolbox.scenarios()
    assert {s["name"] for s in scenarios} >= {"files-notes", "kv-preferences", "scene-default", "mobile-evening"}
    json.dumps(scenarios)  # JSON-able
    with pytest.raises(EdgeFabricError, match="no scenario named 'nope'"):
        with toolbox.session(scenario="nope"):
            pass


def test_a_user_module_shares_the_builtin_sets_component(toolbox: ToolBox, sandbox_cache: Path) -> None:
    """Only the sets asked for are exposed, from the one component built for the session."""
    box = load_toolbox(["kv", str(HOSTILE)], cache_dir=sandbox_cache)
    assert box.compiled == toolbox.compiled
    assert {spec.name for spec in box.specs} == ISSUE_TOOLS["kv"] | {s.name for s in load_module(HOSTILE).specs}
    with box.session() as session:
        assert session.call("calculate", {"expression": "1"}).error_kind == "unknown_tool"
        assert session.call("set", {"key": "a", "value": 1}).ok


def test_cache_is_keyed_by_wasm_hash_and_wasmtime_version(toolbox: ToolBox, sandbox_cache: Path) -> None:
    assert toolbox.compiled is not None
    modules = [load_module(builtin_path(n), n) for n in sorted(BUILTIN_MODULES)] + [load_module(HOSTILE)]
    wasm = sandbox_cache / f"toolset-{source_key(modules)}.wasm"
    assert wasm.exists()
    assert compiled_path(wasm, sandbox_cache) == toolbox.compiled
    assert toolbox.compiled.name.endswith("-wasmtime-50.0.1.cwasm")
    assert not list(sandbox_cache.glob("*.tmp"))  # outputs only ever appear whole
    stamp = os.stat(toolbox.compiled).st_mtime_ns
    load_toolbox(["math", str(HOSTILE)], cache_dir=sandbox_cache)
    assert os.stat(toolbox.compiled).st_mtime_ns == stamp  # reused, not rebuilt


def test_default_cache_lives_under_edgefabric_home(isolated_home: Path) -> None:
    assert sandbox_cache() == isolated_home / "cache" / "sandbox"
