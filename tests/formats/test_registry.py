"""The chat-format registry: one entry per family and alias, every unit complete, unknown names refused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.formats import functiongemma, qwen3
from edgefabric.runtime.formats.base import ChatFormat
from edgefabric.runtime.formats.registry import (
    architectures,
    describe_families,
    families,
    family_for_architecture,
    family_for_name,
    get_format,
    register,
    units,
)

DECLARED = (
    "name",
    "aliases",
    "architectures",
    "model_choices",
    "name_hints",
    "usage_notes",
    "stop_sequences",
    "turn_end_sequences",
    "special_tokens",
    "bos_token",
    "eos_token",
)
CALLED = ("segments", "render", "render_assistant", "parse", "call_grammar", "chat_template", "ollama_template")


def test_the_built_in_families_and_their_aliases() -> None:
    assert families() == ["functiongemma", "qwen3"]
    assert units() == [functiongemma, qwen3]
    assert get_format("hermes") is qwen3
    assert describe_families() == "'functiongemma' or 'qwen3'"
    assert architectures() == {"Gemma3ForCausalLM": "functiongemma", "Qwen3ForCausalLM": "qwen3"}


@pytest.mark.parametrize("unit", [functiongemma, qwen3], ids=lambda u: u.name)
def test_every_unit_declares_and_offers_everything(unit: ChatFormat) -> None:
    for attribute in DECLARED:
        assert hasattr(unit, attribute), attribute
    for function in CALLED:
        assert callable(getattr(unit, function)), function
    assert unit.chat_template().strip() and unit.ollama_template().strip()
    assert set(unit.turn_end_sequences) <= set(unit.stop_sequences)


def test_unknown_names_are_errors_that_list_the_families() -> None:
    with pytest.raises(EdgeFabricError, match="unknown chat format 'llama2'") as caught:
        get_format("llama2")
    assert "functiongemma, qwen3" in str(caught.value)
    with pytest.raises(EdgeFabricError, match="LlamaForCausalLM has no chat format") as caught:
        family_for_architecture("LlamaForCausalLM")
    assert "Qwen3ForCausalLM (qwen3)" in str(caught.value)


def test_a_name_taken_by_another_unit_is_refused_and_the_registry_is_unchanged() -> None:
    impostor = SimpleNamespace(name="impostor", aliases=("hermes",))
    with pytest.raises(EdgeFabricError, match="'hermes' is already registered"):
        register(impostor)  # type: ignore[arg-type]
    assert "impostor" not in families()
    register(qwen3)  # the same unit again: nothing changes
    assert families() == ["functiongemma", "qwen3"]


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("embedded:gemma3-270m", "functiongemma"),
        ("google/functiongemma-270m-it", "functiongemma"),
        ("Qwen/Qwen3-4B", "qwen3"),
        ("embedded:smollm2-135m", "qwen3"),
        ("/models/NousHermes.gguf", "qwen3"),
        ("/models/mystery.gguf", "functiongemma"),  # no hint: the config's default family
    ],
)
def test_a_model_name_suggests_its_family(model: str, family: str) -> None:
    assert family_for_name(model) == family
