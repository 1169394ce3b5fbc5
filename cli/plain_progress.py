"""Progress for output that is not a terminal: one plain line per finished unit, with count, rate and ETA.

Rich's live bars draw nothing when stdout is a file or a pipe, so a long `eval` or `generate` under
`nohup`, CI or a log file would otherwise say nothing for an hour. Every long command builds one of
these with `plain_progress(console, quiet)` and feeds it the same `Progress` events its bar gets.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from rich.console import Console


def format_duration(seconds: float) -> str:
    """`42 s`, `3.5 min` or `1.2 h`."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_rate(units: float, seconds: float) -> str:
    """Units per second, or per minute when slower than one a second (`0.21/s` would hide in rounding)."""
    if seconds <= 0:
        return "n/a"
    per_s = units / seconds
    return f"{per_s:.2f}/s" if per_s >= 1 else f"{per_s * 60:.1f}/min"


@dataclass
class _Track:
    started: float
    base: int  # units already done when we started watching (a resumed run)
    last: int


@dataclass
class PlainProgress:
    """Writes `stage 3/40 (8%), 1.9/min, ETA 19.5 min[, detail]` each time a stage's count goes up.

    stream: where lines go (flushed each time); clock: seconds, monotonic (injectable for tests).
    The rate counts only units finished since this object first saw the stage.
    """

    stream: TextIO = field(default_factory=lambda: sys.stdout)
    clock: Callable[[], float] = time.monotonic
    _tracks: dict[str, _Track] = field(default_factory=dict)

    def start(self, stage: str, done: int = 0) -> None:
        """Start the clock for `stage` (otherwise the first `update` starts it, and is not printed)."""
        self._tracks[stage] = _Track(self.clock(), done, done)

    def update(self, stage: str, done: int, total: int | None = None, detail: str = "") -> str | None:
        """Record that `done` units of `stage` are finished; print and return a line when that is new."""
        track = self._tracks.get(stage)
        if track is None:
            self.start(stage, done)
            return None
        if done <= track.last:
            return None
        track.last = done
        elapsed = self.clock() - track.started
        finished = done - track.base
        parts = [f"{stage} {done}/{total}" if total else f"{stage} {done}"]
        if total:
            parts[0] += f" ({done / total:.0%})"
        parts.append(format_rate(finished, elapsed))
        if total and finished > 0 and elapsed > 0:
            parts.append(f"ETA {format_duration((total - done) * elapsed / finished)}")
        if detail:
            parts.append(detail)
        line = ", ".join(parts)
        self.stream.write(line + "\n")
        self.stream.flush()
        return line


def plain_progress(console: Console, quiet: bool = False) -> PlainProgress | None:
    """A `PlainProgress` on stdout when `console` is not a terminal and `quiet` is off; else None."""
    if quiet or console.is_terminal:
        return None
    return PlainProgress()
