"""The real Gemma 3 270M (embedded, as an HF folder with tokenizer.json only): one GGUF export."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgefabric.export.run import export_model
from edgefabric.runtime.formats.templates import chat_template


def _vocabulary(path: Path) -> tuple[list[object], list[object], list[object]]:
    from gguf import GGUFReader

    fields = GGUFReader(path).fields

    def values(key: str) -> list[object]:
        return [fields[key].contents(i) for i in range(len(fields[key].data))]

    return values("tokenizer.ggml.tokens"), values("tokenizer.ggml.scores"), values("tokenizer.ggml.token_type")


@pytest.mark.slow
def test_embedded_270m_to_gguf_keeps_the_sentencepiece_vocabulary(
    embedded_gemma_hf: Path, embedded_gemma_gguf: Path, tmp_path: Path
) -> None:
    from llama_cpp import Llama

    result = export_model(
        str(embedded_gemma_hf), gguf=["q8_0"], onnx=[], out=tmp_path / "bundle", parity=True, probe_tokens=8
    )
    gguf = result.bundle / "model-q8_0.gguf"
    # tokenizer.model was rebuilt from the embedded GGUF: tokens, scores and types are the original ones.
    assert _vocabulary(gguf) == _vocabulary(embedded_gemma_gguf)
    llm = Llama(str(gguf), n_ctx=512, verbose=False)
    assert llm.metadata["tokenizer.ggml.model"] == "llama"
    assert llm.metadata["tokenizer.chat_template"] == chat_template("functiongemma")
    text = "<start_of_turn>user\nWhat's   the weather in Paris?<end_of_turn>\n"
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(embedded_gemma_hf)
    assert llm.tokenize(text.encode(), add_bos=False, special=True) == hf.encode(text, add_special_tokens=False)
    assert result.parity is not None
    (row,) = result.parity["summary"]
    # q8_0 of the real 270M is near-lossless under teacher forcing, so it must pass its bounds.
    assert row["target"] == "gguf q8_0" and row["passed"], row["failures"]
    assert row["top1_agreement"] >= 0.9 and row["mean_kl"] < 0.03
    assert result.manifest["parameters"] > 260_000_000
