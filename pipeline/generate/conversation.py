"""One conversation: the teacher writes the request, proposes calls constrained to the tool
schemas, the calls run for real in a fresh sandbox session, and the real results go back
to the teacher until it answers.

Each kind is a short fixed script of call steps (bounded by generation.max_steps):
single (one call), parallel (two or more calls in one turn), multi_step (a second
call after the first's result), no_call (an answer without tools) and
error_recovery (a deliberately mistaken call whose REAL sandbox error is in the
trace, then the corrected call).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgefabric.errors import EdgeFabricError
from edgefabric.pipeline.generate import prompts
from edgefabric.pipeline.generate.plan import PlannedSample
from edgefabric.pipeline.generate.structured import StructuredReplyError
from edgefabric.pipeline.generate.teacher import Teacher, TeacherError
from edgefabric.pipeline.generate.tool_runner import ToolRunner
from edgefabric.pipeline.generate.usage import Usage
from edgefabric.schemas import Message, ToolCall, ToolSpec

CALL_FORMAT = 'Reply as JSON: {"calls": [{"name": "tool name", "arguments": {...}}]}'


@dataclass(frozen=True)
class CallStep:
    min_calls: int
    max_calls: int
    instruction: str
    deliberate_mistake: bool = False


STEPS: dict[str, list[CallStep]] = {
    "single": [CallStep(1, 1, "Call exactly one tool to serve the user's request.")],
    "parallel": [CallStep(2, 4, "Make two or more independent tool calls at once to serve the user's request.")],
    "multi_step": [
        CallStep(1, 1, "Make only the FIRST tool call needed; its result is needed for the next call."),
        CallStep(1, 1, "Make the next tool call, putting a value from the previous tool result into its arguments."),
    ],
    "no_call": [],
    "error_recovery": [
        CallStep(
            1,
            1,
            "Make one tool call with a realistic mistake in its arguments "
            "(a wrong argument name, a missing required argument or a wrong type).",
            deliberate_mistake=True,
        ),
        CallStep(1, 1, "The last tool call failed with the error shown. Make the corrected call."),
    ],
}


@dataclass
class Execution:
    """One real sandbox call as it happened."""

    step: int
    call: ToolCall
    ok: bool
    content: str
    error_kind: str | None
    elapsed_ms: float
    deliberate_mistake: bool = False


@dataclass
class Conversation:
    request: str
    messages: list[Message]
    executions: list[Execution] = field(default_factory=list)
    transcript: str = ""
    request_source: str = "teacher"  # call-first: "teacher", "form" (cached), "author" or "seed" (callfirst.py)
    answer_source: str = "teacher"  # "fallback": the teacher's answer was unusable, the real result is reported
    # call-first: [checked, grounded] per tool and "tool.param" over the rewrites dropped for grounding
    discarded_grounding: dict[str, list[int]] = field(default_factory=dict)


async def run_call(session: Any, call: ToolCall, step: int, *, mistake: bool = False) -> Execution:
    """Run `call` for real in a sandbox session (tool_runner.AsyncToolSession) and record it."""
    result = await session.call(call.name, call.arguments)
    return Execution(
        step=step,
        call=call,
        ok=bool(result.ok),
        content=str(result.content),
        error_kind=result.error_kind,
        elapsed_ms=float(result.elapsed_ms),
        deliberate_mistake=mistake,
    )


class SampleRejected(Exception):
    """A sample that cannot be accepted; `stage` is where it failed ("teacher" means retry on resume)."""

    def __init__(self, stage: str, reason: str, messages: list[Message] | None = None) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason
        self.messages = messages or []


def call_line(call: ToolCall) -> str:
    return f"Assistant called {call.name}({json.dumps(call.arguments, ensure_ascii=False)})"


def result_line(execution: Execution) -> str:
    content = execution.content if len(execution.content) <= 600 else execution.content[:600] + "..."
    if execution.ok:
        return f"Result of {execution.call.name}: {content}"
    return f"Error from {execution.call.name} ({execution.error_kind}): {content}"


async def generate_conversation(
    teacher: Teacher,
    runner: ToolRunner,
    tools: list[ToolSpec],
    planned: PlannedSample,
    *,
    scenario: dict[str, Any] | None,
    max_steps: int,
    usage: Usage,
    is_duplicate: Callable[[str], str | None] = lambda request: None,
) -> Conversation:
    """Raises SampleRejected with the stage and reason when the sample cannot be made."""
    steps = STEPS[planned.kind]
    if len(steps) > max_steps:
        raise SampleRejected(
            "format", f"a {planned.kind} sample needs {len(steps)} call steps but generation.max_steps is {max_steps}"
        )
    messages: list[Message] = []
    lines: list[str] = []
    try:
        reply = await teacher.structured(
            prompts.request_prompt(planned.kind, planned.topic.path, tools, scenario),
            prompts.REQUEST_SCHEMA,
            prompts.RequestReply,
            name="user request",
            usage=usage,
        )
        request = reply.request.strip()
        twin = is_duplicate(request)
        if twin is not None:
            raise SampleRejected("dedup", f"the user request nearly repeats sample {twin}")
        messages.append(Message(role="user", content=request))
        lines.append(f"User: {request}")
        conversation = Conversation(request=request, messages=messages)
        if steps:
            await _run_steps(teacher, runner, tools, steps, scenario, conversation, lines, usage)
            instruction = "Using the real tool results above, write the assistant's final reply to the user."
        else:
            instruction = "Write the assistant's reply to the user directly, without calling any tool."
        answer = await teacher.structured(
            prompts.step_prompt(tools, scenario, "\n".join(lines), instruction + ' Reply as JSON: {"answer": "..."}'),
            prompts.ANSWER_SCHEMA,
            prompts.AnswerReply,
            name="final answer",
            usage=usage,
        )
        messages.append(Message(role="assistant", content=answer.answer.strip()))
        lines.append(f"Assistant: {answer.answer.strip()}")
        conversation.transcript = "\n".join(lines)
        return conversation
    except EdgeFabricError as exc:
        raise as_rejection(exc, messages) from None


def as_rejection(exc: EdgeFabricError, messages: list[Message]) -> SampleRejected:
    """The reject stage of a failure while making a sample: an unusable teacher reply is "format", an
    unreachable teacher "teacher" (tried again on resume), anything else (the sandbox) "execution"."""
    if isinstance(exc, StructuredReplyError):
        return SampleRejected("format", exc.problem, messages)
    if isinstance(exc, TeacherError):
        return SampleRejected("teacher", exc.problem, messages)
    return SampleRejected("execution", exc.problem, messages)


async def _run_steps(
    teacher: Teacher,
    runner: ToolRunner,
    tools: list[ToolSpec],
    steps: list[CallStep],
    scenario: dict[str, Any] | None,
    conversation: Conversation,
    lines: list[str],
    usage: Usage,
) -> None:
    by_name = {tool.name: tool for tool in tools}
    next_id = 0
    async with runner.session(scenario) as session:
        for number, step in enumerate(steps):
            reply = await teacher.structured(
                prompts.step_prompt(tools, scenario, "\n".join(lines), f"{step.instruction} {CALL_FORMAT}"),
                prompts.calls_schema(
                    tools, min_items=step.min_calls, max_items=step.max_calls, free_arguments=step.deliberate_mistake
                ),
                prompts.CallsReply,
                name="tool calls",
                usage=usage,
            )
            calls: list[ToolCall] = []
            for proposed in reply.calls[: step.max_calls]:
                if proposed.name not in by_name:
                    raise SampleRejected(
                        "format", f"the teacher called unknown tool {proposed.name!r}", conversation.messages
                    )
                call = ToolCall(name=proposed.name, arguments=proposed.arguments, id=f"call_{next_id}")
                next_id += 1
                if not step.deliberate_mistake:
                    errors = by_name[call.name].argument_errors(call.arguments)
                    if errors:
                        raise SampleRejected("format", f"invalid arguments: {errors[0]}", conversation.messages)
                calls.append(call)
            conversation.messages.append(Message(role="assistant", tool_calls=calls))
            for call in calls:
                lines.append(call_line(call))
                execution = await run_call(session, call, number, mistake=step.deliberate_mistake)
                conversation.executions.append(execution)
                conversation.messages.append(
                    Message(role="tool", tool_call_id=call.id, name=call.name, content=execution.content)
                )
                lines.append(result_line(execution))
            if step.deliberate_mistake and all(e.ok for e in conversation.executions if e.step == number):
                raise SampleRejected(
                    "execution",
                    "error_recovery: the deliberately mistaken call ran without error, so there is nothing to recover from",
                    conversation.messages,
                )
