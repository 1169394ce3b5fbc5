"""What the teacher is asked, and the JSON shapes its answers must take.

Prompts are short on purpose: the embedded teacher has a 135M-parameter model
and a few thousand tokens of context. Each request is a fresh two-message chat
holding a plain-text transcript, so any chat model can play the teacher without
native tool-calling support.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from edgefabric.schemas import SampleKind, ToolSpec

SYSTEM = "You write realistic training conversations for an assistant that uses tools. Reply with JSON only."

REQUEST_GOALS: dict[str, str] = {
    "single": "It must need exactly one call of one of the tools.",
    "parallel": "It must need two or more independent tool calls that can run at the same time.",
    "multi_step": "It must need two tool calls in sequence, where the second needs the result of the first.",
    "no_call": "It must be answerable WITHOUT any of the tools (small talk or general knowledge).",
    "error_recovery": "It must need exactly one call of one of the tools.",
}


class RequestReply(BaseModel):
    request: str = Field(min_length=8, max_length=600)


class CallReply(BaseModel):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class CallsReply(BaseModel):
    calls: list[CallReply] = Field(min_length=1)


class AnswerReply(BaseModel):
    answer: str = Field(min_length=1, max_length=4000)


class VerdictReply(BaseModel):
    verdict: str
    reason: str = ""


# No maxLength in schemas sent to a teacher: llama.cpp expands `{1,4000}` into a grammar it
# fails to parse, and llama-cpp-python's server then crashes. The pydantic models above keep
# the upper bounds, and every reply is validated against them.
REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"request": {"type": "string", "minLength": 8}},
    "required": ["request"],
}
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string", "minLength": 1}},
    "required": ["answer"],
}
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["yes", "no"]}, "reason": {"type": "string"}},
    "required": ["verdict", "reason"],
}


def calls_schema(
    tools: list[ToolSpec], *, min_items: int, max_items: int, free_arguments: bool = False
) -> dict[str, Any]:
    """Calls constrained to the tool schemas: each item is one tool's name with its parameters.

    `free_arguments` keeps only the name constrained, for the deliberate mistake of
    an error-recovery sample (the sandbox then reports the real schema error).
    """
    if free_arguments:
        item: dict[str, Any] = {
            "type": "object",
            "properties": {
                "name": {"type": "string", "enum": [t.name for t in tools]},
                "arguments": {"type": "object"},
            },
            "required": ["name", "arguments"],
        }
    else:
        item = {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {"name": {"const": tool.name}, "arguments": tool.parameters},
                    "required": ["name", "arguments"],
                }
                for tool in tools
            ]
        }
    return {
        "type": "object",
        "properties": {"calls": {"type": "array", "items": item, "minItems": min_items, "maxItems": max_items}},
        "required": ["calls"],
    }


def describe_tools(tools: list[ToolSpec]) -> str:
    lines = []
    for tool in tools:
        properties = tool.parameters.get("properties", {})
        required = set(tool.parameters.get("required", []))
        args = ", ".join(
            f"{name}{'' if name in required else '?'}: {spec.get('type', 'any') if isinstance(spec, dict) else 'any'}"
            for name, spec in properties.items()
        )
        lines.append(f"- {tool.name}({args}): {tool.description}".rstrip(": "))
    return "\n".join(lines)


def describe_scenario(scenario: dict[str, Any] | None) -> str:
    if not scenario:
        return ""
    text = json.dumps(scenario, ensure_ascii=False)
    return f"Current state of the tools' world: {text[:800]}\n"


def chat(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


def request_prompt(
    kind: SampleKind, topic_path: list[str], tools: list[ToolSpec], scenario: dict[str, Any] | None
) -> list[dict[str, Any]]:
    return chat(
        f"Tools:\n{describe_tools(tools)}\n{describe_scenario(scenario)}"
        f"Topic: {' > '.join(topic_path)}\n"
        f"Write one realistic message a user sends to the assistant about this topic. {REQUEST_GOALS[kind]}\n"
        'Reply as JSON: {"request": "..."}'
    )


def step_prompt(
    tools: list[ToolSpec], scenario: dict[str, Any] | None, transcript: str, instruction: str
) -> list[dict[str, Any]]:
    return chat(
        f"Tools:\n{describe_tools(tools)}\n{describe_scenario(scenario)}"
        f"Conversation so far:\n{transcript}\n\n{instruction}"
    )


def judge_prompt(transcript: str) -> list[dict[str, Any]]:
    return chat(
        f"Conversation:\n{transcript}\n\n"
        "Judge it: do the tool calls (if any) and the final answer correctly serve the user's request, "
        "using the real tool results? Reply as JSON: "
        '{"verdict": "yes" or "no", "reason": "one sentence"}'
    )


KIND_HINTS: dict[str, str] = {
    "single": "",
    "error_recovery": "",
    "parallel": " The user asks for every task in one message.",
    "multi_step": " The user asks for the first task, then the second, which uses what the first finds.",
}
# Few-shot pairs in a domain no tool set has, so the teacher copies the form, not the values.
REWRITE_EXAMPLES = (
    ("Book a table: Luigi's, 4 people, 19:30", "hey, can you get me a table at Luigi's for 4 people at 19:30?"),
    ("Play music: Miles Davis; Set the volume: 7", "Put on some Miles Davis and set the volume to 7 please"),
    ("Water the plants: zone 3, 10 minutes", "water zone 3 for 10 minutes"),
)


def rewrite_request_prompt(topic_path: list[str], task: str, style: str, kind: str) -> list[dict[str, Any]]:
    """Call-first: the teacher rewrites a plain task, values included, as the user's message."""
    shots = "\n".join(f"Task: {plain}\nMessage: {message}" for plain, message in REWRITE_EXAMPLES)
    return chat(
        "Rewrite a task as the message a user sends to their assistant. Keep every name, word and number "
        f"of the task's values exactly, and add no other request.\n{shots}\n\n"
        f"Topic: {' > '.join(topic_path)}\nTask: {task}\n"
        f"Write the message {style}.{KIND_HINTS.get(kind, '')} "
        'Reply as JSON: {"request": "..."}'
    )


def no_call_prompt(
    topic_path: list[str], tools: list[ToolSpec], style: str, *, near_miss: bool
) -> list[dict[str, Any]]:
    """A request the tools cannot serve: small talk, or a near miss on the tools' domain."""
    if near_miss:
        goal = (
            "It must be about the same area as these tools but ask for something NONE of them can do "
            "(an opinion, advice, an explanation, or an action no tool offers)."
        )
    else:
        goal = "It must be small talk or a general-knowledge question that needs none of these tools."
    return chat(
        f"Tools:\n{describe_tools(tools)}\nTopic: {' > '.join(topic_path)}\n"
        f"Write one message a user sends to the assistant, {style}. {goal} "
        'Reply as JSON: {"request": "..."}'
    )
