"""Reading BFCL's question/possible-answer layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgefabric.errors import EdgeFabricError
from edgefabric.pipeline.evaluate.cases import bfcl_schema, load_bfcl_cases

DATA = Path(__file__).parent / "data"


def test_categories_answers_and_types() -> None:
    cases = {c.id: c for c in load_bfcl_cases(DATA / "BFCL_v3_mini.json")}
    assert [c.kind for c in cases.values()] == ["simple", "multiple", "parallel", "parallel_multiple", "irrelevance"]
    assert cases["irrelevance_0"].expected is None
    simple = cases["simple_0"]
    assert simple.tools[0].parameters["type"] == "object"
    assert simple.expected is not None and simple.expected[0].params["unit"] == ["units", ""]
    assert len(cases["parallel_0"].expected or []) == 2


def test_schema_types_are_translated() -> None:
    schema = bfcl_schema(
        {"type": "dict", "properties": {"x": {"type": "float"}, "t": {"type": "tuple", "items": {"type": "any"}}}}
    )
    assert schema == {"type": "object", "properties": {"x": {"type": "number"}, "t": {"type": "array", "items": {}}}}


def test_missing_answers_and_bad_lines_are_clear_errors(tmp_path: Path) -> None:
    questions = tmp_path / "BFCL_v3_simple.json"
    questions.write_text((DATA / "BFCL_v3_mini.json").read_text().splitlines()[0] + "\n")
    with pytest.raises(EdgeFabricError, match="no possible answer"):
        load_bfcl_cases(questions)
    questions.write_text("{not json\n")
    with pytest.raises(EdgeFabricError, match="not JSON"):
        load_bfcl_cases(questions)
