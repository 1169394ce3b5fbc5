"""Value-level (AST-style) comparison of model calls with expected calls, after BFCL's checker.

An expected call names the function and, per parameter, a list of acceptable values.
A call matches when: the name is right; every required parameter is present; no key
is unknown to the schema; each value has the schema's type (an int is accepted where
a number is expected, never the reverse for integers); and each value equals one of
the acceptable ones, strings compared after normalisation. An acceptable value of ""
(BFCL's convention) means the parameter may be left out. Parallel calls match as a
multiset: order does not matter.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from edgefabric.schemas import ToolCall, ToolSpec

OMITTED = ""  # in an acceptable-values list: the parameter may be absent
_STRIP = re.compile(r"[ ,./\-_*^]")  # BFCL's standardize_string: spaces and punctuation don't count
_MAX_PERMUTED = 7  # beyond this many parallel calls, match greedily instead of trying every order


@dataclass(frozen=True)
class ExpectedCall:
    name: str
    params: dict[str, list[Any]] = field(default_factory=dict)

    @classmethod
    def exact(cls, call: ToolCall) -> ExpectedCall:
        """A reference call where each value is the only acceptable one."""
        return cls(call.name, {key: [value] for key, value in call.arguments.items()})

    def reference(self) -> ToolCall:
        """One concrete call this expectation accepts: each parameter's first acceptable value other
        than "" (BFCL's "may be left out"); a parameter whose only option is "" is left out."""
        arguments = {}
        for key, options in self.params.items():
            given = [o for o in options if not (isinstance(o, str) and o == OMITTED)]
            if given:
                arguments[key] = given[0]
        return ToolCall(name=self.name, arguments=arguments)


def normalise(text: str) -> str:
    """BFCL's standardize_string: drop spaces and ,./-_*^, lower-case, and read ' as " (so `it's` == `it"s`)."""
    return _STRIP.sub("", text).lower().replace("'", '"')


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def type_ok(value: Any, schema: Any) -> bool:
    """JSON Schema type check with int -> float allowed (and float -> int not; a bool is never a number),
    at every depth: array items and object properties too (BFCL checks one level of items, without the
    int -> float allowance, and nothing inside dicts; see the README's list of differences)."""
    if not isinstance(schema, dict):
        return True
    kind = schema.get("type")
    if isinstance(kind, list):
        return any(type_ok(value, {**schema, "type": k}) for k in kind)
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": _is_number,
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
        "null": lambda v: v is None,
    }
    check = checks.get(kind) if isinstance(kind, str) else None
    if check is not None and not check(value):
        return False
    if kind == "array" and isinstance(schema.get("items"), dict):
        return all(type_ok(item, schema["items"]) for item in value)
    if kind == "object" and isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        properties = schema["properties"]
        return all(type_ok(item, properties.get(key)) for key, item in value.items())
    return True


def values_equal(value: Any, accepted: Any) -> bool:
    if isinstance(value, str) and isinstance(accepted, str):
        return normalise(value) == normalise(accepted)
    if isinstance(value, bool) or isinstance(accepted, bool):
        return isinstance(value, bool) and isinstance(accepted, bool) and value == accepted
    if _is_number(value) and _is_number(accepted):
        return float(value) == float(accepted)
    if isinstance(value, list) and isinstance(accepted, list):
        return len(value) == len(accepted) and all(values_equal(v, a) for v, a in zip(value, accepted, strict=True))
    if isinstance(value, dict) and isinstance(accepted, dict):
        if set(value) - set(accepted):
            return False
        for key, item in accepted.items():
            # BFCL nests acceptable-value lists inside dict answers too.
            options = item if isinstance(item, list) and not isinstance(value.get(key), list) else [item]
            if key not in value:
                if OMITTED not in options:
                    return False
                continue
            if not any(values_equal(value[key], option) for option in options):
                return False
        return True
    return bool(value == accepted)


def call_problems(call: ToolCall, expected: ExpectedCall, spec: ToolSpec | None) -> list[str]:
    """Every way `call` differs from `expected`; empty when it matches."""
    if call.name != expected.name:
        return [f"called {call.name}, expected {expected.name}"]
    problems = []
    properties: dict[str, Any] = (spec.parameters.get("properties") or {}) if spec else {}
    required = set(spec.parameters.get("required") or []) if spec else set()
    known = set(properties) if spec else set(expected.params)
    for key in call.arguments:
        if key not in known:
            problems.append(f"{call.name}: unknown parameter {key!r}")
    for key in sorted(required | {k for k, v in expected.params.items() if OMITTED not in v}):
        if key not in call.arguments:
            problems.append(f"{call.name}: missing parameter {key!r}")
    for key, value in call.arguments.items():
        if key not in known:
            continue
        schema = properties.get(key)
        if not type_ok(value, schema):
            problems.append(f"{call.name}.{key}: {value!r} has the wrong type (schema: {(schema or {}).get('type')})")
            continue
        if key in expected.params:
            options = [o for o in expected.params[key] if not (isinstance(o, str) and o == OMITTED)]
            if not any(values_equal(value, option) for option in options):
                problems.append(f"{call.name}.{key}: got {value!r}, expected one of {expected.params[key]!r}")
        elif not (isinstance(schema, dict) and "default" in schema and values_equal(value, schema["default"])):
            # An optional parameter the reference leaves out: only its default is a correct value.
            problems.append(f"{call.name}.{key}: got {value!r}, the reference leaves it out")
    return problems


@dataclass
class CallsMatch:
    selection_ok: bool  # right function names (as a multiset)
    params_ok: bool  # and every value right, in some pairing of calls
    problems: list[str]


def match_calls(calls: Sequence[ToolCall], expected: Sequence[ExpectedCall], specs: Sequence[ToolSpec]) -> CallsMatch:
    """Compare a step's calls with the expected ones, order-free."""
    by_name = {spec.name: spec for spec in specs}
    selection_ok = Counter(c.name for c in calls) == Counter(e.name for e in expected)
    if not selection_ok:
        got = ", ".join(c.name for c in calls) or "no call"
        want = ", ".join(e.name for e in expected) or "no call"
        return CallsMatch(False, False, [f"called {got}; expected {want}"])

    def cost(pairing: Sequence[int]) -> list[str]:
        out: list[str] = []
        for call, index in zip(calls, pairing, strict=True):
            out += call_problems(call, expected[index], by_name.get(call.name))
        return out

    if len(calls) <= _MAX_PERMUTED:
        best: list[str] | None = None
        for pairing in itertools.permutations(range(len(expected))):
            problems = cost(pairing)
            if not problems:
                return CallsMatch(True, True, [])
            if best is None or len(problems) < len(best):
                best = problems
        return CallsMatch(True, False, best or [])
    # Greedy: each call takes the first unused expected call it matches.
    free = list(range(len(expected)))
    problems = []
    for call in calls:
        hit = next((i for i in free if not call_problems(call, expected[i], by_name.get(call.name))), None)
        if hit is None:
            problems.append(f"{call.name}: no expected call matches {call.arguments!r}")
        else:
            free.remove(hit)
    return CallsMatch(True, not problems, problems)
