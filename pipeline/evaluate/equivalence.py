"""Execution equivalence: two calls are equivalent when the sandbox says they do the same thing.

Exact matching (matching.py, after BFCL's AST checker) marks `calculate("29*347")` wrong against
a reference `calculate("347 * 29")`, though both compute 10063. Here each call runs alone in a
fresh sandbox session seeded with the case's scenario, and:

- a reference call that changes the session's state (kv `set`, scene `move_object`, a file
  write) is matched by a call that succeeds and leaves the same state after it;
- a call that changes nothing (a pure tool such as `calculate`, or a read such as kv `get`) is
  matched by a call that succeeds, changes nothing either, and returns the same result.

Results are compared as JSON, numbers with a relative tolerance of 1e-9, after dropping the
top-level keys in which a tool echoes its own argument of the same name (`calculate` returns
`{"expression": ..., "result": ...}`; the echoed expression is not the result). Two calls to
different tools are never equivalent. The same rules decide multi-step success: the expected
calls were made and succeeded, pure ones returning the reference's results, and the case ends
in the reference's state.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from edgefabric.pipeline.evaluate.matching import ExpectedCall, call_problems
from edgefabric.schemas import ToolCall, ToolSpec

_REL_TOL = 1e-9
_MAX_PERMUTED = 6


class Sandbox(Protocol):
    """What the evaluator needs of a `ToolBox`: fresh sessions seeded with a scenario."""

    def session(self, scenario: Any = None) -> Any: ...


@dataclass(frozen=True)
class Run:
    """One call run alone in a fresh session: its outcome and the state before and after it."""

    call: ToolCall
    ok: bool
    content: str
    changed_state: bool
    state_after: Any


def run_alone(sandbox: Sandbox, scenario: Any, call: ToolCall) -> Run:
    """Run `call` in a fresh session seeded with `scenario` (a dict, a scenario name or None)."""
    with sandbox.session(scenario=scenario) as session:
        before = session.state()
        outcome = session.call(call.name, call.arguments)
        after = session.state()
    return Run(call, bool(outcome.ok), str(outcome.content), after != before, after)


def _parse(content: str) -> Any:
    try:
        return json.loads(content)
    except (json.JSONDecodeError, TypeError):
        return content


def comparable_result(content: str, arguments: dict[str, Any]) -> Any:
    """A call's result as JSON, without the top-level keys echoing the call's argument of the same name."""
    value = _parse(content)
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if not (k in arguments and same_value(v, arguments[k]))}
    return value


def same_value(a: Any, b: Any) -> bool:
    """JSON equality with numbers compared to a relative tolerance of 1e-9 (bools are not numbers)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return bool(a == b)


def same_effect(run: Run, reference: Run) -> bool:
    """Whether `run` does what `reference` does (the module docstring's rules); both must succeed."""
    if run.call.name != reference.call.name or not (run.ok and reference.ok):
        return False
    if reference.changed_state:
        return same_value(run.state_after, reference.state_after)
    if run.changed_state:
        return False
    return same_value(
        comparable_result(run.content, run.call.arguments),
        comparable_result(reference.content, reference.call.arguments),
    )


def calls_equivalent(sandbox: Sandbox, scenario: Any, call: ToolCall, reference: ToolCall) -> bool:
    """Whether `call` and `reference` are execution-equivalent, each run alone from `scenario`."""
    if call.name != reference.name:
        return False
    return same_effect(run_alone(sandbox, scenario, call), run_alone(sandbox, scenario, reference))


def match_equivalent(
    calls: Sequence[ToolCall],
    expected: Sequence[ExpectedCall],
    specs: Sequence[ToolSpec],
    sandbox: Sandbox,
    scenario: Any = None,
) -> bool:
    """Whether the calls pair up with the expected ones (any order), each pair exact or equivalent.

    An expected call's reference is its first acceptable value per parameter (`ExpectedCall.reference`).
    Beyond 6 parallel calls the pairing is greedy.
    """
    if not calls or sorted(c.name for c in calls) != sorted(e.name for e in expected):
        return False
    by_name = {spec.name: spec for spec in specs}
    cache: dict[tuple[int, int], bool] = {}

    def pair_ok(i: int, j: int) -> bool:
        if (i, j) not in cache:
            call, want = calls[i], expected[j]
            cache[(i, j)] = call.name == want.name and (
                not call_problems(call, want, by_name.get(call.name))
                or calls_equivalent(sandbox, scenario, call, want.reference())
            )
        return cache[(i, j)]

    if len(calls) <= _MAX_PERMUTED:
        return any(
            all(pair_ok(i, j) for i, j in enumerate(order)) for order in itertools.permutations(range(len(expected)))
        )
    free = list(range(len(expected)))
    for i in range(len(calls)):
        hit = next((j for j in free if pair_ok(i, j)), None)
        if hit is None:
            return False
        free.remove(hit)
    return True


def task_problems(
    made: Sequence[tuple[ToolCall, bool, str]], final_state: Any, reference: Sequence[Run], reference_state: Any
) -> list[str]:
    """Why a multi-step case failed; empty when it succeeded.

    `made`: the model's executed calls as (call, ok, result content); `reference`: the reference
    calls replayed in order in one session (`Run.changed_state` per call). Success needs a
    successful call, for each state-changing reference call a successful call of the same tool,
    for each other reference call a successful call of the same tool with the same result (each
    model call answers one reference call), and the same final state. No call: never a success.
    """
    succeeded = [(call, content) for call, ok, content in made if ok]
    wanted = [r for r in reference if r.ok]
    if not succeeded:
        names = ", ".join(r.call.name for r in wanted) or "a call"
        return [f"no call succeeded; the task needs {names}"]
    problems = []
    free = list(succeeded)
    for ref in wanted:
        if ref.changed_state:
            if not any(call.name == ref.call.name for call, _ in succeeded):
                problems.append(f"{ref.call.name} was never called successfully")
            continue
        want = comparable_result(ref.content, ref.call.arguments)
        hit = next(
            (
                pair
                for pair in free
                if pair[0].name == ref.call.name and same_value(comparable_result(pair[1], pair[0].arguments), want)
            ),
            None,
        )
        if hit is None:
            problems.append(f"no successful {ref.call.name} call returned the reference result {ref.content[:120]}")
        else:
            free.remove(hit)
    if not same_value(final_state, reference_state):
        problems.append("the final sandbox state differs from the reference state")
    return problems
