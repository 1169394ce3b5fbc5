"""Realistic argument values per parameter, for call-first generation.

Where a value comes from, by parameter schema:

- ``enum``, ``const``, booleans: the schema itself;
- numbers: the schema's bounds (or bounds the description states: "1 to 1440"),
  drawn small, round or large;
- strings of a known shape: JSON Schema ``format`` (date, time, date-time, email), or
  the shape of the description's own examples ("e.g. "07:30"" is a clock time,
  "e.g. "2 * (3 + 4)"" an arithmetic expression): generated afresh, never the example;
- free text (a label, a message body, a unit): a short list the teacher writes once per
  parameter and topic, validated (type, schema, no placeholders, no repeats) and
  cached in ``values.json`` beside the dataset, plus the description's examples and
  the scenario's own strings whose key the description names ("a contact's name").

Every value is checked again when the call it belongs to runs in the sandbox.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from edgefabric.pipeline.generate.structured import StructuredReplyError
from edgefabric.pipeline.generate.teacher import Teacher
from edgefabric.pipeline.generate.usage import Usage
from edgefabric.schemas import ToolSpec, schema_errors

VALUES_FILE = "values.json"
TEACHER_LIST_SIZE = 8
_EXAMPLE = re.compile(r"""e\.g\.,?\s*((?:["'][^"']{1,80}["'](?:,?\s*(?:or\s+)?)?)+)""")
_QUOTED = re.compile(r"""["']([^"']{1,80})["']""")
_QUESTION = re.compile(r"(what|how|when|why|where|who|which|your|my)\b", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"[<>{}\[\]*_:=|\\]|\.\.\.|\bexample\b|\bvalue\b|\bstring\b|\bparam|\btool\b", re.IGNORECASE)


class ValuesReply(BaseModel):
    values: list[str] = Field(min_length=1, max_length=40)


VALUES_SCHEMA: dict[str, Any] = {
    "type": "object",
    # Short bounds keep a small teacher from rambling past max_tokens (llama.cpp handles small repeats).
    "properties": {
        "values": {
            "type": "array",
            "items": {"type": "string", "minLength": 2, "maxLength": 40},
            "minItems": 3,
            "maxItems": TEACHER_LIST_SIZE,
        }
    },
    "required": ["values"],
}


def concrete(schema: Any) -> dict[str, Any]:
    """The non-null branch of a nullable schema (`anyOf`/`oneOf` with {"type": "null"}), with the
    outer description and default kept; any other schema as it is."""
    if not isinstance(schema, dict):
        return {}
    for key in ("anyOf", "oneOf"):
        branches = [b for b in schema.get(key) or [] if isinstance(b, dict) and b.get("type") != "null"]
        if branches:
            outer = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
            return {**branches[0], **outer}
    return schema


def description_examples(description: str) -> list[str]:
    """Quoted examples after "e.g." in a description: 'e.g. "camera", "maps"' -> ["camera", "maps"]."""
    found: list[str] = []
    for match in _EXAMPLE.finditer(description):
        found += [q.strip() for q in _QUOTED.findall(match.group(1)) if q.strip()]
    return found


def value_shape(schema: dict[str, Any], description: str) -> str | None:
    """The generated shape of a string parameter, or None for free text.

    Shapes: "date", "time", "date-time", "email", "expression" (arithmetic).
    """
    fmt = schema.get("format")
    if fmt in ("date", "time", "date-time", "email"):
        return str(fmt)
    for example in description_examples(description):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", example):
            return "date"
        if re.fullmatch(r"\d{1,2}:\d{2}", example):
            return "time"
        if re.fullmatch(r"[^@\s]+@[^@\s]+\.\w+", example):
            return "email"
        if re.search(r"\d\s*[-+*/^]\s*[\d(]", example):
            return "expression"
    lowered = description.lower()
    if re.search(r"\b(arithmetic|math(ematical)?) expression|\bexpression\b.*\bnumbers\b", lowered):
        return "expression"
    if "yyyy-mm-dd" in lowered:
        return "date"
    if "hh:mm" in lowered:
        return "time"
    return None


def _bounds(schema: dict[str, Any], description: str) -> tuple[float, float]:
    low, high = schema.get("minimum"), schema.get("maximum")
    stated = re.search(r"(-?\d+(?:\.\d+)?)\s*(?:to|-|and)\s*(-?\d+(?:\.\d+)?)", description)
    if stated and (low is None or high is None):
        low = float(stated.group(1)) if low is None else low
        high = float(stated.group(2)) if high is None else high
    if "exclusiveMinimum" in schema:
        low = float(schema["exclusiveMinimum"]) + 1
    if "exclusiveMaximum" in schema:
        high = float(schema["exclusiveMaximum"]) - 1
    return float(1 if low is None else low), float(500 if high is None else high)


def draw_number(schema: dict[str, Any], description: str, rng: random.Random) -> int | float:
    """A number within the schema's (or the description's) bounds: small, round or anywhere."""
    low, high = _bounds(schema, description)
    high = min(high, low + 10_000)
    style = rng.random()
    if style < 0.4:
        value: float = rng.randint(int(low), int(min(high, max(low, 12))))
    elif style < 0.75:
        step = rng.choice([5, 10, 15, 25, 50, 100])
        value = step * rng.randint(max(1, int(low // step)), max(1, int(high // step)))
    else:
        value = rng.randint(int(low), int(high))
    value = min(max(value, low), high)
    if schema.get("type") == "number" and rng.random() < 0.3:
        return round(value + rng.choice([0.25, 0.5, 0.75, 0.1, 0.2]), 2)
    return int(value)


def _expression(rng: random.Random) -> str:
    def operand() -> str:
        return str(rng.choice([rng.randint(2, 12), rng.randint(13, 99), rng.randint(100, 999), rng.randint(2, 30) * 5]))

    shape = rng.random()
    ops = ["+", "-", "*", "/"]
    if shape < 0.45:
        return f"{operand()} {rng.choice(ops)} {operand()}"
    if shape < 0.7:
        return f"({operand()} {rng.choice(ops[:2])} {operand()}) {rng.choice(ops[2:])} {operand()}"
    if shape < 0.85:
        return f"{operand()} {rng.choice(ops)} {operand()} {rng.choice(ops)} {operand()}"
    if shape < 0.9:
        return f"sqrt({rng.choice([4, 9, 16, 25, 36, 49, 64, 81, 100, 121, 144, 169, 196, 225, 400, 625])})"
    if shape < 0.95:  # a percentage of an amount, as users ask it ("15% of 240")
        return f"{rng.choice([5, 10, 12, 15, 18, 20, 25, 30, 40, 75]) / 100} * {operand()}"
    return f"{rng.randint(2, 9)} ** {rng.randint(2, 6)}"


def draw_shaped(shape: str, rng: random.Random, today: date) -> str:
    """A fresh value of a known shape (see `value_shape`)."""
    if shape == "date":
        return (today + timedelta(days=rng.randint(1, 300))).isoformat()
    if shape == "time":
        return f"{rng.choice([*list(range(6, 23)), 0, 1, 5]):02d}:{rng.choice([0, 0, 15, 30, 30, 45, rng.randint(0, 59)]):02d}"
    if shape == "date-time":
        return f"{draw_shaped('date', rng, today)}T{draw_shaped('time', rng, today)}:00"
    if shape == "email":
        name = rng.choice(["sam", "lee", "maria.g", "j.doe", "kim", "noah", "ava", "team"])
        return f"{name}@{rng.choice(['example.com', 'mail.example.org', 'work.example.net'])}"
    return _expression(rng)


def keyed_scalars(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """(nearest key, value) for every string or number in a JSON value, depth first; list items
    take their list's key. Booleans and nulls are skipped."""
    if isinstance(value, dict):
        for child_key, child in value.items():
            yield from keyed_scalars(child, child_key)
    elif isinstance(value, list):
        for child in value:
            yield from keyed_scalars(child, key)
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        yield key, value


