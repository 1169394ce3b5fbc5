"""A toy third family is one package plus one `register` call: training-data rendering, the exported
template, parsing, the call grammar, export (architecture, embedded template, Ollama Modelfile, model
card), the config's validation, the backends' guess and the TUI's model choices then work with no other
file changed (issue 14). The package is tests/formats/toyformat; nothing under core, tui, pipeline,
export or runtime names it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.formats.registry import families, get_format, register, unregister
from edgefabric.runtime.formats.templates import chat_template, render_template
from edgefabric.runtime.grammar import call_grammar
from edgefabric.schemas import Message, Sample, ToolCall, ToolSpec
from tests.formats import toyformat

ROOT = Path(__file__).resolve().parents[2]
ADD = ToolSpec(
    name="add",
    parameters={"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}},
)
SAMPLE = Sample(
    messages=[
        Message(role="user", content="2 + 9?"),
        Message(role="assistant", tool_calls=[ToolCall(name="add", arguments={"a": 2, "b": 9})]),
        Message(role="tool", name="add", content="11"),
        Message(role="assistant", content="11."),
    ],
    tools=[ADD],
)


@pytest.fixture
def toy() -> Iterator[None]:
    register(toyformat)
    try:
        yield
    finally:
        unregister("toy")


def test_no_source_file_names_the_toy_family() -> None:
    """ "No other file changed": the stages know the toy only through the registry."""
    for folder in ("core", "tui", "pipeline", "export", "runtime"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".jinja", ".tmpl", ".yaml", ".json"):
                text = path.read_text(encoding="utf-8")
                assert "toyformat" not in text and "ToyForCausalLM" not in text, path


@pytest.mark.usefixtures("toy")
def test_a_registered_family_trains_exports_parses_and_constrains(tiny_gemma: Path) -> None:
    from llama_cpp import LlamaGrammar
    from transformers import AutoTokenizer

    from edgefabric.pipeline.train.data import encode_samples

    fmt = get_format("toy")
    assert get_format("toy-chat") is fmt and "toy" in families()
    split = encode_samples([SAMPLE], fmt, AutoTokenizer.from_pretrained(tiny_gemma))
    assert len(split.rows) == 1 and split.rows[0].trainable_tokens > 0
    for agp, messages in ((False, SAMPLE.messages), (True, SAMPLE.messages[:1])):
        rendered = render_template(
            chat_template("toy"), messages, SAMPLE.tools, family="toy", add_generation_prompt=agp
        )
        assert rendered == fmt.render(messages, SAMPLE.tools, add_generation_prompt=agp)
    calls, text = fmt.parse(fmt.render_assistant(SAMPLE.messages[1]) + "<end>")
    assert [(c.name, c.arguments) for c in calls] == [("add", {"a": 2, "b": 9})] and text == ""
    assert LlamaGrammar.from_string(call_grammar("toy", [ADD]), verbose=False) is not None


def _toy_model_folder(folder: Path) -> Path:
    """An HF-shaped folder of the toy architecture: config, an empty safetensors file, a tokenizer."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"architectures": ["ToyForCausalLM"], "num_hidden_layers": 1}))
    header = b"{}"
    (folder / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    (folder / "tokenizer.json").write_text("{}")
    return folder


@pytest.mark.usefixtures("toy")
def test_export_takes_the_toy_architecture_template_modelfile_and_card(tmp_path: Path) -> None:
    from edgefabric.export.bundle import modelfile, write_bundle_metadata
    from edgefabric.export.source import inspect_source, prepare_source

    source = inspect_source(_toy_model_folder(tmp_path / "toy-model"))
    assert (source.architecture, source.family) == ("ToyForCausalLM", "toy")
    assert inspect_source(source.folder, "toy-chat").family == "toy"  # an alias, stored by its name
    staging = prepare_source(source, tmp_path / "staging", chat_template(source.family))
    embedded = json.loads((staging / "tokenizer_config.json").read_text(encoding="utf-8"))["chat_template"]
    assert embedded == toyformat.chat_template()
    text = modelfile("model-q8_0.gguf", "toy")
    assert f'TEMPLATE """{toyformat.ollama_template()}"""' in text and 'PARAMETER stop "<end>"' in text
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    manifest = write_bundle_metadata(
        bundle, source, source_spec=str(source.folder), training_run=None, exports=[], parity=None
    )
    assert manifest["format"] == "toy"
    assert toyformat.usage_notes[0] in (bundle / "README.md").read_text(encoding="utf-8")


@pytest.mark.usefixtures("toy")
def test_config_backends_and_the_tui_offer_the_toy() -> None:
    from edgefabric.config import ModelConfig
    from edgefabric.runtime.backends import guess_family
    from edgefabric.tui.project import targets

    assert ModelConfig(family="toy", base="toy/toy-1m").family == "toy"
    assert guess_family("/models/my-toylm-q8_0.gguf") == "toy"
    assert ("toy-1m", "Toy 1M", "toy", "toy/toy-1m") in [(t.key, t.label, t.family, t.base) for t in targets()]


def test_an_unknown_family_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from edgefabric.config import ModelConfig
    from edgefabric.export.bundle import modelfile
    from edgefabric.export.source import inspect_source

    for ask in (
        lambda: get_format("toy"),
        lambda: chat_template("toy"),
        lambda: call_grammar("toy", [ADD]),
        lambda: modelfile("model.gguf", "toy"),
    ):
        with pytest.raises(EdgeFabricError, match="toy") as caught:
            ask()
        assert "functiongemma" in str(caught.value)  # the error names the known families
    with pytest.raises(ValidationError, match="allowed: 'functiongemma' or 'qwen3'"):
        ModelConfig(family="toy")
    with pytest.raises(EdgeFabricError, match="ToyForCausalLM is not supported") as caught:
        inspect_source(_toy_model_folder(tmp_path / "toy-model"))
    assert "Gemma3ForCausalLM (functiongemma fine-tunes)" in str(caught.value)
