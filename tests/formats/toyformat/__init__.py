"""A toy third chat format, one package: what adding a family takes (issue 14, "How it is checked").

S: system text
U: user text
A: answer text<call>NAME {"json": "arguments"}</call><end>
T: NAME result text
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from importlib.resources import files

from pydantic import ValidationError

from edgefabric.runtime.formats.base import ParseError, ParseResult, Segment
from edgefabric.runtime.formats.gbnf import GrammarMode, json_call_grammar
from edgefabric.schemas import Message, ToolCall, ToolSpec

name = "toy"
CALL_START, CALL_END, END = "<call>", "</call>", "<end>"
special_tokens: tuple[str, ...] = (CALL_START, CALL_END, END)
stop_sequences: tuple[str, ...] = (END,)
turn_end_sequences: tuple[str, ...] = (END,)
bos_token = ""
eos_token = END
_CALL = re.compile(re.escape(CALL_START) + r"(\S+) (.*?)" + re.escape(CALL_END), re.DOTALL)


def render_call(call: ToolCall) -> str:
    return f"{CALL_START}{call.name} {json.dumps(call.arguments, ensure_ascii=False)}{CALL_END}"


def render_assistant(message: Message) -> str:
    return (message.content or "") + "".join(render_call(c) for c in message.tool_calls)


def segments(
    messages: Sequence[Message], tools: Sequence[ToolSpec], *, add_generation_prompt: bool = False
) -> list[Segment]:
    out = [Segment("TOOLS: " + ", ".join(t.name for t in tools) + "\n", False)] if tools else []
    for m in messages:
        if m.role == "assistant":
            out += [Segment("A: ", False), Segment(render_assistant(m) + END, True), Segment("\n", False)]
        elif m.role == "tool":
            out.append(Segment(f"T: {m.name} {m.content}\n", False))
        else:
            out.append(Segment(f"{'U' if m.role == 'user' else 'S'}: {m.content}\n", False))
    if add_generation_prompt:
        out.append(Segment("A: ", False))
    return out


def render(messages: Sequence[Message], tools: Sequence[ToolSpec], *, add_generation_prompt: bool = False) -> str:
    return "".join(s.text for s in segments(messages, tools, add_generation_prompt=add_generation_prompt))


def parse(output: str) -> ParseResult:
    result = ParseResult()
    for match in _CALL.finditer(output):
        try:
            result.tool_calls.append(ToolCall(name=match.group(1), arguments=json.loads(match.group(2))))
        except (ValueError, ValidationError) as exc:
            result.errors.append(ParseError(str(exc), match.group(0)))
    result.text = _CALL.sub("", output).split(END, 1)[0].strip()
    return result


def call_grammar(tools: Sequence[ToolSpec], *, mode: GrammarMode, max_calls: int) -> str:
    return json_call_grammar(
        tools,
        head=lambda tool: f"{CALL_START}{tool.name} ",
        tail=CALL_END,
        separator="",
        answer="[^<] [^<]*",
        mode=mode,
        max_calls=max_calls,
    )


def chat_template() -> str:
    return files(__package__ or __name__).joinpath("template.jinja").read_text(encoding="utf-8")
