"""Where EdgeFabric keeps its data: XDG dirs, or one folder named by EDGEFABRIC_HOME.

Tests set EDGEFABRIC_HOME to a temporary folder; users may do the same to move
everything (caches of converted models, compiled tool components) elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

HOME_VARIABLE = "EDGEFABRIC_HOME"


def data_home() -> Path:
    override = os.environ.get(HOME_VARIABLE)
    base = Path(override) if override else Path(platformdirs.user_data_dir("edgefabric"))
    base.mkdir(parents=True, exist_ok=True)
    return base


def cache_home() -> Path:
    override = os.environ.get(HOME_VARIABLE)
    base = Path(override) / "cache" if override else Path(platformdirs.user_cache_dir("edgefabric"))
    base.mkdir(parents=True, exist_ok=True)
    return base


def owned_temp_prefix(kind: str) -> str:
    """The temp-file prefix for this process's `kind` files: `edgefabric-KIND-PID-`.

    The PID lets `sweep_stale_temp` remove what a killed process left behind.
    """
    return f"edgefabric-{kind}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_temp(kind: str) -> list[Path]:
    """Remove temp files and folders named by `owned_temp_prefix(kind)` whose process is gone.

    A SIGKILL runs no clean-up, so the next run removes the leftovers; returns what it removed.
    """
    import shutil
    import tempfile

    removed: list[Path] = []
    prefix = f"edgefabric-{kind}-"
    try:
        entries = list(Path(tempfile.gettempdir()).glob(prefix + "*"))
    except OSError:
        return removed
    for entry in entries:
        pid_text = entry.name[len(prefix) :].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _alive(int(pid_text)):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError:
            continue
        removed.append(entry)
    return removed
