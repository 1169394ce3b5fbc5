"""The transformers backend (for comparison) agrees with llama.cpp on the same weights.

The embedded Gemma HF folder is dequantised from the very GGUF llama.cpp runs, so greedy
decoding should begin with the same text."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgefabric.runtime.backends import load_backend

pytestmark = pytest.mark.slow
PROMPT = "<bos>The capital of France is"


def test_transformers_and_llama_cpp_agree_and_stream(embedded_gemma_hf: Path, embedded_gemma_gguf: Path) -> None:
    hf = load_backend(str(embedded_gemma_hf), profile="laptop")
    assert hf.name == "transformers"
    generation = hf.generate(PROMPT, ["\n"], 6)
    pieces = list(generation)
    assert len(pieces) >= 2  # streamed piece by piece, not in one block
    assert generation.stats.completion_tokens <= 6 and generation.stats.time_to_first_token_s is not None
    hf.close()
    llama = load_backend(str(embedded_gemma_gguf), profile="laptop")
    reference = llama.generate(PROMPT, ["\n"], 6).consume()
    llama.close()
    assert generation.text.split()[:2] == reference.split()[:2], (generation.text, reference)
