"""The fixed probe sets of the parity check.

Two kinds, both rendered with the family's own `runtime.formats` unit so they are the
text the model was trained on and will see at run time:

- `call_probes`: prompts the model continues greedily, to compare the tool calls each
  export makes with the source model's (a check that needs a model that calls).
- `forced_probes`: whole texts every backend is teacher-forced along, to compare
  next-token distributions position by position: conversations with tool
  declarations, calls (single and parallel), results and answers, a multi-turn
  history, and plain prose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edgefabric.runtime.formats.registry import get_format
from edgefabric.schemas import Message, ToolCall, ToolSpec

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"],
    },
)
CONVERT = ToolSpec(
    name="convert_currency",
    description="Convert an amount between currencies.",
    parameters={
        "type": "object",
        "properties": {"amount": {"type": "number"}, "source": {"type": "string"}, "target": {"type": "string"}},
        "required": ["amount", "source", "target"],
    },
)
PROBE_TOOLS = [WEATHER, CONVERT]

# Plain prose, written for this probe set (no external corpus is needed offline).
PROSE = (
    "The harbour wakes before the town does. By five in the morning the first boats are already "
    "sliding past the breakwater, their engines low and steady, and the gulls follow them out in "
    "loose, complaining circles. On the quay, a woman in a yellow coat checks a list against the "
    "crates stacked by the ice house: forty kilos of mackerel, twelve of squid, a few boxes of crab "
    "that will go to the restaurants on the hill. Her figures are written in pencil because ink "
    "runs in the spray. When the sun clears the cliffs, the water turns from grey to green, and the "
    "cafe on the corner props its door open. Most of the people who come in know each other; they "
    "talk about the wind, the price of diesel, and whether the new ferry timetable will last the "
    "winter. Nobody is in a hurry. At ten the market opens, at noon it is loud, and by three the "
    "stalls are hosed down and the square smells of salt and wet stone again."
)


@dataclass(frozen=True)
class Probe:
    """A rendered prompt, plus text the continuation is appended to before parsing."""

    name: str
    prompt: str
    prefill: str = ""


@dataclass(frozen=True)
class ForcedProbe:
    """A whole text every backend is teacher-forced along (the same token ids for all)."""

    name: str
    text: str


def call_probes(family: str) -> list[Probe]:
    """Greedy probes: plain chat, tool prompts, a call cut short (prefilled), after a tool result."""
    fmt = get_format(family)

    def render(messages: list[Message], tools: Sequence[ToolSpec] = PROBE_TOOLS) -> str:
        return fmt.render(messages, tools, add_generation_prompt=True)

    user = [Message(role="user", content="What's the weather in Paris right now?")]
    convert = [Message(role="user", content="How many euros is 120 US dollars?")]
    after_result = [
        *user,
        Message(role="assistant", tool_calls=[ToolCall(name="get_weather", arguments={"city": "Paris"})]),
        Message(role="tool", name="get_weather", content='{"temp_c": 18, "sky": "cloudy"}'),
    ]
    call = fmt.render_assistant(
        Message(role="assistant", tool_calls=[ToolCall(name="get_weather", arguments={"city": "Paris"})])
    )
    # Cut inside the argument value, so the model must finish the call itself.
    cut = call[: call.index("Paris")]
    convert_call = fmt.render_assistant(
        Message(
            role="assistant",
            tool_calls=[ToolCall(name="convert_currency", arguments={"amount": 120, "source": "USD", "target": "EUR"})],
        )
    )
    return [
        Probe("chat", render([Message(role="user", content="Write one sentence about the sea.")], [])),
        Probe("tool_weather", render(user)),
        Probe("tool_convert", render(convert)),
        Probe("call_prefill_weather", render(user) + cut, prefill=cut),
        Probe(
            "call_prefill_convert",
            render(convert) + convert_call[: convert_call.index("120")],
            prefill=convert_call[: convert_call.index("120")],
        ),
        Probe("after_result", render(after_result)),
    ]


def _conversations() -> dict[str, list[Message]]:
    weather = ToolCall(name="get_weather", arguments={"city": "Lisbon", "unit": "celsius"})
    euros = ToolCall(name="convert_currency", arguments={"amount": 250, "source": "GBP", "target": "EUR"})
    yen = ToolCall(name="convert_currency", arguments={"amount": 40, "source": "USD", "target": "JPY"})
    oslo = ToolCall(name="get_weather", arguments={"city": "Oslo"})
    return {
        "single_call": [
            Message(role="user", content="Is it warm in Lisbon today? Give me celsius please."),
            Message(role="assistant", tool_calls=[weather]),
            Message(role="tool", name="get_weather", content='{"temp_c": 24, "sky": "sunny"}'),
            Message(role="assistant", content="Yes: it is 24 °C and sunny in Lisbon right now."),
        ],
        "parallel_calls": [
            Message(role="user", content="Convert 250 pounds to euros, and 40 dollars to yen."),
            Message(role="assistant", tool_calls=[euros, yen]),
            Message(role="tool", name="convert_currency", content='{"amount": 291.5, "currency": "EUR"}'),
            Message(role="tool", name="convert_currency", content='{"amount": 5964, "currency": "JPY"}'),
            Message(role="assistant", content="250 GBP is about 291.50 EUR, and 40 USD is about 5,964 JPY."),
        ],
        "no_call": [
            Message(role="user", content="Thanks! Can you tell me a fun fact about octopuses?"),
            Message(
                role="assistant",
                content="An octopus has three hearts: two pump blood through the gills, one through the body.",
            ),
        ],
        "multi_turn": [
            Message(role="user", content="What's the weather like in Oslo?"),
            Message(role="assistant", tool_calls=[oslo]),
            Message(role="tool", name="get_weather", content='{"temp_c": -3, "sky": "snow"}'),
            Message(role="assistant", content="It is snowing in Oslo, at -3 °C."),
            Message(role="user", content="And how much is 100 euros in Norwegian krone?"),
            Message(
                role="assistant",
                tool_calls=[
                    ToolCall(name="convert_currency", arguments={"amount": 100, "source": "EUR", "target": "NOK"})
                ],
            ),
            Message(role="tool", name="convert_currency", content='{"amount": 1172.4, "currency": "NOK"}'),
            Message(role="assistant", content="100 EUR is about 1,172 NOK."),
        ],
    }


def forced_probes(family: str, bos: str = "") -> list[ForcedProbe]:
    """Teacher-forced probes: four rendered conversations (with tools) and a paragraph of prose.

    `bos` is prefixed to the prose (the rendered conversations carry their own, where
    the format has one), so every text starts the way the model was trained.
    """
    fmt = get_format(family)
    probes = [ForcedProbe(name, fmt.render(messages, PROBE_TOOLS)) for name, messages in _conversations().items()]
    return [*probes, ForcedProbe("prose", bos + PROSE)]
