"""FunctionGemma: golden strings checked by hand against the published format, and loss masking."""

from __future__ import annotations

from edgefabric.runtime.formats import functiongemma as fg
from edgefabric.schemas import Message, ToolCall, ToolSpec

WEATHER = ToolSpec(
    name="get_weather",
    description="Get current weather for a location",
    parameters={
        "type": "object",
        "properties": {"location": {"type": "string", "description": "City name"}},
        "required": ["location"],
    },
)
DECLARATION = (
    "<start_function_declaration>declaration:get_weather{description:<escape>Get current weather for a location"
    "<escape>,parameters:{properties:{location:{description:<escape>City name<escape>,type:<escape>STRING"
    "<escape>}},required:[<escape>location<escape>],type:<escape>OBJECT<escape>}}<end_function_declaration>"
)
PROMPT = (
    "<bos><start_of_turn>developer\nYou are a model that can do function calling with the following functions"
    + DECLARATION
    + "<end_of_turn>\n<start_of_turn>user\nWhat's the weather in Paris?<end_of_turn>\n<start_of_turn>model\n"
)


def conversation() -> list[Message]:
    return [
        Message(role="user", content="What's the weather in Paris?"),
        Message(role="assistant", tool_calls=[ToolCall(name="get_weather", arguments={"location": "Paris"})]),
        Message(role="tool", name="get_weather", content='{"temperature": 15, "weather": "sunny"}'),
        Message(role="assistant", content="It is sunny and 15 °C in Paris."),
    ]


def test_prompt_with_tools_matches_the_published_layout() -> None:
    assert fg.render(conversation()[:1], [WEATHER], add_generation_prompt=True) == PROMPT


def test_call_result_and_answer_share_one_model_turn() -> None:
    expected = (
        PROMPT
        + "<start_function_call>call:get_weather{location:<escape>Paris<escape>}<end_function_call>"
        + '<start_function_response>response:get_weather{value:<escape>{"temperature": 15, "weather": "sunny"}<escape>}'
        + "<end_function_response>It is sunny and 15 °C in Paris.<end_of_turn>\n"
    )
    assert fg.render(conversation(), [WEATHER]) == expected


def test_after_a_result_the_generation_prompt_leaves_the_model_turn_open() -> None:
    text = fg.render(conversation()[:3], [WEATHER], add_generation_prompt=True)
    assert text.endswith("<end_function_response>")


def test_system_message_replaces_the_default_developer_text() -> None:
    messages = [Message(role="system", content="Be brief."), Message(role="user", content="hi")]
    text = fg.render(messages, [])
    assert text == "<bos><start_of_turn>developer\nBe brief.<end_of_turn>\n<start_of_turn>user\nhi<end_of_turn>\n"


