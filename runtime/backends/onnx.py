"""ONNX model folders (genai_config.json + model.onnx) through onnxruntime-genai, imported lazily."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.backends.base import Generation, GenerationStats, StopScanner, mark_stopped, timed_stream
from edgefabric.runtime.profiles import DeviceProfile

# Gemma 3 models fail at run time when max_length is below their 512-token sliding window (FACTS.md).
_MIN_MAX_LENGTH = 512


def special_token_texts(folder: Path) -> dict[int, str]:
    """Token id -> text of the special added tokens in `folder`/tokenizer.json (empty when there is none).

    onnxruntime-genai's detokenizer (0.18) leaves special tokens out of the text, and
    `Tokenizer.update_options(skip_special_tokens=...)` does not change that; yet a tool-calling
    format's markers (FunctionGemma's `<start_function_call>`, `<escape>`, ...) are special tokens
    the parser needs, and the other backends keep them.
    """
    path = folder / "tokenizer.json"
    if not path.exists():
        return {}
    added = json.loads(path.read_text(encoding="utf-8")).get("added_tokens") or []
    return {int(t["id"]): str(t["content"]) for t in added if t.get("special")}


@dataclass
class Detokenizer:
    """Text for each generated token id, in order: the stream's text, or a special token's own text."""

    stream: Any  # onnxruntime_genai.TokenizerStream
    special: dict[int, str]

    def feed(self, token: int) -> str:
        """The text token `token` adds (may be empty while a multi-byte character is incomplete)."""
        text = self.special.get(int(token))
        return text if text is not None else str(self.stream.decode(token))


class OnnxGenaiBackend:
    name = "onnxruntime-genai"

    def __init__(self, folder: Path, profile: DeviceProfile) -> None:
        if not (folder / "genai_config.json").exists():
            raise EdgeFabricError(
                f"{folder} has no genai_config.json, so it is not an onnxruntime-genai model folder",
                "point at the folder `edgefabric export --onnx` wrote",
            )
        import onnxruntime_genai as og

        self._og = og
        self.model_path = str(folder)
        self.profile = profile
        config = og.Config(str(folder))
        self.model = og.Model(config)
        self.tokenizer = og.Tokenizer(self.model)
        self._special = special_token_texts(folder)

    def detokenizer(self) -> Detokenizer:
        """A fresh detokenizer for one generation (its stream keeps partial characters between tokens)."""
        return Detokenizer(self.tokenizer.create_stream(), self._special)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text)) if text else 0

    def generate(self, prompt: str, stop: Sequence[str], max_tokens: int, grammar: str | None = None) -> Generation:
        if grammar is not None:
            raise EdgeFabricError(
                "constrained decoding is only available with the llama.cpp backend",
                "run the GGUF export, or turn constrained decoding off",
            )
        og = self._og
        tokens = self.tokenizer.encode(prompt)
        stats = GenerationStats(prompt_tokens=len(tokens))
        params = og.GeneratorParams(self.model)
        max_length = max(_MIN_MAX_LENGTH, min(self.profile.context, len(tokens) + max_tokens))
        params.set_search_options(max_length=max_length, do_sample=False)
        generator = og.Generator(self.model, params)
        generator.append_tokens(tokens)
        decoder = self.detokenizer()
        scanner = StopScanner(stop)
        count = 0

        def pieces() -> Iterator[str]:
            nonlocal count
            while not generator.is_done() and count < max_tokens:
                generator.generate_next_token()
                token: Any = generator.get_next_tokens()[0]
                count += 1
                out = scanner.feed(decoder.feed(token))
                if out:
                    yield out
                if scanner.stopped:
                    mark_stopped(stats, scanner)
                    return
            stats.finish_reason = "length" if count >= max_tokens else "stop"
            rest = scanner.flush()
            if rest:
                yield rest

        def counted() -> int:
            return count

        return Generation(timed_stream(pieces(), stats, counted), stats)

    def close(self) -> None:
        del self.model
