"""Each format's Ollama template (its unit's ollama.tmpl, the Modelfile's TEMPLATE), rendered by Go's own
text/template, against the unit's `render(..., add_generation_prompt=True)` on the same conversations.

Go's engine comes from the PyPI wheel `go-template` 0.0.3 (Go 1.11's text/template built as a shared
library; unmaintained since 2019, the only Go-template renderer that installs from PyPI here). The data is
shaped as Ollama passes it (template/template.go: `.System`, `.Messages` collated, `.Tools`; every struct
field present, as in Go). What Ollama prints itself, Qwen3's `{{ .Function }}` and call arguments, is given
as Go's encoding/json prints it (compact, map keys sorted, `<>&` escaped); the expected text takes the same
spelling there and the unit's everywhere else, so these tests pin that the difference is only that.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgefabric.runtime.formats import functiongemma, qwen3
from edgefabric.runtime.formats.qwen3.render import write_json
from edgefabric.schemas import Message, ToolCall, ToolSpec


def go_render(template: str, data: dict[str, Any], tmp_path: Path) -> str:
    """`template` executed on `data` by Go's text/template (values handed over as YAML: JSON is YAML)."""
    try:
        import go_template
    except (ImportError, OSError) as exc:  # the wheel's shared library is built for x86-64 Linux only
        pytest.skip(f"Go's text/template is not available here: {exc}")
    (tmp_path / "t.tmpl").write_text(template, encoding="utf-8")
    (tmp_path / "v.yaml").write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "out.txt"
    go_template.render_template(str(tmp_path / "t.tmpl"), str(tmp_path / "v.yaml"), str(out))
    assert out.is_file(), "Go's text/template rejected the template (its error went to stderr)"
    return out.read_text(encoding="utf-8")


