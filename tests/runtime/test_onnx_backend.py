"""The onnxruntime-genai backend on a real ONNX export (the export stage's builder, fp32) of a tiny
random Gemma 3: greedy text equals the transformers backend's on the same weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgefabric.runtime.backends import load_backend
from edgefabric.runtime.formats import functiongemma
from edgefabric.schemas import Message
from tests.export.conftest import tiny_gemma, tiny_tokenizer  # noqa: F401 (session fixtures)

pytestmark = pytest.mark.slow


def test_onnx_backend_streams_the_same_greedy_text_as_transformers(tiny_gemma: Path, tmp_path: Path) -> None:  # noqa: F811
    from edgefabric.export.onnx import build
    from edgefabric.export.source import inspect_source

    folder = build(inspect_source(tiny_gemma, "functiongemma"), tmp_path / "onnx-fp32", "fp32")
    prompt = functiongemma.render(
        [Message(role="user", content="What's the weather in Paris right now?")], [], add_generation_prompt=True
    )
    onnx = load_backend(str(folder), profile="laptop")
    assert onnx.name == "onnxruntime-genai"
    generation = onnx.generate(prompt, functiongemma.stop_sequences, 16)
    pieces = list(generation)
    assert pieces and generation.stats.completion_tokens > 0
    hf = load_backend(str(tiny_gemma), backend="transformers", profile="laptop")
    reference = hf.generate(prompt, functiongemma.stop_sequences, 16).consume()
    assert generation.text == reference
