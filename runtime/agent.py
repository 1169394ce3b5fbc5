"""The agent loop: render -> generate (streaming) -> parse -> validate -> execute -> feed back.

It runs until the model answers without a call, or a step limit. Whatever the model
writes (garbage, calls to unknown tools, arguments that break the schema, the same
call over and over) becomes a `Failure` with its reason; the loop never raises for
model behaviour. With no tool session (the OpenAI-compatible server, where the client
runs the tools) it stops after the first step that makes calls.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from edgefabric.errors import ContextOverflowError, EdgeFabricError
from edgefabric.runtime.backends.base import Backend, GenerationStats
from edgefabric.runtime.formats.registry import get_format
from edgefabric.schemas import Message, ToolCall, ToolSpec

Constrain = Literal["off", "auto", "required"]
# Why the loop ended: "answer" (a final answer ended by the turn's end), "tool_call" (calls handed to the
# caller, who runs them: no session), "length" (the last step ran to the max_tokens cap or the context's
# end without a call), "stop_sequence" (cut at a stop string that is not the turn's end, e.g. the model
# began writing a tool response itself), or a failure: "step_limit", "loop", "garbage", "empty", "error".
StopReason = Literal[
    "answer", "tool_call", "length", "stop_sequence", "step_limit", "loop", "garbage", "empty", "error"
]
FailureKind = Literal[
    "parse", "unknown_tool", "schema", "tool_error", "loop", "step_limit", "length", "empty", "error", "context"
]


class ToolOutcome(Protocol):
    """What a sandbox `ToolResult` offers (see the sandbox API)."""

    ok: bool
    content: str
    error_kind: str | None
    elapsed_ms: float


class ToolRunner(Protocol):
    """A sandbox `ToolSession`: runs one call, never raises for tool failures."""

    def call(self, name: str, arguments: dict[str, Any]) -> ToolOutcome: ...


@dataclass
class Failure:
    kind: FailureKind
    reason: str
    raw: str = ""


@dataclass
class ExecutedCall:
    call: ToolCall
    ok: bool | None  # None: not executed (invalid, or no session to run it in)
    content: str = ""
    error_kind: str | None = None
    elapsed_ms: float = 0.0


@dataclass
class Step:
    output: str
    calls: list[ToolCall]
    executed: list[ExecutedCall]
    stats: GenerationStats
    grammar: bool = False


@dataclass
class AgentResult:
    messages: list[Message]
    steps: list[Step] = field(default_factory=list)
    final_text: str | None = None
    stop_reason: StopReason = "answer"
    failures: list[Failure] = field(default_factory=list)
    time_to_first_token_s: float | None = None
    time_to_first_call_s: float | None = None
    total_s: float = 0.0

    @property
    def calls(self) -> list[ToolCall]:
        return [call for step in self.steps for call in step.calls]

    @property
    def first_calls(self) -> list[ToolCall]:
        """The calls of the first step that made any: what single/parallel samples are scored on."""
        return next((step.calls for step in self.steps if step.calls), [])

    @property
    def executed(self) -> list[ExecutedCall]:
        return [ex for step in self.steps for ex in step.executed]

    @property
    def completion_tokens(self) -> int:
        return sum(step.stats.completion_tokens for step in self.steps)

    @property
    def prompt_tokens(self) -> int:
        return sum(step.stats.prompt_tokens for step in self.steps)

    @property
    def generation_s(self) -> float:
        return sum(step.stats.total_s for step in self.steps)

    @property
    def raw_output(self) -> str:
        return "\n---\n".join(step.output for step in self.steps)

    @property
    def stop_detail(self) -> str:
        """`stop_reason` for people: "length" names the cap, "stop_sequence" the string that cut the text."""
        last = self.steps[-1].stats if self.steps else None
        if self.stop_reason == "length" and last is not None:
            return f"length (ran to the token cap: {last.completion_tokens} tokens)"
        if self.stop_reason == "stop_sequence" and last is not None:
            return f"stop_sequence ({last.stop_sequence})"
        return self.stop_reason


def _call_key(call: ToolCall) -> str:
    return call.name + json.dumps(call.arguments, sort_keys=True)


class Agent:
    def __init__(
        self,
        backend: Backend,
        family: str,
        tools: Sequence[ToolSpec],
        *,
        max_steps: int = 4,
        max_tokens: int = 256,
        constrain: Constrain = "off",
        max_calls: int = 4,
        on_text: Callable[[str], None] | None = None,
        on_call: Callable[[ExecutedCall], None] | None = None,
    ) -> None:
        self.backend = backend
        self.format = get_format(family)
        self.family = family
        self.tools = list(tools)
        self.by_name = {tool.name: tool for tool in self.tools}
        self.max_steps = max_steps
        self.max_tokens = max_tokens
        self.constrain: Constrain = constrain
        self.on_text = on_text
        self.on_call = on_call
        self._call_end: str | None = getattr(self.format, "CALL_END", None)
        self._grammars: dict[str, str] = {}
        if constrain != "off" and self.tools:
            if backend.name != "llama.cpp":
                raise EdgeFabricError(
                    f"constrained decoding needs the llama.cpp backend, not {backend.name}",
                    "use a GGUF model, or run without --constrained",
                )
            from edgefabric.runtime.grammar import call_grammar

            self._grammars = {
                "required": call_grammar(family, self.tools, mode="required", max_calls=max_calls),
                "auto": call_grammar(family, self.tools, mode="auto", max_calls=max_calls),
            }

    def _grammar_for(self, step: int) -> str | None:
        if not self._grammars:
            return None
        # "required" forces a call on the first step only; afterwards the model may answer.
        return self._grammars["required" if self.constrain == "required" and step == 0 else "auto"]

    def run(self, messages: Sequence[Message], session: ToolRunner | None = None) -> AgentResult:
        start = time.perf_counter()
        result = AgentResult(messages=list(messages))
        seen: set[str] = set()
        call_number = 0
        for step_index in range(self.max_steps):
            prompt = self.format.render(result.messages, self.tools, add_generation_prompt=True)
            grammar = self._grammar_for(step_index)
            try:
                generation = self.backend.generate(prompt, self.format.stop_sequences, self.max_tokens, grammar)
                for piece in generation:
                    now = time.perf_counter() - start
                    if result.time_to_first_token_s is None:
                        result.time_to_first_token_s = now
                    if (
                        result.time_to_first_call_s is None
                        and self._call_end is not None
                        and self._call_end in generation.text
                    ):
                        result.time_to_first_call_s = now
                    if self.on_text is not None:
                        self.on_text(piece)
            except EdgeFabricError as exc:
                kind: FailureKind = "context" if isinstance(exc, ContextOverflowError) else "error"
                result.failures.append(Failure(kind, exc.problem))
                result.stop_reason = "error"
                break
            output = generation.text
            parsed = self.format.parse(output)
            step = Step(output, list(parsed.tool_calls), [], generation.stats, grammar is not None)
            result.steps.append(step)
            for error in parsed.errors:
                result.failures.append(Failure("parse", error.message, error.snippet))

            if not parsed.tool_calls:
                stats = generation.stats
                if stats.finish_reason == "length":
                    # The cap cut it: never an answer, whatever text (or broken call) came before.
                    reason = f"the step stopped at the token cap after {stats.completion_tokens} tokens (max_tokens {self.max_tokens})"
                    result.failures.append(Failure("length", reason, output[-200:]))
                    result.stop_reason = "length"
                    result.final_text = parsed.text or None
                elif parsed.errors:
                    result.stop_reason = "garbage"
                    result.final_text = parsed.text or None
                elif not parsed.text.strip():
                    result.failures.append(Failure("empty", "the model wrote nothing", output))
                    result.stop_reason = "empty"
                else:
                    turn_end = getattr(self.format, "turn_end_sequences", self.format.stop_sequences)
                    cut = stats.finish_reason == "stop_sequence" and stats.stop_sequence not in turn_end
                    result.stop_reason = "stop_sequence" if cut else "answer"
                    result.final_text = parsed.text
                    result.messages.append(Message(role="assistant", content=parsed.text))
                break

            for call in parsed.tool_calls:
                call_number += 1
                call.id = call.id or f"call_{call_number}"
            result.messages.append(Message(role="assistant", content=parsed.text or None, tool_calls=parsed.tool_calls))
            if result.time_to_first_call_s is None:
                result.time_to_first_call_s = time.perf_counter() - start

            keys = {_call_key(call) for call in parsed.tool_calls}
            if keys <= seen:
                result.failures.append(
                    Failure("loop", f"the model repeated {', '.join(c.name for c in parsed.tool_calls)}", output)
                )
                result.stop_reason = "loop"
                break
            seen |= keys

            if session is None:
                # The caller runs the calls; still say which ones it will find invalid.
                for call in parsed.tool_calls:
                    self._invalid(call, result)
                step.executed = [ExecutedCall(call, None) for call in parsed.tool_calls]
                result.stop_reason = "tool_call"
                break
            for call in parsed.tool_calls:
                executed = self._execute(call, session, result)
                step.executed.append(executed)
                if self.on_call is not None:
                    self.on_call(executed)
                result.messages.append(
                    Message(role="tool", content=executed.content, name=call.name, tool_call_id=call.id)
                )
        else:
            result.stop_reason = "step_limit"
            result.failures.append(Failure("step_limit", f"no final answer after {self.max_steps} steps"))
        result.total_s = time.perf_counter() - start
        return result

    def _invalid(self, call: ToolCall, result: AgentResult) -> ExecutedCall | None:
        """The failure of a call to an unknown tool or with arguments its schema rejects, else None."""
        spec = self.by_name.get(call.name)
        if spec is None:
            reason = f"unknown tool {call.name!r}; available: {', '.join(self.by_name) or 'none'}"
            result.failures.append(Failure("unknown_tool", reason, _call_key(call)))
            return ExecutedCall(call, False, f"error: {reason}", "unknown_tool")
        problems = spec.argument_errors(call.arguments)
        if problems:
            reason = "; ".join(problems)
            result.failures.append(Failure("schema", reason, _call_key(call)))
            return ExecutedCall(call, False, f"error: {reason}", "schema")
        return None

    def _execute(self, call: ToolCall, session: ToolRunner, result: AgentResult) -> ExecutedCall:
        invalid = self._invalid(call, result)
        if invalid is not None:
            return invalid
        outcome = session.call(call.name, call.arguments)
        if not outcome.ok:
            result.failures.append(Failure("tool_error", outcome.content, _call_key(call)))
        return ExecutedCall(call, outcome.ok, outcome.content, outcome.error_kind, outcome.elapsed_ms)
