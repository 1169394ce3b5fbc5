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
    _heal_torn_tail(path)
    count = 0
    with path.open("a", encoding="utf-8") as handle:
        for sample in samples:
            handle.write(json.dumps(sample.to_record(), ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
            count += 1
    return count


def _heal_torn_tail(path: Path) -> None:
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


def read_samples(path: Path, *, strict: bool = True) -> ReadReport:
    """Read every sample; with `strict`, a bad line (other than a torn tail) is an error."""
    if not path.exists():
        raise EdgeFabricError(f"dataset file {path} does not exist", "check the path, or run `edgefabric generate`")
    report = ReadReport()
    lines = path.read_text(encoding="utf-8").split("\n")
    last_index = len(lines) - 1
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            report.samples.append(Sample.from_record(json.loads(line)))
        except json.JSONDecodeError as exc:
            if number - 1 == last_index:
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
