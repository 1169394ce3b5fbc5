"""ONNX model folders (genai_config.json + model.onnx) through onnxruntime-genai, imported lazily."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.backends.base import Generation, GenerationStats, StopScanner, mark_stopped, timed_stream
from edgefabric.runtime.profiles import DeviceProfile

# Gemma 3 models fail at run time when max_length is below their 512-token sliding window (FACTS.md).
_MIN_MAX_LENGTH = 512


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
        decoder = self.tokenizer.create_stream()
        scanner = StopScanner(stop)
        count = 0

        def pieces() -> Iterator[str]:
            nonlocal count
            while not generator.is_done() and count < max_tokens:
                generator.generate_next_token()
                token: Any = generator.get_next_tokens()[0]
                count += 1
                out = scanner.feed(decoder.decode(token))
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