def go_json(value: Any) -> str:
    """`value` as Go's encoding/json.Marshal writes a map: compact, keys sorted, `<`, `>`, `&` escaped."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _property(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    return {
        "Type": kind if isinstance(kind, list) else [kind] if kind else [],
        "Description": schema.get("description", ""),
        "Enum": schema.get("enum"),
        "Items": schema.get("items"),
    }


def ollama_values(messages: list[Message], tools: list[ToolSpec], *, printed_json: bool) -> dict[str, Any]:
    """What Ollama's Template.Execute hands a `.Messages` template, for these messages and tools.

    `printed_json`: give `.Function` and call arguments as the JSON Ollama prints for them (Qwen3's
    template prints them), else as the maps Ollama holds (FunctionGemma's template walks them).
    """
    collated: list[dict[str, Any]] = []
    for m in messages:  # Ollama's collate(): consecutive messages of one role (not tool) are merged
        if collated and collated[-1]["Role"] == m.role and m.role != "tool":
            collated[-1]["Content"] += "\n\n" + (m.content or "")
            continue
        calls = [
            {
                "Function": {
                    "Index": i,
                    "Name": c.name,
                    "Arguments": go_json(c.arguments) if printed_json else c.arguments,
                }
            }
            for i, c in enumerate(m.tool_calls)
        ]
        collated.append(
            {
                "Role": m.role,
                "Content": m.content or "",
                "Thinking": m.reasoning or "",
                "ToolCalls": calls,
                "ToolName": m.name or "",
                "ToolCallID": "",
                "Images": [],
            }
        )
    specs = []
    for tool in tools:
        params = tool.parameters
        function = {
            "Name": tool.name,
            "Description": tool.description,
            "Parameters": {
                "Type": params.get("type", "object"),
                "Required": params.get("required", []),
                "Properties": {k: _property(v) for k, v in (params.get("properties") or {}).items()},
            },
        }
        printed = go_json({"name": tool.name, "description": tool.description, "parameters": params})
        specs.append({"Type": "function", "Function": printed if printed_json else function})
    system = "\n\n".join(m.content or "" for m in messages if m.role == "system")
    return {"System": system, "Messages": collated, "Tools": specs, "Response": "", "Think": False}


def _tool(name: str, description: str, prop: str, schema: dict[str, Any], *, required: bool = True) -> ToolSpec:
    parameters = {"type": "object", "properties": {prop: schema}, **({"required": [prop]} if required else {})}
    return ToolSpec(name=name, description=description, parameters=parameters)


# One property per tool and one key per argument object: Go's text/template ranges over a map in sorted
# key order when its keys are strings (Ollama's maps are map[string]...), but the YAML values handed to
# this Go build arrive as map[interface{}]interface{}, whose order Go randomises. Sorted order is what the
# unit writes in declarations; arguments keep their order there, so calls with several keys match only
# when those keys were sorted (README, "Chat formats").
TOOLS = [
    _tool("get_weather", "Current weather in a city", "city", {"type": "string", "description": "City name"}),
    _tool("set_unit", "", "unit", {"type": "string", "enum": ["c", "f"]}),
    _tool("wait", "Wait some days", "days", {"type": ["integer", "null"]}, required=False),
    _tool("negate", "", "x", {"type": "number"}),
]
CONVERSATIONS = {
    "plain": [Message(role="user", content="Hello there")],
    "system and two turns": [
        Message(role="system", content="You are terse."),
        Message(role="user", content="Hi"),
        Message(role="assistant", content="Hello."),
        Message(role="user", content="Bye"),
    ],
    "call, result, answer, next question": [
        Message(role="system", content="Use the tools."),
        Message(role="user", content="Weather in Paris, and -2.5?"),
        Message(
            role="assistant",
            tool_calls=[
                ToolCall(name="get_weather", arguments={"city": "Paris"}),
                ToolCall(name="negate", arguments={"x": -2.5}),
            ],
        ),
        Message(role="tool", name="get_weather", content='{"temp": 21, "sky": "clear"}'),
        Message(role="tool", name="negate", content="2.5"),
        Message(role="assistant", content="21 °C and clear; 2.5."),
        Message(role="user", content="Thanks. And nested?"),
    ],
    "after a result, the model's turn goes on": [
        Message(role="user", content="Wait 3 days"),
        Message(role="assistant", content="Waiting.", tool_calls=[ToolCall(name="wait", arguments={"days": 3})]),
        Message(role="tool", name="wait", content="done"),
    ],
    "nested values and null": [
        Message(role="user", content="Store it"),
        Message(
            role="assistant",
            tool_calls=[
                ToolCall(name="store", arguments={"item": [1, {"ok": True}, "x y", None, {"deep": {"n": 0.5}}]}),
                ToolCall(name="wait", arguments={"days": None}),
            ],
        ),
        Message(role="tool", name="store", content="stored"),
        Message(role="tool", name="wait", content="ok"),
        Message(role="assistant", content="Done."),
        Message(role="user", content="Again"),
    ],
}


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
@pytest.mark.parametrize("with_tools", [False, True])
def test_functiongemma_ollama_template_renders_the_training_prompt(name: str, with_tools: bool, tmp_path: Path) -> None:
    messages = CONVERSATIONS[name]
    tools = TOOLS if with_tools else []
    rendered = go_render(functiongemma.ollama_template(), ollama_values(messages, tools, printed_json=False), tmp_path)
    assert rendered == functiongemma.render(messages, tools, add_generation_prompt=True)


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
@pytest.mark.parametrize("with_tools", [False, True])
def test_qwen3_ollama_template_renders_the_training_prompt(name: str, with_tools: bool, tmp_path: Path) -> None:
    messages = CONVERSATIONS[name]
    tools = TOOLS if with_tools else []
    rendered = go_render(qwen3.ollama_template(), ollama_values(messages, tools, printed_json=True), tmp_path)
    expected = qwen3.render(messages, tools, add_generation_prompt=True)
    # Where Ollama prints JSON itself, expect its spelling; everything else is the unit's text.
    for message in messages:
        for call in message.tool_calls:
            expected = expected.replace(
                f'"arguments": {write_json(call.arguments)}}}', f'"arguments": {go_json(call.arguments)}}}', 1
            )
    for tool in tools:
        ollama_function = go_json({"name": tool.name, "description": tool.description, "parameters": tool.parameters})
        expected = expected.replace(
            json.dumps(tool.to_openai(), ensure_ascii=False), f'{{"type": "function", "function": {ollama_function}}}'
        )
    assert rendered == expected