def scenario_strings(scenario: dict[str, Any] | None, description: str) -> list[str]:
    """Strings in the scenario's state whose key the description names ("a contact's name" -> every "name")."""
    if not scenario:
        return []
    words = set(re.findall(r"[a-z]+", description.lower()))
    found = [
        value
        for key, value in keyed_scalars(scenario.get("state", scenario))
        if isinstance(value, str) and value.strip() and key.lower() in words and len(value) <= 80
    ]
    return list(dict.fromkeys(found))


def clean_values(values: list[str], schema: dict[str, Any], banned: tuple[str, ...] = ()) -> list[str]:
    """Keep short, schema-valid, distinct strings that read like something a person types.

    Dropped: placeholders and markup ("<name>", "...", "*", "key: value"), values of more
    than 8 words or 80 characters, values with no letter, and values that repeat a
    `banned` word (the tool's or parameter's own name: a small teacher echoes them).
    """
    kept: list[str] = []
    seen: set[str] = set()
    for raw in values:
        value = " ".join(str(raw).split()).strip(" .")
        key = value.casefold()
        if not value or len(value) > 80 or len(value.split()) > 8 or key in seen or _PLACEHOLDER.search(value):
            continue
        if not re.search(r"[A-Za-z]", value) or any(word.casefold() in key for word in banned if len(word) > 3):
            continue
        if value.endswith("?") or _QUESTION.match(value) or value.startswith(("/", "#", "@", "http")):
            continue
        if key in {v.casefold() for v in FEW_SHOT_VALUES} or (len(value.split()) > 6 and "." in value):
            continue
        if next(schema_errors({k: v for k, v in schema.items() if k != "description"}, value), None):
            continue
        seen.add(key)
        kept.append(value)
    return kept


