"""Drawing calls first: the tool and its arguments come before any request is written.

`CallDrawer.arguments` fills a tool's parameters from the schema and the value pools
(see values.py): every required parameter, and each optional one with probability
`OPTIONAL_RATE`. The conversation code runs each drawn call in the sandbox and draws
again when it fails, so what is kept is a call that really works.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from edgefabric.pipeline.generate.teacher import Teacher
from edgefabric.pipeline.generate.usage import Usage
from edgefabric.pipeline.generate.values import (
    ValuePools,
    concrete,
    description_examples,
    draw_number,
    draw_shaped,
    scenario_strings,
    value_shape,
)
from edgefabric.schemas import ToolCall, ToolSpec

OPTIONAL_RATE = 0.4  # each optional parameter is given a value this often
DISTINCT_TRIES = 5  # a string drawn twice in one call is drawn again this many times


class CannotDraw(Exception):
    """No realistic value can be drawn for a required parameter (the reason says which)."""


@dataclass
class CallDrawer:
    """Draws arguments for one sample: `rng` is seeded from the sample's id, so a redo draws the same."""

    teacher: Teacher
    pools: ValuePools
    topic: list[str]
    scenario: dict[str, Any] | None
    rng: random.Random
    usage: Usage
    today: date = field(default_factory=date.today)

    async def value(self, tool: ToolSpec, param: str, schema: dict[str, Any]) -> Any:
        """One value for `param` of `tool`; raises CannotDraw when no source has one."""
        schema = concrete(schema)
        description = f"{schema.get('description', '')}"
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return self.rng.choice(schema["enum"])
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        if kind == "boolean":
            return self.rng.choice([True, False])
        if kind in ("integer", "number"):
            return draw_number(schema, description, self.rng)
        if kind == "array":
            return await self._array(tool, param, schema)
        if kind == "object":
            properties = schema.get("properties") or {}
            return {
                key: await self.value(tool, f"{param}.{key}", sub)
                for key, sub in properties.items()
                if key in (schema.get("required") or [])
            }
        properties = tool.parameters.get("properties") or {}
        # A tool of one parameter describes that parameter in its own description too.
        shape = value_shape(schema, description if len(properties) != 1 else f"{description} {tool.description}")
        if shape is not None:
            return draw_shaped(shape, self.rng, self.today)
        return await self._free_text(tool, param, schema, description)

    async def _array(self, tool: ToolSpec, param: str, schema: dict[str, Any]) -> list[Any]:
        fixed = schema.get("prefixItems")
        if isinstance(fixed, list) and fixed:
            return [await self.value(tool, param, item if isinstance(item, dict) else {}) for item in fixed]
        raw_items = schema.get("items")
        items: dict[str, Any] = raw_items if isinstance(raw_items, dict) else {"type": "string"}
        if "enum" in items:
            count = self.rng.randint(1, min(3, len(items["enum"])))
            chosen = self.rng.sample(list(items["enum"]), count)
            return sorted(chosen, key=list(items["enum"]).index)
        low = int(schema.get("minItems", 1))
        high = max(low, min(int(schema.get("maxItems", 3)), 3))
        values: list[Any] = []
        for _ in range(self.rng.randint(max(low, 1), high)):
            item = await self.value(tool, param, {**items, "description": schema.get("description", "")})
            if item not in values:
                values.append(item)
        return values

    async def _free_text(self, tool: ToolSpec, param: str, schema: dict[str, Any], description: str) -> str:
        taught = await self.pools.teacher_values(self.teacher, tool, param, schema, self.topic, self.usage)
        examples = description_examples(description)
        sources = [
            (taught, 0.6),
            # a description that lists many examples ("e.g. km, mi, kg, lb, ...") names the real options
            (examples, 0.6 if len(examples) >= 4 else 0.15),
            (scenario_strings(self.scenario, description), 0.35),
        ]
        available = [(values, weight) for values, weight in sources if values]
        if not available:
            raise CannotDraw(
                f"no realistic value for {tool.name}.{param}: the teacher listed none and the schema gives none"
            )
        values = self.rng.choices([v for v, _ in available], weights=[w for _, w in available])[0]
        return str(self.rng.choice(values))

    async def arguments(self, tool: ToolSpec) -> dict[str, Any]:
        """Arguments for one call of `tool` (required ones always, optional ones sometimes)."""
        properties: dict[str, Any] = tool.parameters.get("properties") or {}
        required = set(tool.parameters.get("required") or [])
        arguments: dict[str, Any] = {}
        for param, schema in properties.items():
            if param not in required and self.rng.random() >= OPTIONAL_RATE:
                continue
            try:
                value = await self.value(tool, param, schema if isinstance(schema, dict) else {})
                for _ in range(DISTINCT_TRIES):  # "convert km to km" is no request anyone makes
                    if not isinstance(value, str) or value not in arguments.values():
                        break
                    value = await self.value(tool, param, schema if isinstance(schema, dict) else {})
                arguments[param] = value
            except CannotDraw:
                if param in required:
                    raise
        return arguments

    async def call(self, tool: ToolSpec, call_id: str) -> ToolCall:
        return ToolCall(name=tool.name, arguments=await self.arguments(tool), id=call_id)


def mistaken(call: ToolCall, tool: ToolSpec, rng: random.Random) -> ToolCall:
    """A realistic mistake on `call`: a required argument left out, a wrong type, or a misspelled name."""
    required = [p for p in tool.parameters.get("required") or [] if p in call.arguments]
    arguments = dict(call.arguments)
    options = ["missing", "type", "name"] if required else ["name"]
    choice = rng.choice(options)
    if choice == "missing":
        arguments.pop(rng.choice(required))
    elif choice == "type":
        param = rng.choice(required)
        value = arguments[param]
        arguments[param] = str(value) if not isinstance(value, str) else [value]
    else:
        param = rng.choice(list(arguments) or [next(iter(tool.parameters.get("properties") or {"value": {}}))])
        value = arguments.pop(param, "")
        arguments[f"{param}_value" if "_" not in param else param.replace("_", "")] = value
    return ToolCall(name=call.name, arguments=arguments, id=call.id)


def pick_tool(tools: list[ToolSpec], index: int, seed: int, offset: int = 0) -> ToolSpec:
    """Tools in a seeded order, cycling with `index` (the k-th sample of a kind, PlannedSample.kind_index):
    every tool is drawn in proportion within each kind; `offset` moves on to the next tool."""
    order = list(tools)
    random.Random(f"tools:{seed}").shuffle(order)
    return order[(index + offset) % len(order)]
