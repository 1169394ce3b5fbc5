"""rejects.jsonl: every sample that was not accepted, with the stage and the reason.

Append-only and flushed per record like the dataset itself, so a kill loses
nothing; a torn last line is skipped when read.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from edgefabric.dataset import heal_torn_tail, read_jsonl_lines

RETRY_ON_RESUME = "teacher"  # the teacher was unreachable: the sample itself was never judged


class Reject(BaseModel):
    id: str
    index: int
    kind: str
    topic_path: list[str]
    stage: str
    reason: str
    messages: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def append_reject(path: Path, reject: Reject) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    heal_torn_tail(path)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(reject.model_dump_json() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_rejects(path: Path) -> list[Reject]:
    if not path.exists():
        return []
    rejects = []
    for line in read_jsonl_lines(path):
        if line.text is None:
            continue  # torn inside a multi-byte character
        try:
            rejects.append(Reject.model_validate(json.loads(line.text)))
        except (json.JSONDecodeError, ValueError):
            continue  # a torn line from a kill mid-write
    return rejects
