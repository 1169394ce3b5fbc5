"""Evaluation cases from the two sources: held-out `Sample` JSONL and BFCL's question/possible-answer layout.

A case is the prompt (messages up to the first assistant turn), the tools offered,
what the first step should call (None when no call is right: irrelevance), and for
multi-step samples every reference call, replayed in a fresh sandbox session to get
the reference final state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edgefabric.dataset import read_samples
from edgefabric.errors import EdgeFabricError
from edgefabric.pipeline.evaluate.matching import ExpectedCall
from edgefabric.schemas import Message, Sample, ToolCall, ToolSpec

BFCL_CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")


@dataclass
class EvalCase:
    id: str
    kind: str  # sample kind or BFCL category
    source: str  # "samples" or "bfcl"
    messages: list[Message]
    tools: list[ToolSpec]
    expected: list[ExpectedCall] | None  # None: the right answer makes no call
    reference_calls: list[ToolCall] = field(default_factory=list)
    scenario: Any = None
    multi_step: bool = False


def case_from_sample(sample: Sample) -> EvalCase:
    first_assistant = next((i for i, m in enumerate(sample.messages) if m.role == "assistant"), None)
    prompt = sample.messages if first_assistant is None else sample.messages[:first_assistant]
    first_calls = sample.messages[first_assistant].tool_calls if first_assistant is not None else []
    kind = sample.metadata.kind or ("single" if first_calls else "no_call")
    if kind == "error_recovery":
        # The first call of such a sample is the deliberate mistake; a model that gets it
        # right at once (the corrected call) is what the case rewards.
        call_turns = [m.tool_calls for m in sample.messages if m.role == "assistant" and m.tool_calls]
        first_calls = call_turns[-1] if call_turns else first_calls
    expected = [ExpectedCall.exact(call) for call in first_calls] if first_calls and kind != "no_call" else None
    return EvalCase(
        id=sample.id,
        kind=kind,
        source="samples",
        messages=list(prompt),
        tools=list(sample.tools),
        expected=expected,
        reference_calls=sample.tool_calls,
        scenario=sample.metadata.extra.get("scenario"),
        multi_step=kind == "multi_step",
    )


def load_sample_cases(path: Path, limit: int | None = None) -> list[EvalCase]:
    samples = read_samples(path).samples
    if not samples:
        raise EdgeFabricError(f"{path} holds no samples", "generate a dataset first (`edgefabric generate`)")
    return [case_from_sample(s) for s in samples[:limit]]


# ---------------------------------------------------------------- BFCL

_BFCL_TYPES = {
    "dict": "object",
    "float": "number",
    "tuple": "array",
    "list": "array",
    "int": "integer",
    "bool": "boolean",
}


def bfcl_schema(node: Any) -> Any:
    """BFCL's Python-flavoured schema (dict, float, tuple, any) as JSON Schema."""
    if isinstance(node, list):
        return [bfcl_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, str):
            if value == "any":
                continue
            out[key] = _BFCL_TYPES.get(value, value)
        elif key == "properties" and isinstance(value, dict):
            out[key] = {k: bfcl_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = bfcl_schema(value)
        else:
            out[key] = value
    if out.get("type") == "object" or "properties" in out:
        out.setdefault("type", "object")
        out.setdefault("properties", {})
        # BFCL lists 'required' names that are sometimes absent from properties; JSON Schema allows it.
    return out


def _read_json_lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        return []
    if text.startswith("["):
        return list(json.loads(text))  # a plain JSON array is accepted too
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise EdgeFabricError(
                    f"{path}:{number}: not JSON ({exc.msg})", "BFCL files hold one JSON object per line"
                ) from None
    return rows


def _category(case_id: str, path: Path) -> str:
    for category in sorted(BFCL_CATEGORIES, key=len, reverse=True):
        if case_id.startswith(category + "_") or path.stem.endswith("_" + category) or path.stem == category:
            return category
    return "simple"


def _messages(question: Any) -> list[Message]:
    if isinstance(question, str):
        return [Message(role="user", content=question)]
    turns = question
    if turns and isinstance(turns[0], list):  # [[turn messages]]: BFCL v3 nests one list per turn
        turns = turns[0]
    return [Message(role=m["role"], content=m["content"]) for m in turns]


def find_answer_file(questions: Path) -> Path | None:
    for candidate in (questions.parent / "possible_answer" / questions.name, questions.with_suffix(".answers.json")):
        if candidate.exists():
            return candidate
    return None


def load_bfcl_cases(questions: Path, answers: Path | None = None, limit: int | None = None) -> list[EvalCase]:
    """Cases from a BFCL question file and its possible-answer file (found beside it by default)."""
    if not questions.exists():
        raise EdgeFabricError(f"{questions} does not exist", "check the path to the BFCL question file")
    answers = answers or find_answer_file(questions)
    truth: dict[str, Any] = {}
    if answers is not None:
        truth = {row["id"]: row["ground_truth"] for row in _read_json_lines(answers)}
    cases = []
    for number, row in enumerate(_read_json_lines(questions)[:limit], start=1):
        try:
            case_id = str(row["id"])
            functions = row["function"] if isinstance(row["function"], list) else [row["function"]]
            tools = [
                ToolSpec(name=f["name"], description=f.get("description", ""), parameters=bfcl_schema(f["parameters"]))
                for f in functions
            ]
            category = _category(case_id, questions)
            expected = None
            if category != "irrelevance":
                if case_id not in truth:
                    raise EdgeFabricError(
                        f"{questions}: case {case_id} has no possible answer",
                        "put the possible_answer/ file beside the questions, or pass --answers",
                    )
                expected = [
                    ExpectedCall(name, dict(params)) for entry in truth[case_id] for name, params in entry.items()
                ]
            cases.append(EvalCase(case_id, category, "bfcl", _messages(row["question"]), tools, expected))
        except (KeyError, TypeError, ValidationError) as exc:
            raise EdgeFabricError(
                f"{questions}:{number}: not a BFCL question ({type(exc).__name__}: {exc})",
                "each line needs id, question and function (BFCL v3 layout)",
            ) from None
    return cases
