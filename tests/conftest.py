"""Every test gets its own EDGEFABRIC_HOME and no network beyond the loopback."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise ConnectionRefusedError(f"tests may only reach the loopback, not {host}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "edgefabric-home"
    monkeypatch.setenv("EDGEFABRIC_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    yield home


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """Converted real models, kept between runs in the checkout (a fresh clone rebuilds them once)."""
    path = ROOT / ".cache" / "test-models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _with_home(home: Path, build: Any) -> Any:
    import os

    from filelock import FileLock

    # One worker converts while the others wait, then all reuse the result.
    with FileLock(str(home / ".lock")):
        previous = os.environ.get("EDGEFABRIC_HOME")
        os.environ["EDGEFABRIC_HOME"] = str(home)
        try:
            return build()
        finally:
            if previous is None:
                os.environ.pop("EDGEFABRIC_HOME", None)
            else:
                os.environ["EDGEFABRIC_HOME"] = previous


@pytest.fixture(scope="session")
def embedded_gemma_hf(model_cache: Path) -> Path:
    """The embedded Gemma 3 270M as a float32 HF folder (about 40 s the first time, then cached)."""
    from edgefabric.runtime.models import EMBEDDED_GEMMA, resolve_hf_folder

    return _with_home(model_cache, lambda: resolve_hf_folder(EMBEDDED_GEMMA))


@pytest.fixture(scope="session")
def embedded_gemma_gguf(model_cache: Path) -> Path:
    from edgefabric.runtime.models import EMBEDDED_GEMMA, resolve_gguf

    return _with_home(model_cache, lambda: resolve_gguf(EMBEDDED_GEMMA))
