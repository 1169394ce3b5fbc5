"""Chat formats, one module per model family. `get_format(family)` picks one."""

from __future__ import annotations

from types import ModuleType
from typing import cast

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.formats import functiongemma, qwen3
from edgefabric.runtime.formats.base import ChatFormat, ParseError, ParseResult, Segment

FORMATS: dict[str, ModuleType] = {"functiongemma": functiongemma, "qwen3": qwen3, "hermes": qwen3}


def get_format(family: str) -> ChatFormat:
    try:
        return cast(ChatFormat, FORMATS[family])
    except KeyError:
        raise EdgeFabricError(
            f"unknown chat format {family!r}",
            f"use one of: {', '.join(sorted(FORMATS))}",
        ) from None


__all__ = ["FORMATS", "ChatFormat", "ParseError", "ParseResult", "Segment", "get_format"]
