"""Append-only dataset files: durable appends, torn tails from kills, bad lines named by number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgefabric.dataset import append_samples, count_records, iter_sample_ids, read_samples, tail_records
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


def test_count_and_tail_read_what_read_samples_reads_without_parsing_every_line(tmp_path: Path) -> None:
    """The TUI's cheap figures (how many samples, the last few) agree with the full reader, torn tail included."""
    path = tmp_path / "samples.jsonl"
    assert count_records(path) == 0 and tail_records(path, 3) == []
    append_samples(path, [make(i) for i in range(5)])
    with path.open("a") as handle:
        handle.write('{"id": "s5", "messa')  # a kill mid-line
    assert count_records(path) == len(read_samples(path).samples) == 5
    assert [r["id"] for r in tail_records(path, 2)] == ["s3", "s4"]
    assert [r["id"] for r in tail_records(path, 9)] == [f"s{i}" for i in range(5)]
    # Only the last chunk is read: its cut first line is skipped, never returned half.
    assert [r["id"] for r in tail_records(path, 9, chunk=len(path.read_bytes()) - 10)] == [f"s{i}" for i in range(1, 5)]
