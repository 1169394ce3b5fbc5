"""A record torn inside a multi-byte UTF-8 character (a kill mid-write) never makes a reader raise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgefabric.dataset import append_samples, iter_sample_ids, read_samples
from edgefabric.errors import EdgeFabricError
from edgefabric.pipeline.generate.rejects import Reject, append_reject, read_rejects
from edgefabric.schemas import Message, Sample

pytestmark = pytest.mark.reliability


def make(i: int) -> Sample:
    return Sample(
        id=f"s{i}", messages=[Message(role="user", content=f"{i} °C?"), Message(role="assistant", content="°")]
    )


def _torn_inside_degree(record: str) -> bytes:
    data = record.encode("utf-8")
    cut = data.index("°".encode()) + 1  # between the two bytes of "°"
    return data[:cut]


def test_resume_reads_a_dataset_torn_inside_a_character(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    append_samples(path, [make(0)])
    with path.open("ab") as handle:
        handle.write(_torn_inside_degree(json.dumps(make(1).to_record(), ensure_ascii=False)))
    report = read_samples(path)
    assert report.torn_tail and [s.id for s in report.samples] == ["s0"]
    assert list(iter_sample_ids(path)) == ["s0"]
    append_samples(path, [make(2)])  # the resumed run heals the tail and goes on
    assert [s.id for s in read_samples(path).samples] == ["s0", "s2"]


def test_undecodable_lines_in_the_middle_are_named_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    good = json.dumps(make(0).to_record(), ensure_ascii=False).encode()
    path.write_bytes(good + b"\n" + b"\xff\xfe\x00binary\n" + good.replace(b'"s0"', b'"s1"') + b"\n")
    report = read_samples(path, strict=False)
    assert [s.id for s in report.samples] == ["s0", "s1"]
    assert report.bad_lines == [f"{path}:2: not UTF-8 text (a binary file, or a torn record)"]
    with pytest.raises(EdgeFabricError, match="not UTF-8"):
        read_samples(path)


def test_data_check_reports_a_torn_record_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    append_samples(path, [make(0)])
    with path.open("ab") as handle:
        handle.write(_torn_inside_degree(json.dumps(make(1).to_record(), ensure_ascii=False)))
    done = subprocess.run(
        [sys.executable, "-m", "edgefabric.cli", "data", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr and "UnicodeDecodeError" not in done.stderr
    assert done.returncode == 0, done.stderr


def _reject(rid: str, reason: str) -> Reject:
    return Reject(id=rid, index=0, kind="single", topic_path=["weather"], stage="format", reason=reason)


def test_rejects_torn_inside_a_character_are_skipped_and_healed(tmp_path: Path) -> None:
    path = tmp_path / "rejects.jsonl"
    append_reject(path, _reject("a", "bad °"))
    with path.open("ab") as handle:
        handle.write(_torn_inside_degree(_reject("b", "°").model_dump_json()))
    assert [r.id for r in read_rejects(path)] == ["a"]
    append_reject(path, _reject("c", "ok"))
    assert [r.id for r in read_rejects(path)] == ["a", "c"]
