"""A small key-value store kept in the session (a JSON file under the scratch folder)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MAX_KEYS = 1000
MAX_KEY_LENGTH = 128


def _path() -> Path:
    return Path(os.environ.get("EDGEFABRIC_SCRATCH", "/scratch")) / ".state" / "kv.json"


def _load() -> dict[str, Any]:
    path = _path()
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _save(data: dict[str, Any]) -> None:
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")  # write whole, then rename: a stopped call never leaves half a file
    partial.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    partial.replace(path)


def _check_key(key: str) -> str:
    if not key.strip():
        raise ValueError("key is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"key is {len(key)} characters long; at most {MAX_KEY_LENGTH}")
    return key


def set(key: str, value: str | int | float | bool | list[Any] | dict[str, Any] | None) -> dict:
    """Store a value under a key, replacing any value it had.

    Args:
        key: The key, e.g. "favorite_color".
        value: Any JSON value: text, a number, true/false, a list or an object.
    """
    data = _load()
    _check_key(key)
    if key not in data and len(data) >= MAX_KEYS:
        raise ValueError(f"the store is full ({MAX_KEYS} keys); delete some first")
    previous = data.get(key)
    data[key] = value
    _save(data)
    return {"key": key, "value": value, "replaced": previous}


def get(key: str) -> dict:
    """Read the value stored under a key.

    Args:
        key: The key to read.
    """
    data = _load()
    if key not in data:
        known = ", ".join(sorted(data)[:20]) or "none"
        raise KeyError(f"no key {key!r}; stored keys: {known}")
    return {"key": key, "value": data[key]}


def delete(key: str) -> dict:
    """Remove a key and its value.

    Args:
        key: The key to remove.
    """
    data = _load()
    if key not in data:
        raise KeyError(f"no key {key!r} to delete")
    value = data.pop(key)
    _save(data)
    return {"deleted": key, "value": value}


def list_keys(prefix: str = "") -> dict:
    """List the stored keys, optionally only those starting with a prefix.

    Args:
        prefix: Only keys starting with this text.
    """
    keys = sorted(key for key in _load() if key.startswith(prefix))
    return {"keys": keys, "count": len(keys)}


SCENARIOS = [
    {
        "name": "kv-preferences",
        "description": "A few stored preferences",
        "state": {"kv": {"favorite_color": "green", "units": "metric", "reminder_minutes": 15}},
    }
]
