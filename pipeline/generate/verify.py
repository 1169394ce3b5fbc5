"""Three verification stages, each recorded on the sample (metadata.verification):

- format: the sample has the shape its kind promises, every call matches its tool's
  schema (bar the deliberate mistake of an error-recovery sample), and every tool
  call survives a render/parse round trip in the student's chat format;
- execution: the real sandbox results hold no unexpected error (error_recovery must
  hold its real error, then a successful corrected call), and a multi-step chain
  really feeds an earlier result into a later call;
- grounding: every argument value of every call follows from the request, an earlier
  tool result or the schema (grounding.py), whatever the teacher's size;
- cycle (back-translation, optional): given only the request and the tools, the
  teacher makes the same first calls, scored with the evaluation's value-level matcher;
- semantic: the teacher, as judge, says the calls and answer serve the request
  (skipped, and not recorded, when generation.semantic_check is off).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from edgefabric.pipeline.generate import prompts
from edgefabric.pipeline.generate.conversation import CALL_FORMAT, Conversation, Execution
from edgefabric.pipeline.generate.grounding import Grounder
from edgefabric.pipeline.generate.structured import StructuredReplyError
from edgefabric.pipeline.generate.teacher import Teacher, TeacherError
from edgefabric.pipeline.generate.usage import Usage
from edgefabric.schemas import Message, SampleKind, ToolSpec, Verification


@dataclass(frozen=True)
class Outcome:
    verifications: list[Verification]
    failed: Verification | None  # the first stage that failed, if any

    @property
    def passed(self) -> bool:
        return self.failed is None


def check_format(
    kind: SampleKind, messages: list[Message], tools: list[ToolSpec], executions: list[Execution], family: str
) -> str | None:
    """The first format problem, or None."""
    call_turns = [m for m in messages if m.tool_calls]
    if kind == "no_call" and call_turns:
        return "a no_call sample calls a tool"
    if kind == "single" and (len(call_turns) != 1 or len(call_turns[0].tool_calls) != 1):
        return "a single sample must hold exactly one call"
    if kind == "parallel" and (len(call_turns) != 1 or len(call_turns[0].tool_calls) < 2):
        return "a parallel sample must hold two or more calls in one turn"
    if kind in ("multi_step", "error_recovery") and len(call_turns) < 2:
        return f"a {kind} sample must hold at least two call turns"
    last = messages[-1]
    if last.role != "assistant" or last.tool_calls or not (last.content or "").strip():
        return "the conversation does not end with the assistant's answer"
    mistaken = {e.call.id for e in executions if e.deliberate_mistake}
    by_name = {tool.name: tool for tool in tools}
    for turn in call_turns:
        for call in turn.tool_calls:
            if call.id in mistaken:
                continue
            errors = by_name[call.name].argument_errors(call.arguments)
            if errors:
                return f"invalid arguments: {errors[0]}"
    from edgefabric.runtime.formats.registry import get_format

    chat_format = get_format(family)
    for turn in call_turns:
        parsed = chat_format.parse(chat_format.render_assistant(turn))
        got = [(c.name, c.arguments) for c in parsed.tool_calls]
        want = [(c.name, c.arguments) for c in turn.tool_calls]
        if parsed.errors or got != want:
            detail = parsed.errors[0].message if parsed.errors else f"parsed {got}"
            return f"the calls do not survive a round trip through the {family} chat format ({detail})"
    return None


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = value if isinstance(value, str) else json.dumps(value)
    return [text] if text.strip() else []


def check_execution(kind: SampleKind, executions: list[Execution]) -> str | None:
    """The first execution problem, or None."""
    if kind == "no_call":
        return "a no_call sample ran a tool" if executions else None
    if not executions:
        return "no tool ran"
    unexpected = [e for e in executions if not e.ok and not e.deliberate_mistake]
    if unexpected:
        first = unexpected[0]
        return f"unexpected {first.error_kind} error from {first.call.name}: {first.content[:300]}"
    if kind == "error_recovery":
        if not any(not e.ok for e in executions if e.deliberate_mistake):
            return "error_recovery: the trace holds no real error"
        if not executions[-1].ok:
            return "error_recovery: the corrected call did not succeed"
    if kind == "multi_step":
        earlier = " ".join(e.content for e in executions if e.step == 0)
        later = [leaf for e in executions if e.step > 0 for leaf in _leaves(e.call.arguments)]
        if not any(leaf in earlier for leaf in later):
            return "multi_step: no argument of a later call comes from an earlier result"
    return None


async def cycle_check(teacher: Teacher, conversation: Conversation, tools: list[ToolSpec], usage: Usage) -> str | None:
    """Back-translation: the teacher sees only the request and the tools and must make the same first
    call turn (the corrected call, for error recovery). The first difference, or None.

    Scored with the evaluation's own matcher (pipeline.evaluate.matching), so "the same"
    means what it means when a model is evaluated.
    """
    from edgefabric.pipeline.evaluate.matching import ExpectedCall, match_calls

    mistaken = {e.call.id for e in conversation.executions if e.deliberate_mistake}
    turns = [[c for c in m.tool_calls if c.id not in mistaken] for m in conversation.messages if m.tool_calls]
    expected = next((turn for turn in turns if turn), [])
    if not expected:
        return None
    reply = await teacher.structured(
        prompts.step_prompt(
            tools, None, f"User: {conversation.request}", f"Make the tool call(s) the user asks for. {CALL_FORMAT}"
        ),
        prompts.calls_schema(tools, min_items=1, max_items=max(4, len(expected))),
        prompts.CallsReply,
        name="cycle calls",
        usage=usage,
    )
    from edgefabric.schemas import ToolCall

    made = [ToolCall(name=c.name, arguments=c.arguments) for c in reply.calls if c.name in {t.name for t in tools}]
    match = match_calls(made, [ExpectedCall.exact(c) for c in expected], tools)
    if match.params_ok:
        return None
    shown = ", ".join(f"{c.name}({json.dumps(c.arguments, ensure_ascii=False)})" for c in made) or "no call"
    return f"from the request alone the teacher made {shown}; the sample holds " + ", ".join(
        f"{c.name}({json.dumps(c.arguments, ensure_ascii=False)})" for c in expected
    )


async def judge(teacher: Teacher, transcript: str, usage: Usage) -> tuple[bool, str]:
    reply = await teacher.structured(
        prompts.judge_prompt(transcript), prompts.VERDICT_SCHEMA, prompts.VerdictReply, name="verdict", usage=usage
    )
    return reply.verdict == "yes", reply.reason.strip()[:300]


async def verify(
    kind: SampleKind,
    conversation: Conversation,
    tools: list[ToolSpec],
    *,
    family: str,
    teacher: Teacher | None,
    usage: Usage,
    grounder: Grounder | None = None,
    cycle_teacher: Teacher | None = None,
) -> Outcome:
    """Run the stages in order; stop at the first that fails. Raises TeacherError if the judge is unreachable.

    `teacher` judges (the semantic stage) and `cycle_teacher` back-translates (the cycle
    stage); either None skips its stage, and a skipped stage is not recorded.
    """
    results: list[Verification] = []
    problem = check_format(kind, conversation.messages, tools, conversation.executions, family)
    results.append(Verification(stage="format", passed=problem is None, detail=problem or ""))
    if problem:
        return Outcome(results, results[-1])
    problem = check_execution(kind, conversation.executions)
    ran = len(conversation.executions)
    detail = problem or f"{ran} real call(s), {sum(not e.ok for e in conversation.executions)} with the expected error"
    results.append(Verification(stage="execution", passed=problem is None, detail=detail))
    if problem:
        return Outcome(results, results[-1])
    mistakes = frozenset(e.call.id for e in conversation.executions if e.deliberate_mistake and e.call.id)
    grounding = (grounder or Grounder()).check_messages(conversation.messages, tools, skip_call_ids=mistakes)
    results.append(Verification(stage="grounding", passed=grounding.passed, detail=grounding.summary()))
    if not grounding.passed:
        return Outcome(results, results[-1])
    if cycle_teacher is not None and kind != "no_call":
        try:
            problem = await cycle_check(cycle_teacher, conversation, tools, usage)
        except StructuredReplyError as exc:
            problem = f"the back-translated calls were unusable: {exc.problem}"
        results.append(
            Verification(
                stage="cycle", passed=problem is None, detail=problem or "the same calls from the request alone"
            )
        )
        if problem:
            return Outcome(results, results[-1])
    if teacher is not None:
        try:
            passed, reason = await judge(teacher, conversation.transcript, usage)
        except StructuredReplyError as exc:
            passed, reason = False, f"the judge's reply was unusable: {exc.problem}"
        except TeacherError:
            raise
        results.append(Verification(stage="semantic", passed=passed, detail=reason))
        if not passed:
            return Outcome(results, results[-1])
    return Outcome(results, None)
