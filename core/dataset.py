"""Append-only JSONL files of `Sample` records.

Writers append one line per sample and flush it to disk before returning, so a
kill loses at most the line being written. Readers skip a torn last line (the
trace of such a kill) and report any other bad line by number.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edgefabric.errors import EdgeFabricError
from edgefabric.schemas import Sample


@dataclass
class ReadReport:
    samples: list[Sample] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)
    torn_tail: bool = False


def append_samples(path: Path, samples: Iterable[Sample]) -> int:
    """Append samples as JSON lines, each durable before the next; returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    heal_torn_tail(path)
    count = 0
    with path.open("a", encoding="utf-8") as handle:
        for sample in samples:
            handle.write(json.dumps(sample.to_record(), ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
            count += 1
    return count


def heal_torn_tail(path: Path) -> None:
    """Cut a last line left without its newline by a kill, so the next append starts clean."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return
        data = path.read_bytes()
        keep = data.rfind(b"\n") + 1
        handle.truncate(keep)


@dataclass
class JsonlLine:
    """One line of a JSONL file: its number, its text (None when not UTF-8) and whether it is the last."""

    number: int
    text: str | None
    last: bool


def read_jsonl_lines(path: Path) -> Iterator[JsonlLine]:
    """The non-blank lines of a JSONL file, split and decoded per line, at the byte level.

    A kill can tear a record anywhere, inside a multi-byte UTF-8 character too, so the file is
    never decoded as a whole: one undecodable line is reported (text None), not an exception.
    """
    if path.is_dir():
        raise EdgeFabricError(f"{path} is a folder, not a JSONL file", "give the path of a .jsonl file")
    lines = path.read_bytes().split(b"\n")
    last_index = len(lines) - 1
    for index, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            text: str | None = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        yield JsonlLine(index + 1, text, index == last_index)


def count_records(path: Path) -> int:
    """How many records a JSONL file holds, without parsing them (cheap on a large samples.jsonl):
    its non-blank lines, less a torn last line; a missing file holds none.

    For a figure shown while a run appends (the TUI's sample count); `read_samples` validates each one.
    """
    if not path.exists():
        return 0
    count = 0
    with path.open("rb") as handle:
        for raw in handle:
            if raw.strip() and raw.endswith(b"\n"):
                count += 1
            elif raw.strip() and _json_object(raw) is not None:
                count += 1  # a last line written whole but without its newline
    return count


def tail_records(path: Path, count: int = 1, chunk: int = 65536) -> list[dict[str, Any]]:
    """The last `count` JSON objects of a JSONL file, read from its end (append-only files grow large).

    Only the last `chunk` bytes are read, so fewer come back when the records are longer. A torn
    line (a writer killed mid-line, or the chunk's cut first line) is skipped, as `read_samples`
    skips a torn tail. Records come back as dicts, unvalidated: for showing, not for training.
    """
    if not path.exists():
        return []
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - chunk))
        lines = handle.read().split(b"\n")
    records: list[dict[str, Any]] = []
    for line in reversed(lines):
        if len(records) == count:
            break
        value = _json_object(line)
        if value is not None:
            records.append(value)
    return list(reversed(records))


def _json_object(raw: bytes) -> dict[str, Any] | None:
    """The JSON object on one line, or None (blank, torn, not UTF-8, or not an object)."""
    try:
        value = json.loads(raw)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both
        return None
    return value if isinstance(value, dict) else None


def read_samples(path: Path, *, strict: bool = True) -> ReadReport:
    """Read every sample; with `strict`, a bad line (other than a torn tail) is an error."""
    if not path.exists():
        raise EdgeFabricError(f"dataset file {path} does not exist", "check the path, or run `edgefabric generate`")
    report = ReadReport()
    for line in read_jsonl_lines(path):
        number = line.number
        if line.text is None:
            if line.last:
                report.torn_tail = True
            else:
                report.bad_lines.append(f"{path}:{number}: not UTF-8 text (a binary file, or a torn record)")
            continue
        try:
            report.samples.append(Sample.from_record(json.loads(line.text)))
        except json.JSONDecodeError as exc:
            if line.last:
                report.torn_tail = True
                continue
            report.bad_lines.append(f"{path}:{number}: not JSON ({exc.msg})")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            report.bad_lines.append(f"{path}:{number}: {where}: {first['msg']}")
    if strict and report.bad_lines:
        listed = "\n".join(report.bad_lines[:10])
        raise EdgeFabricError(
            f"{len(report.bad_lines)} bad line(s) in {path}:\n{listed}",
            "fix or delete those lines; every line must be one Sample record (see README, Data model)",
        )
    return report


def iter_sample_ids(path: Path) -> Iterator[str]:
    """Ids already written, for resuming without duplicates."""
    if path.exists():
        yield from (sample.id for sample in read_samples(path, strict=False).samples)
