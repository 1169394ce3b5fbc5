"""Chat formats, one unit per model family, in one registry: `get_format(family)` picks one.

A unit (a module or object, see `base.ChatFormat`) renders, segments and parses its text, names its
tokens, builds its call grammar and gives its exported chat template. Training, export, the server, the
agent and evaluation all ask this registry; an unknown family is an error, never a fallback. A new family
is one new unit and one `register` call.
"""

from __future__ import annotations

from typing import Any, cast

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.formats import functiongemma, qwen3
from edgefabric.runtime.formats.base import ChatFormat, ParseError, ParseResult, Segment

FORMATS: dict[str, Any] = {}


def register(unit: Any, *aliases: str) -> None:
    """Add a format unit under its `name` (and any aliases); a name already taken is an error."""
    for key in (unit.name, *aliases):
        if key in FORMATS and FORMATS[key] is not unit:
            raise EdgeFabricError(f"chat format {key!r} is already registered", "pick another name")
        FORMATS[key] = unit


def get_format(family: str) -> ChatFormat:
    """The unit registered as `family`; EdgeFabricError naming the known ones otherwise."""
    try:
        return cast(ChatFormat, FORMATS[family])
    except KeyError:
        raise EdgeFabricError(
            f"unknown chat format {family!r}",
            f"use one of: {', '.join(sorted(FORMATS))}",
        ) from None


register(functiongemma)
register(qwen3, "hermes")

__all__ = ["FORMATS", "ChatFormat", "ParseError", "ParseResult", "Segment", "get_format", "register"]
