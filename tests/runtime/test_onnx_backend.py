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


def test_a_formats_special_tokens_come_back_as_text(tiny_gemma: Path, tmp_path: Path) -> None:  # noqa: F811
    """onnxruntime-genai's detokenizer drops special tokens; FunctionGemma's call markers are special tokens
    in every model `edgefabric train` writes (it adds them with `special: true`), so the backend puts them back."""
    import json
    import shutil

    from edgefabric.export.onnx import build
    from edgefabric.export.source import inspect_source

    folder = build(inspect_source(tiny_gemma, "functiongemma"), tmp_path / "onnx-fp32", "fp32")
    copy = tmp_path / "special"
    shutil.copytree(folder, copy)
    tokenizer = json.loads((copy / "tokenizer.json").read_text())
    for token in tokenizer["added_tokens"]:
        if token["content"] in functiongemma.special_tokens:
            token["special"] = True  # as a trained model's tokenizer has them
    (copy / "tokenizer.json").write_text(json.dumps(tokenizer))

    backend = load_backend(str(copy), profile="laptop")
    text = "<start_function_call>call:get_weather{city:<escape>Paris<escape>}<end_function_call>"
    ids = backend.tokenizer.encode(text)  # type: ignore[attr-defined]
    assert len(ids) < len(text)  # the markers are single tokens
    stream = backend.tokenizer.create_stream()  # type: ignore[attr-defined]
    assert "".join(stream.decode(i) for i in ids) != text  # the library's own stream drops them
    detokenizer = backend.detokenizer()  # type: ignore[attr-defined]
    decoded = "".join(detokenizer.feed(i) for i in ids)
    assert decoded == text
    assert [c.name for c in functiongemma.parse(decoded).tool_calls] == ["get_weather"]
