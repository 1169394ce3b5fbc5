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
    with pytest.raises(EdgeFabricError, match="no config.json"):
        models.resolve_hf_folder(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    assert models.resolve_hf_folder(str(tmp_path)) == tmp_path
    with pytest.raises(EdgeFabricError, match="not a GGUF file"):
        models.resolve_gguf(str(tmp_path / "x.bin"))
    with pytest.raises(EdgeFabricError, match="not a model source"):
        models.resolve_hf_folder("not-a-thing")
