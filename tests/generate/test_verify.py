"""The format and execution stages on hand-built conversations (the semantic stage runs in test_run)."""

from __future__ import annotations

from edgefabric.pipeline.generate.conversation import Execution
from edgefabric.pipeline.generate.verify import check_execution, check_format
from edgefabric.schemas import Message, ToolCall, ToolSpec

ADD = ToolSpec(
    name="add",
    description="Add two integers.",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
)


def _turns(*calls: list[ToolCall], answer: str = "It is 5.") -> list[Message]:
    messages = [Message(role="user", content="What is 2 plus 3?")]
    for turn in calls:
        messages.append(Message(role="assistant", tool_calls=turn))
        messages += [Message(role="tool", name=c.name, tool_call_id=c.id, content="5") for c in turn]
    messages.append(Message(role="assistant", content=answer))
    return messages


def _call(i: int, **arguments: object) -> ToolCall:
    return ToolCall(name="add", arguments=arguments, id=f"call_{i}")


def _run(call: ToolCall, step: int, ok: bool = True, content: str = "5", mistake: bool = False) -> Execution:
    return Execution(step, call, ok, content, None if ok else "schema", 1.0, deliberate_mistake=mistake)


def test_format_checks_the_shape_of_each_kind() -> None:
    one = _turns([_call(0, a=2, b=3)])
    assert check_format("single", one, [ADD], [], "functiongemma") is None
    assert "two or more calls" in (check_format("parallel", one, [ADD], [], "qwen3") or "")
    assert check_format("no_call", one, [ADD], [], "qwen3") == "a no_call sample calls a tool"
    assert "two call turns" in (check_format("multi_step", one, [ADD], [], "qwen3") or "")
    two = _turns([_call(0, a=2, b=3), _call(1, a=1, b=1)])
    assert check_format("parallel", two, [ADD], [], "qwen3") is None


def test_format_rejects_bad_arguments_unless_they_are_the_deliberate_mistake() -> None:
    bad = _call(0, a="two")
    messages = _turns([bad], [_call(1, a=2, b=3)])
    problem = check_format("error_recovery", messages, [ADD], [], "functiongemma")
    assert problem and "invalid arguments" in problem
    mistake = [_run(bad, 0, ok=False, mistake=True)]
    assert check_format("error_recovery", messages, [ADD], mistake, "functiongemma") is None


def test_format_requires_a_final_answer() -> None:
    messages = _turns([_call(0, a=2, b=3)], answer=" ")
    assert "answer" in (check_format("single", messages, [ADD], [], "qwen3") or "")


def test_execution_errors_are_only_expected_in_error_recovery() -> None:
    failing = [_run(_call(0, a=2, b=3), 0, ok=False, content="boom")]
    assert "unexpected schema error from add" in (check_execution("single", failing) or "")
    recovered = [_run(_call(0), 0, ok=False, mistake=True), _run(_call(1, a=2, b=3), 1)]
    assert check_execution("error_recovery", recovered) is None
    no_error = [_run(_call(0, a=2, b=3), 0, mistake=True), _run(_call(1, a=2, b=3), 1)]
    assert "no real error" in (check_execution("error_recovery", no_error) or "")


def test_a_multi_step_chain_must_use_an_earlier_result() -> None:
    chained = [_run(_call(0, a=2, b=3), 0, content='{"result": 5}'), _run(_call(1, a=5, b=1), 1, content="6")]
    assert check_execution("multi_step", chained) is None
    unchained = [_run(_call(0, a=2, b=3), 0, content='{"result": 5}'), _run(_call(1, a=7, b=1), 1)]
    assert "earlier result" in (check_execution("multi_step", unchained) or "")
