"""bench/heldout/math.jsonl, the hand-written held-out requests, is what bench/heldout.py's CASES say, and
each case loads as an evaluation case whose expected calls really run."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

from edgefabric.pipeline.evaluate.cases import load_sample_cases

# bench/ is a folder of scripts beside the package, not part of it: loaded from its file.
_SPEC = importlib.util.spec_from_file_location("heldout", Path(__file__).parents[2] / "bench" / "heldout.py")
assert _SPEC is not None and _SPEC.loader is not None
heldout = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(heldout)


def test_the_file_matches_the_written_cases_and_loads_for_evaluation() -> None:
    cases = load_sample_cases(heldout.CASES_FILE)
    assert [c.messages[0].content for c in cases] == [text for text, _ in heldout.CASES]
    assert Counter(c.kind for c in cases) == {"single": 20, "parallel": 4, "no_call": 8}
    for case, (_, calls) in zip(cases, heldout.CASES, strict=True):
        expected = [(e.name, {k: v[0] for k, v in e.params.items()}) for e in case.expected or []]
        assert expected == [(name, args) for name, args in calls] or (not calls and case.expected is None)
    results = [json.loads(line) for line in heldout.CASES_FILE.read_text().splitlines()]
    tool_messages = [m for r in results for m in r["messages"] if m["role"] == "tool"]
    assert len(tool_messages) == 28 and all('"result"' in m["content"] for m in tool_messages)
