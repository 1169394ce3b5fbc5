"""One compiled component for the whole test session: the built-in sets plus the hostile test tools.

The build (componentize-py) and the compile (wasmtime) take a minute or two the first time; both
are cached in the checkout's .cache, so later runs load the component in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edgefabric.runtime.sandbox import SandboxLimits, ToolBox, ToolSession, load_toolbox

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
HOSTILE = HERE / "hostile_tools.py"
BUILTINS = ["files", "math", "kv", "scene", "mobile"]
# Tight limits make the adversarial tests quick; the defaults are more generous.
TEST_LIMITS = SandboxLimits(fuel=500_000_000, timeout_s=2.0, memory_bytes=128 << 20, scratch_bytes=8 << 20)


@pytest.fixture(scope="session")
def sandbox_home() -> Path:
    """An EDGEFABRIC_HOME kept between runs, holding the built components (for CLI subprocesses too)."""
    home = ROOT / ".cache" / "sandbox-test"
    home.mkdir(parents=True, exist_ok=True)
    return home


@pytest.fixture(scope="session")
def sandbox_cache(sandbox_home: Path) -> Path:
    return sandbox_home / "cache" / "sandbox"


@pytest.fixture(scope="session")
def toolbox(sandbox_cache: Path) -> ToolBox:
    return load_toolbox([*BUILTINS, str(HOSTILE)], cache_dir=sandbox_cache, limits=TEST_LIMITS)


@pytest.fixture
def session(toolbox: ToolBox) -> Iterator[ToolSession]:
    with toolbox.session() as opened:
        yield opened