def test_parallel_calls_nested_values_and_schema_details() -> None:
    tool = ToolSpec(
        name="book",
        description="Book a table",
        parameters={
            "type": "object",
            "title": "Book",
            "properties": {
                "size": {"type": "integer", "minimum": 1, "title": "Size"},
                "when": {"type": "string", "enum": ["lunch", "dinner"]},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["size"],
        },
    )
    assert fg.render_declaration(tool) == (
        "<start_function_declaration>declaration:book{description:<escape>Book a table<escape>,"
        "parameters:{properties:{size:{minimum:1,type:<escape>INTEGER<escape>},"
        "tags:{items:{type:<escape>STRING<escape>},type:<escape>ARRAY<escape>},"
        "when:{enum:[<escape>lunch<escape>,<escape>dinner<escape>],type:<escape>STRING<escape>}},"
        "required:[<escape>size<escape>],type:<escape>OBJECT<escape>}}<end_function_declaration>"
    )
    message = Message(
        role="assistant",
        tool_calls=[
            ToolCall(name="book", arguments={"size": 2, "when": "dinner", "tags": ["quiet", "window"]}),
            ToolCall(name="book", arguments={"size": 4.5, "vip": True, "note": None, "meta": {"a b": "x"}}),
        ],
    )
    assert fg.render_assistant(message) == (
        "<start_function_call>call:book{size:2,when:<escape>dinner<escape>,"
        "tags:[<escape>quiet<escape>,<escape>window<escape>]}<end_function_call>"
        "<start_function_call>call:book{size:4.5,vip:true,note:null,meta:{<escape>a b<escape>:"
        "<escape>x<escape>}}<end_function_call>"
    )


def test_a_literal_escape_token_inside_a_string_is_written_reversibly() -> None:
    call = ToolCall(name="echo", arguments={"text": "a<escape>b<\\escape>c"})
    rendered = fg.render_call(call)
    assert rendered == (
        "<start_function_call>call:echo{text:<escape>a<\\escape>b<\\\\escape>c<escape>}<end_function_call>"
    )
    assert fg.parse(rendered).tool_calls[0].arguments == call.arguments


def test_tool_results_are_written_as_their_text() -> None:
    """Issue 14, item 1: a JSON result is not decoded, so clients' string results give the training text."""
    assert fg.render_response("f", "plain text") == (
        "<start_function_response>response:f{value:<escape>plain text<escape>}<end_function_response>"
    )
    assert fg.render_response("f", '{"result": 3.1}') == (
        '<start_function_response>response:f{value:<escape>{"result": 3.1}<escape>}<end_function_response>'
    )
    assert fg.render_response("f", "a <escape> b") == (
        "<start_function_response>response:f{value:<escape>a <\\escape> b<escape>}<end_function_response>"
    )


def test_declarations_inline_refs_and_quote_odd_property_names() -> None:
    """Issue 14, item 6: `$defs`/`$ref` are inlined in the format's own style, not printed raw."""
    tool = ToolSpec(
        name="page",
        parameters={
            "type": "object",
            "$defs": {"Size": {"type": "integer", "title": "Size"}},
            "properties": {"page size": {"$ref": "#/$defs/Size"}, "sort": {"type": "string", "nullable": True}},
            "required": ["page size"],
        },
    )
    assert fg.render_declaration(tool) == (
        "<start_function_declaration>declaration:page{parameters:{properties:{<escape>page size<escape>:"
        "{type:<escape>INTEGER<escape>},sort:{type:[<escape>STRING<escape>,<escape>NULL<escape>]}},"
        "required:[<escape>page size<escape>],type:<escape>OBJECT<escape>}}<end_function_declaration>"
    )


def test_parse_reads_model_output_with_stop_sequence_and_spaces() -> None:
    output = (
        "Let me check. <start_function_call>call:get_weather{ location: <escape>Paris<escape> }"
        "<end_function_call><start_function_response>"
    )
    result = fg.parse(output)
    assert result.ok
    assert result.tool_calls[0].name == "get_weather"
    assert result.tool_calls[0].arguments == {"location": "Paris"}
    assert result.text == "Let me check."


def test_malformed_calls_are_errors_and_later_calls_still_parse() -> None:
    output = (
        "<start_function_call>call:get_weather{location:Paris}<end_function_call>"
        "<start_function_call>call:get_weather{location:<escape>Rome<escape>}<end_function_call>"
        "<start_function_call>call:get_weather{location:<escape>Oslo"
    )
    result = fg.parse(output)
    assert [c.arguments["location"] for c in result.tool_calls] == ["Rome"]
    assert len(result.errors) == 2
    assert "strings need <escape>" in result.errors[0].message
    assert "not closed" in result.errors[1].message


def test_only_model_written_text_is_trainable() -> None:
    pieces = fg.segments(conversation(), [WEATHER])
    trained = "".join(p.text for p in pieces if p.trainable)
    assert trained == (
        "<start_function_call>call:get_weather{location:<escape>Paris<escape>}<end_function_call>"
        "<start_function_response>"
        "It is sunny and 15 °C in Paris.<end_of_turn>"
    )
    context = "".join(p.text for p in pieces if not p.trainable)
    assert '"temperature": 15' in context and "declaration:get_weather" in context
