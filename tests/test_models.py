"""Model sources: embedded GGUFs, local paths, and the hub honouring HF_HUB_OFFLINE."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgefabric.errors import EdgeFabricError, ModelUnavailableError
from edgefabric.runtime import models


def test_embedded_smollm_is_a_real_gguf_file() -> None:
    path = models.resolve_gguf(models.EMBEDDED_SMOLLM)
    assert path.read_bytes()[:4] == b"GGUF"
    assert path.stat().st_size > 50_000_000


def test_embedded_gemma_is_assembled_once_into_the_cache(isolated_home: Path) -> None:
    path = models.resolve_gguf(models.EMBEDDED_GEMMA)
    assert path.is_relative_to(isolated_home)
    with path.open("rb") as handle:
        assert handle.read(4) == b"GGUF"
    mtime = path.stat().st_mtime_ns
    assert models.resolve_gguf(models.EMBEDDED_GEMMA).stat().st_mtime_ns == mtime
    assert not list(path.parent.glob("*.partial"))


def test_hub_id_offline_and_not_cached_says_how_to_provide_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelUnavailableError) as caught:
        models.resolve_hf_folder("google/functiongemma-270m-it")
    message = caught.value.message
    assert "HF_HUB_OFFLINE is set" in message
    assert "hf download google/functiongemma-270m-it" in message
    assert "local folder" in message


def test_local_paths_are_checked(tmp_path: Path) -> None:
    with pytest.raises(EdgeFabricError, match=r"no config\.json"):
        models.resolve_hf_folder(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    assert models.resolve_hf_folder(str(tmp_path)) == tmp_path
    with pytest.raises(EdgeFabricError, match="not a GGUF file"):
        models.resolve_gguf(str(tmp_path / "x.bin"))
    with pytest.raises(EdgeFabricError, match="not a model source"):
        models.resolve_hf_folder("not-a-thing")


@pytest.mark.slow
def test_embedded_gemma_converts_to_an_hf_folder_that_matches_llama_cpp(
    embedded_gemma_hf: Path, embedded_gemma_gguf: Path
) -> None:
    import json

    import torch
    from llama_cpp import Llama
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = json.loads((embedded_gemma_hf / "config.json").read_text())
    assert config["model_type"] == "gemma3_text"
    assert "quantization_config" not in config
    tokenizer = AutoTokenizer.from_pretrained(embedded_gemma_hf)
    assert tokenizer.convert_tokens_to_ids("<start_of_turn>") == 105
    model = AutoModelForCausalLM.from_pretrained(embedded_gemma_hf, dtype=torch.float32)
    assert 260e6 < sum(p.numel() for p in model.parameters()) < 280e6

    prompt = "The capital of France is"
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    ours = model.generate(ids, max_new_tokens=8, do_sample=False)[0, ids.shape[1] :].tolist()
    llm = Llama(str(embedded_gemma_gguf), n_threads=2, verbose=False)
    try:
        assert llm.tokenize(prompt.encode()) == ids[0].tolist()
        reference = llm.tokenize(llm(prompt, max_tokens=8, temperature=0)["choices"][0]["text"].encode(), add_bos=False)
    finally:
        llm.close()
    # Dequantised weights are the quantised values in float32, so greedy decoding agrees.
    assert ours == reference
