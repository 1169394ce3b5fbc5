"""The one interface every inference backend offers, and the timing record it fills in."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    time_to_first_token_s: float | None = None
    total_s: float = 0.0
    # Why generation ended: "stop" (the model's end-of-generation token), "stop_sequence" (a stop
    # string matched; `stop_sequence` holds it) or "length" (the max_tokens cap or the context ran out).
    finish_reason: str = "stop"
    stop_sequence: str | None = None

    @property
    def tokens_per_s(self) -> float:
        """Decode speed: tokens after the first over the time after the first (prompt work excluded)."""
        if self.time_to_first_token_s is None or self.completion_tokens < 2:
            return 0.0
        decode = self.total_s - self.time_to_first_token_s
        return (self.completion_tokens - 1) / decode if decode > 0 else 0.0


@dataclass
class Generation:
    """A streaming generation: iterate for text pieces; `text` and `stats` are complete once exhausted."""

    pieces: Iterator[str]
    stats: GenerationStats = field(default_factory=GenerationStats)
    text: str = ""

    def __iter__(self) -> Iterator[str]:
        for piece in self.pieces:
            self.text += piece
            yield piece

    def consume(self) -> str:
        for _ in self:
            pass
        return self.text


class Backend(Protocol):
    """An inference engine holding one loaded model."""

    name: str
    model_path: str

    def generate(self, prompt: str, stop: Sequence[str], max_tokens: int, grammar: str | None = None) -> Generation: ...

    def count_tokens(self, text: str) -> int: ...

    def close(self) -> None: ...


class StopScanner:
    """Cut streamed text at the first stop sequence, holding back text that may be a stop's prefix.

    Backends whose engine has no stop-string support (onnxruntime-genai, a hand-rolled
    transformers loop) share this, so every backend stops at exactly the same place.
    """

    def __init__(self, stop: Sequence[str]) -> None:
        self.stop = [s for s in stop if s]
        self.buffer = ""
        self.stopped = False
        self.matched: str | None = None  # the stop sequence that ended the text

    def feed(self, piece: str) -> str:
        self.buffer += piece
        found = [(i, s) for s in self.stop if (i := self.buffer.find(s)) >= 0]
        if found:
            cut, self.matched = min(found, key=lambda hit: hit[0])
            self.stopped = True
            out, self.buffer = self.buffer[:cut], ""
            return out
        hold = 0
        for s in self.stop:
            for n in range(min(len(s) - 1, len(self.buffer)), 0, -1):
                if self.buffer.endswith(s[:n]):
                    hold = max(hold, n)
                    break
        out = self.buffer[: len(self.buffer) - hold]
        self.buffer = self.buffer[len(self.buffer) - hold :]
        return out

    def flush(self) -> str:
        out, self.buffer = self.buffer, ""
        return out


def mark_stopped(stats: GenerationStats, scanner: StopScanner) -> None:
    """Record in `stats` that `scanner` cut the text at a stop sequence."""
    stats.finish_reason = "stop_sequence"
    stats.stop_sequence = scanner.matched


def timed_stream(
    produce: Iterator[str], stats: GenerationStats, count: Callable[[], int] | None = None
) -> Iterator[str]:
    """Wrap a piece iterator so it records time to first token and total time in `stats`."""
    start = time.perf_counter()
    for piece in produce:
        if stats.time_to_first_token_s is None:
            stats.time_to_first_token_s = time.perf_counter() - start
        yield piece
    stats.total_s = time.perf_counter() - start
    if count is not None:
        stats.completion_tokens = count()
