"""A toy third family is one package plus one `register` call: training-data rendering, the exported
template, parsing and the call grammar then work with no other file changed (issue 14)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edgefabric.runtime.formats import FORMATS, get_format, register
from edgefabric.runtime.formats.templates import chat_template, render_template
from edgefabric.runtime.grammar import call_grammar
from edgefabric.schemas import Message, Sample, ToolCall, ToolSpec
from tests.formats import toyformat

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
        FORMATS.pop("toy")


@pytest.mark.usefixtures("toy")
def test_a_registered_family_trains_exports_parses_and_constrains(tiny_gemma: Path) -> None:
    from llama_cpp import LlamaGrammar
    from transformers import AutoTokenizer

    from edgefabric.pipeline.train.data import encode_samples

    fmt = get_format("toy")
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


def test_an_unknown_family_is_an_error_not_a_fallback() -> None:
    from edgefabric.errors import EdgeFabricError

    for ask in (lambda: get_format("toy"), lambda: chat_template("toy"), lambda: call_grammar("toy", [ADD])):
        with pytest.raises(EdgeFabricError, match="toy"):
            ask()
