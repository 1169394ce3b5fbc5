"""The one registry of chat formats: family name (or alias) -> its unit (`base.ChatFormat`).

Every consumer asks here: training and evaluation (`get_format`), export (`family_for_architecture`,
the unit's templates), the backends' guess from a model's name (`family_for_name`), the config's
validation and the TUI's model choices (`families`, `units`). An unknown family is an EdgeFabricError
naming the known ones, never a fallback. Adding a family is one package `runtime/formats/<family>/`
and one `register` line at the bottom of this file.
"""

from __future__ import annotations

from edgefabric.config import DEFAULT_FAMILY
from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.formats import functiongemma, qwen3
from edgefabric.runtime.formats.base import ChatFormat

# The one piece of global mutable state: name or alias -> unit (a unit appears once per name it has).
FORMATS: dict[str, ChatFormat] = {}


def _known() -> str:
    return ", ".join(families()) or "(none registered)"


def register(unit: ChatFormat) -> None:
    """Add a unit under its `name` and its `aliases`.

    `unit` is a module or object satisfying ChatFormat (mypy checks the built-in packages against it). A
    name already held by another unit is an EdgeFabricError (two formats cannot answer to one name);
    registering the same unit again is a no-op.
    """
    names = (unit.name, *unit.aliases)
    for key in names:
        if key in FORMATS and FORMATS[key] is not unit:
            raise EdgeFabricError(
                f"chat format {key!r} is already registered", "give the new format another name or alias"
            )
    for key in names:
        FORMATS[key] = unit


def unregister(family: str) -> None:
    """Remove the unit registered as `family`, with all its names (tests add and remove toy formats)."""
    unit = get_format(family)
    for key in [k for k, v in FORMATS.items() if v is unit]:
        del FORMATS[key]


def get_format(family: str) -> ChatFormat:
    """The unit registered as `family` (a name or an alias); EdgeFabricError naming the known ones otherwise."""
    try:
        return FORMATS[family]
    except KeyError:
        raise EdgeFabricError(f"unknown chat format {family!r}", f"use one of: {_known()}") from None


def units() -> list[ChatFormat]:
    """Every registered unit once, in registration order."""
    seen: list[ChatFormat] = []
    for unit in FORMATS.values():
        if all(unit is not other for other in seen):
            seen.append(unit)
    return seen


def families() -> list[str]:
    """The canonical family names, in registration order (aliases left out)."""
    return [unit.name for unit in units()]


def architectures() -> dict[str, str]:
    """HF architecture -> the family its fine-tunes are trained in, from each unit's `architectures`."""
    return {arch: unit.name for unit in units() for arch in unit.architectures}


def family_for_architecture(architecture: str) -> str:
    """The family of an HF architecture (`Gemma3ForCausalLM` -> functiongemma); EdgeFabricError for another."""
    known = architectures()
    if architecture not in known:
        listed = ", ".join(f"{arch} ({family})" for arch, family in known.items())
        raise EdgeFabricError(f"architecture {architecture} has no chat format", f"use one of: {listed}")
    return known[architecture]


def family_for_name(model: str) -> str:
    """The family a model's name or path suggests: the first unit one of whose `name_hints` it contains,
    else the config's default family (the embedded base's format). A guess, for when neither the user nor
    an export's manifest names the format."""
    lowered = model.lower()
    for unit in units():
        if any(hint in lowered for hint in unit.name_hints):
            return unit.name
    return DEFAULT_FAMILY


def describe_families() -> str:
    """`'functiongemma' or 'qwen3'`: the families for a help text or an error message."""
    names = [repr(name) for name in families()]
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


# The built-in formats: one line per family.
register(functiongemma)
register(qwen3)
