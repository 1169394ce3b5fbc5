"""A tool module is read from its source, never run on the host: top-level code runs only in the sandbox."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from edgefabric.cli import app
from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.sandbox import ToolBox
from edgefabric.runtime.sandbox.modules import load_module

pytestmark = pytest.mark.reliability


def _module(folder: Path, body: str, name: str = "mine") -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_reading_a_module_never_runs_its_top_level_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran-on-the-host.txt"
    path = _module(
        tmp_path,
        f'''
        import os
        from pathlib import Path

        try:  # what a hostile module would do with the user's rights
            Path({str(marker)!r}).write_text(os.environ.get("HOME", "?"))
        except OSError:
            pass

        def ping(text: str) -> str:
            """Echo the text."""
            return text
        ''',
    )
    module = load_module(path)
    assert [spec.name for spec in module.specs] == ["ping"]
    result = CliRunner().invoke(app, ["tools", "list", str(path)])
    assert result.exit_code == 0, result.output
    assert "ping" in result.output and "Echo the text." in result.output
    assert not marker.exists(), "the module's top-level code ran on the host"


def test_types_defaults_and_docstrings_are_read_from_the_source(tmp_path: Path) -> None:
    path = _module(
        tmp_path,
        '''
        from __future__ import annotations

        import typing
        from typing import Any, Optional

        Unit = typing.Literal["C", "F"]
        LIMIT = 7

        def plan(
            city: str,
            unit: Unit = "C",
            days: int = LIMIT,
            tags: "list[str] | None" = None,
            extra: Optional[dict[str, Any]] = None,
            *,
            seed: int = len("computed"),
        ) -> dict:
            """Plan a trip.

            Args:
                city: Where to.
                seed: A seed.
            """
            return {}
        ''',
    )
    spec = load_module(path).specs[0]
    assert spec.description == "Plan a trip."
    schema: dict[str, Any] = spec.parameters
    assert schema["required"] == ["city"] and schema["additionalProperties"] is False
    properties = schema["properties"]
    assert properties["city"] == {"type": "string", "description": "Where to."}
    assert properties["unit"]["enum"] == ["C", "F"] and properties["unit"]["default"] == "C"
    assert properties["days"] == {"type": "integer", "default": 7}
    assert properties["tags"]["anyOf"] == [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]
    assert properties["extra"]["anyOf"][0] == {"type": "object", "additionalProperties": True}
    # A computed default makes the parameter optional; the schema names no value it cannot know.
    assert properties["seed"] == {"type": "integer", "description": "A seed."}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "import enum\nclass Color(enum.Enum):\n    RED = 1\ndef paint(color: Color) -> None:\n    pass\n",
            "Color is defined in the module",
        ),
        ("def f(x: undefined_name) -> None:\n    pass\n", "not a known type name"),
        ("def f(x: os.PathLike) -> None:\n    pass\n", "cannot be read"),
        ("TOOL_SCHEMAS = dict(f={})\ndef f(x: int) -> int:\n    return x\n", "not written out as a literal"),
        ("__all__ = [n for n in ['f']]\ndef f(x: int) -> int:\n    return x\n", "not written out as a literal"),
        ("from . import helpers\ndef f(x: int) -> int:\n    return x\n", "relative import"),
        ("import numpy\ndef f(x: int) -> int:\n    return x\n", "not part of the Python standard library"),
        ("def f(x: int) -> int\n    return x\n", "not valid Python"),
    ],
)
def test_what_cannot_be_read_without_running_is_a_clear_error(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(EdgeFabricError, match=message):
        load_module(_module(tmp_path, body))


def test_a_schema_override_needs_no_readable_signature(tmp_path: Path) -> None:
    path = _module(
        tmp_path,
        """
        TOOL_SCHEMAS = {"f": {"type": "object", "properties": {"x": {"type": "integer"}}}}

        def f(x: SomethingOnlyTheModuleKnows, *rest) -> int:
            '''F.'''
            return 1
        """,
    )
    assert load_module(path).specs[0].parameters["properties"] == {"x": {"type": "integer"}}


def test_computed_scenarios_are_read_inside_the_sandbox(toolbox: ToolBox) -> None:
    """mobile.py builds its SCENARIOS by calling its own functions: the values come from the sandbox."""
    evening = next(s for s in toolbox.scenarios() if s["name"] == "mobile-evening")
    assert evening["set"] == "mobile"
    phone = evening["state"]["phone"]
    assert len(phone["contacts"]) == 8 and phone["settings"]["wifi"] is True
    with toolbox.session(scenario="mobile-evening") as session:
        found = session.call("search_contacts", {"query": "bob"})
    assert found.ok and '"count": 2' in found.content
