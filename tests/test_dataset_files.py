"""Append-only dataset files: durable appends, torn tails from kills, bad lines named by number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgefabric.dataset import append_samples, iter_sample_ids, read_samples
from edgefabric.errors import EdgeFabricError
from edgefabric.schemas import Message, Sample


def make(i: int) -> Sample:
    return Sample(id=f"s{i}", messages=[Message(role="user", content=f"q{i}"), Message(role="assistant", content="a")])


def test_appends_accumulate_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "data" / "train.jsonl"
    append_samples(path, [make(0), make(1)])
    append_samples(path, [make(2)])
    assert [s.id for s in read_samples(path).samples] == ["s0", "s1", "s2"]
    assert list(iter_sample_ids(path)) == ["s0", "s1", "s2"]


def test_a_torn_last_line_is_skipped_and_healed_by_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    append_samples(path, [make(0)])
    with path.open("a") as handle:
        handle.write(json.dumps(make(1).to_record())[:40])  # a kill mid-write
    report = read_samples(path)
    assert report.torn_tail and [s.id for s in report.samples] == ["s0"]
    append_samples(path, [make(2)])
    assert [s.id for s in read_samples(path).samples] == ["s0", "s2"]


def test_bad_lines_in_the_middle_are_reported_by_number(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    good = json.dumps(make(0).to_record())
    path.write_text(good + "\n{not json\n" + json.dumps({"messages": []}) + "\n" + good + "\n")
    with pytest.raises(EdgeFabricError) as caught:
        read_samples(path)
    text = caught.value.message
    assert "train.jsonl:2: not JSON" in text
    assert "train.jsonl:3: messages" in text
    assert "fix:" in text
    assert len(read_samples(path, strict=False).samples) == 2


def test_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(EdgeFabricError, match="edgefabric generate"):
        read_samples(tmp_path / "nope.jsonl")
