"""The data model: OpenAI shapes in, clear errors out, records that survive JSONL and Arrow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from edgefabric.dataset import append_samples
from edgefabric.schemas import Message, Sample, ToolCall, ToolSpec

ADD = ToolSpec(
    name="add",
    description="Add two numbers",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    },
)
NOTE = ToolSpec(
    name="save_note",
    parameters={"type": "object", "properties": {"text": {"type": "string"}, "tags": {"type": "array"}}},
)


def sample(**overrides: object) -> Sample:
    data: dict[str, object] = {
        "messages": [
            Message(role="user", content="what is 2+3?"),
            Message(role="assistant", tool_calls=[ToolCall(name="add", arguments={"a": 2, "b": 3}, id="c1")]),
            Message(role="tool", name="add", tool_call_id="c1", content="5"),
            Message(role="assistant", content="5"),
        ],
        "tools": [ADD, NOTE],
        "topic_path": ["math", "arithmetic"],
    }
    data.update(overrides)
    return Sample.model_validate(data)


def test_toolspec_accepts_the_openai_wrapper_and_writes_it_back() -> None:
    wrapped = {"type": "function", "function": ADD.model_dump()}
    assert ToolSpec.model_validate(wrapped) == ADD
    assert ADD.to_openai() == wrapped


def test_toolspec_rejects_a_broken_schema_with_the_reason() -> None:
    with pytest.raises(ValidationError, match="not a valid JSON Schema"):
        ToolSpec(name="bad", parameters={"type": "object", "properties": {"a": {"type": "no-such-type"}}})
    with pytest.raises(ValidationError, match="of type 'object'"):
        ToolSpec(name="bad", parameters={"type": "string"})
    with pytest.raises(ValidationError, match="pattern"):
        ToolSpec(name="has space")


def test_argument_errors_name_the_field() -> None:
    assert ADD.argument_errors({"a": 1, "b": 2}) == []
    errors = ADD.argument_errors({"a": "one"})
    assert any("add.a:" in e and "not of type 'number'" in e for e in errors)
    assert any("'b' is a required property" in e for e in errors)


def test_toolcall_reads_openai_calls_with_string_arguments() -> None:
    call = ToolCall.model_validate(
        {"id": "x", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
    )
    assert call.arguments == {"a": 1} and call.id == "x"
    with pytest.raises(ValidationError, match="not valid JSON"):
        ToolCall.model_validate({"function": {"name": "add", "arguments": "{oops"}})
    with pytest.raises(ValidationError, match="not a JSON number"):
        ToolCall(name="add", arguments={"a": float("nan")})


def test_messages_check_which_fields_belong_to_which_role() -> None:
    with pytest.raises(ValidationError, match="only assistant messages carry tool_calls"):
        Message(role="user", content="x", tool_calls=[ToolCall(name="add")])
    with pytest.raises(ValidationError, match="needs name"):
        Message(role="tool", content="5")
    with pytest.raises(ValidationError, match="needs content or tool_calls"):
        Message(role="assistant")


def test_sample_rejects_calls_to_tools_it_does_not_offer() -> None:
    with pytest.raises(ValidationError, match="'mul', which is not in this sample's tools"):
        sample(messages=[Message(role="assistant", tool_calls=[ToolCall(name="mul")])])


def test_sample_refuses_records_from_a_newer_version() -> None:
    record = sample().to_record()
    record["schema_version"] = 99
    with pytest.raises(ValidationError, match="upgrade edgefabric"):
        Sample.from_record(record)


def test_record_round_trips_through_json() -> None:
    original = sample()
    original.metadata.extra["score"] = 0.9
    record = json.loads(json.dumps(original.to_record()))
    assert isinstance(record["tools"], str)
    assert isinstance(record["messages"][1]["tool_calls"][0]["function"]["arguments"], str)
    assert Sample.from_record(record) == original


def test_jsonl_loads_with_datasets_although_arguments_differ_per_tool(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    other = sample(
        messages=[
            Message(role="user", content="note this"),
            Message(
                role="assistant", tool_calls=[ToolCall(name="save_note", arguments={"text": "hi", "tags": [1, "a"]})]
            ),
            Message(role="tool", name="save_note", content='{"ok": true}'),
            Message(role="assistant", content="saved"),
        ]
    )
    path = tmp_path / "train.jsonl"
    append_samples(
        path,
        [
            sample(),
            other,
            sample(messages=[Message(role="user", content="hi"), Message(role="assistant", content="hello")]),
        ],
    )
    loaded = datasets.load_dataset("json", data_files=str(path), split="train")
    assert loaded.num_rows == 3
    assert set(loaded.column_names) >= {"messages", "tools"}
    assert [Sample.from_record(row) for row in loaded][1].tool_calls[0].arguments == {"text": "hi", "tags": [1, "a"]}
