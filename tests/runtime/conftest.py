"""Runtime fixtures: the embedded SmolLM2 GGUF loaded once, a real sandbox toolbox, and a
scripted backend for fault injection (arbitrary model output through the real loop and server)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from edgefabric.errors import ContextOverflowError
from edgefabric.runtime.backends.base import Generation, GenerationStats, StopScanner, mark_stopped


class ScriptedBackend:
    """Plays back fixed outputs, one per generate call: for injecting garbage, never for scoring models."""

    name = "scripted"
    model_path = "scripted"

    def __init__(self, outputs: Sequence[str], context: int | None = None) -> None:
        self.outputs = list(outputs)
        self.prompts: list[str] = []
        self.context = context  # in words, as count_tokens counts; a longer prompt fails as llama.cpp's backend does

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, prompt: str, stop: Sequence[str], max_tokens: int, grammar: str | None = None) -> Generation:
        self.prompts.append(prompt)
        if self.context is not None and self.count_tokens(prompt) >= self.context:
            raise ContextOverflowError(f"the prompt is over the {self.context}-token context", "shorten it")
        text = self.outputs.pop(0) if self.outputs else ""
        scanner = StopScanner(stop)
        # A word is a token here: output longer than max_tokens is cut there, as a real engine's cap cuts it.
        words = text.split(" ")
        capped = len(words) > max_tokens
        if capped:
            text = " ".join(words[:max_tokens])
        stats = GenerationStats(prompt_tokens=len(prompt), completion_tokens=min(len(words), max_tokens))

        def pieces() -> Iterator[str]:
            for i in range(0, len(text), 7):
                out = scanner.feed(text[i : i + 7])
                if out:
                    yield out
                if scanner.stopped:
                    mark_stopped(stats, scanner)
                    return
            if capped:
                stats.finish_reason = "length"
            rest = scanner.flush()
            if rest:
                yield rest

        return Generation(pieces(), stats)

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def smollm() -> Any:
    """SmolLM2-135M-Instruct (ChatML, so the qwen3/Hermes format) through our llama.cpp backend."""
    from edgefabric.runtime.backends import load_backend

    backend = load_backend("embedded:smollm2-135m", profile="laptop")
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def kv_box() -> Any:
    from edgefabric.runtime.sandbox import load_toolbox

    return load_toolbox(["kv"])
