"""A toy third chat format, one package: what adding a family takes (issue 14, "How it is checked").

It declares what every unit declares (runtime/formats/base.py `ChatFormat`): tokens, aliases, the HF
architecture its fine-tunes use, its model choices, name hints, model-card notes, a Jinja and an Ollama
template beside it. tests/train/test_a_third_family.py registers it and uses it everywhere.

S: system text
U: user text
A: answer text<call>NAME {"json": "arguments"}</call><end>
T: NAME result text
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from pydantic import ValidationError

from edgefabric.runtime.formats.base import ModelChoice, ParseError, ParseResult, Segment, unit_file
from edgefabric.runtime.formats.gbnf import GrammarMode, json_call_grammar
from edgefabric.schemas import Message, ToolCall, ToolSpec

name = "toy"
aliases: tuple[str, ...] = ("toy-chat",)
architectures: tuple[str, ...] = ("ToyForCausalLM",)
model_choices: tuple[ModelChoice, ...] = (ModelChoice("toy-1m", "Toy 1M", "toy/toy-1m"),)
name_hints: tuple[str, ...] = ("toylm",)
usage_notes: tuple[str, ...] = ("- Toy models answer on `A: ` lines; stop on `<end>`.",)
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
    return unit_file(__name__, "template.jinja")


def ollama_template() -> str:
    return unit_file(__name__, "ollama.tmpl")
