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
