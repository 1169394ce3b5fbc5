"""Hypothesis strategies for tool calls: any JSON arguments, with the formats' own markup mixed in."""

from __future__ import annotations

from hypothesis import strategies as st

from edgefabric.schemas import Message, ToolCall

MARKUP = [
    "<escape>",
    "<\\escape>",
    "<\\\\escape>",
    "<start_function_call>",
    "<end_function_call>",
    "<start_function_response>",
    "<tool_call>",
    "</tool_call>",
    "<|im_end|>",
    "{",
    "}",
    ",",
    ":",
    '"',
    "'",
    "\\",
    "\n",
    "null",
    "true",
]

tricky_text = st.one_of(
    st.text(),
    st.lists(st.one_of(st.text(max_size=5), st.sampled_from(MARKUP)), max_size=8).map("".join),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    tricky_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(tricky_text, children, max_size=4),
    ),
    max_leaves=12,
)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,30}", fullmatch=True)
tool_calls = st.builds(ToolCall, name=names, arguments=st.dictionaries(tricky_text, json_values, max_size=5))
# Text beside calls must not itself hold a format's control tags; anything else goes.
CONTROL_TAGS = (
    "<start_function_call>",
    "<end_function_call>",
    "<start_function_response>",
    "<end_of_turn>",
    "<eos>",
    "<tool_call>",
    "</tool_call>",
    "<think>",
    "</think>",
    "<|im_end|>",
    "<|endoftext|>",
)
plain_text = st.one_of(st.text(), st.lists(st.sampled_from([*MARKUP, "ok ", " "]), max_size=6).map("".join)).filter(
    lambda t: not any(tag in t for tag in CONTROL_TAGS)
)
assistant_messages = st.builds(
    lambda content, calls: Message(role="assistant", content=content or None, tool_calls=calls),
    plain_text,
    st.lists(tool_calls, min_size=1, max_size=4),
)