FEW_SHOT = (
    (
        'city of a weather app (The city to look up, e.g. "Paris")',
        ["Tokyo", "Lagos", "Austin", "Lisbon", "Cape Town", "Oslo"],
    ),
    (
        'note of a shopping list (What to buy, e.g. "milk")',
        ["eggs", "two loaves of bread", "oat milk", "bananas", "dish soap"],
    ),
)
FEW_SHOT_VALUES = tuple(value for _, values in FEW_SHOT for value in values)  # a teacher that copies them is ignored


def values_prompt(tool: ToolSpec, param: str, schema: dict[str, Any], topic: list[str]) -> list[dict[str, Any]]:
    from edgefabric.pipeline.generate.prompts import chat

    shots = "".join(
        f"Example. Setting: {what}\nValues: {json.dumps({'values': values})}\n" for what, values in FEW_SHOT
    )
    return chat(
        "List short, realistic values a person would type for a setting of an app.\n"
        f"{shots}\n"
        f"Topic: {' > '.join(topic)}\n"
        f"Setting: {param.replace('_', ' ')} of {tool.description.splitlines()[0].rstrip('.') if tool.description else tool.name} "
        f"({schema.get('description', '')})\n"
        f"Give {TEACHER_LIST_SIZE} different values that fit the topic. "
        'Reply as JSON: {"values": ["...", "..."]}'
    )


@dataclass
class ValuePools:
    """Teacher-written lists, cached in `path` (written temp-then-rename): value lists per
    "tool.param|topic", and request forms per "template:kind|task shape" (callfirst.py)."""

    path: Path | None = None
    lists: dict[str, list[str]] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> ValuePools:
        pools = cls(path)
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                pools.lists = {str(k): [str(v) for v in vs] for k, vs in data.items() if isinstance(vs, list)}
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
                pools.lists = {}  # a torn cache is rebuilt: it only saves teacher calls
        return pools

    def _save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.lists, indent=1, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.path)

    def add(self, key: str, value: str) -> None:
        """Append `value` to the cached list `key` (once), and save."""
        values = self.lists.setdefault(key, [])
        if value not in values:
            values.append(value)
            self._save()

    async def teacher_values(
        self, teacher: Teacher, tool: ToolSpec, param: str, schema: dict[str, Any], topic: list[str], usage: Usage
    ) -> list[str]:
        """The teacher's list for this parameter and topic (asked once, then cached; [] if unusable)."""
        key = f"{tool.name}.{param}|{' > '.join(topic)}"
        if key in self.lists:
            return self.lists[key]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key in self.lists:
                return self.lists[key]
            try:
                reply = await teacher.structured(
                    values_prompt(tool, param, schema, topic), VALUES_SCHEMA, ValuesReply, name="values", usage=usage
                )
                banned = (tool.name, param, *tool.name.split("_"), *param.split("_"))
                values = clean_values(reply.values, schema, banned)
            except StructuredReplyError:
                values = []
            examples = {e.casefold() for e in description_examples(str(schema.get("description", "")))}
            self.lists[key] = [v for v in values if v.casefold() not in examples]
            self._save()
            return self.lists[key]
