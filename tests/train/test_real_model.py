"""The real embedded Gemma 3 270M trains on CPU (2 steps); slow: ~1 minute plus the one-time conversion."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgefabric.pipeline.train import train
from tests.train.conftest import dataset, project, write_data


@pytest.mark.slow
def test_embedded_gemma_270m_trains_two_steps_on_cpu(
    embedded_gemma_hf: Path, model_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The session fixture converted the GGUF once under model_cache; pointing EDGEFABRIC_HOME there lets
    # train() resolve `embedded:gemma3-270m` itself (resolve_hf_folder) without converting again.
    monkeypatch.setenv("EDGEFABRIC_HOME", str(model_cache))
    data = write_data(tmp_path / "data", dataset(4))
    config = project(embedded_gemma_hf, max_steps=2, batch_size=2, learning_rate=2e-4)
    config.model.base = "embedded:gemma3-270m"
    result = train(config, data, tmp_path / "run")
    report = result.report
    assert report["steps"] == 2
    assert Path(report["model_dir"]) == embedded_gemma_hf
    assert report["backend"]["name"] == "trl"
    # The Gemma 3 base lacks FunctionGemma's control tokens: all seven are added and trained.
    assert len(report["added_tokens"]) == 7
    assert 0 < report["final_loss"] < 20
    assert (result.adapter / "adapter_model.safetensors").exists()
