"""The user's TUI preferences (only the theme), kept under EDGEFABRIC_HOME.

They are a person's taste, not a project's state, so they live with the user's
data and not in the project folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from edgefabric.paths import data_home

DARK_THEME = "textual-dark"
LIGHT_THEME = "textual-light"


class TuiSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    theme: str = DARK_THEME


def settings_path() -> Path:
    return data_home() / "tui.json"


def load_settings() -> TuiSettings:
    path = settings_path()
    try:
        return TuiSettings.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError):
        # A missing or damaged settings file only costs the user their theme choice.
        return TuiSettings()


def save_settings(settings: TuiSettings) -> None:
    path = settings_path()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(settings.model_dump(), indent=2), encoding="utf-8")
    tmp.replace(path)
