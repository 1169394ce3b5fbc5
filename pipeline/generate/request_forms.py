"""How users ask for the built-in tools: request forms written by the tool sets' author.

Call-first generation (callfirst.py) has the teacher rewrite a plain task ("Convert a
quantity between units: 12, from km, to mi") as a user's message. The embedded 135M
teacher keeps the values in about half of its rewrites; without these forms the rest
fell back to the plain task itself, and a student trained on it learned one robotic
phrasing ("Evaluate an arithmetic expression: 45 * 61") that no real user writes. A
tool's author knows how its users ask for it, so the built-in sets carry a few forms
per tool, written by hand (no library or teacher writes them offline): each is a
message with the call's parameters as `{name}` placeholders, filled with the drawn
values in a user's spelling (surface.spoken). Grounding checks every filled form like
any other request.

A form is used only when its placeholders are exactly the call's arguments (less the one
a multi-step sample feeds from an earlier result, for which `FOLLOW_FORMS` refer to "it"
or "that"), so a user's own tool that shares a name but not the parameters never
matches one. Tools without forms (MCP servers, user tools) use the teacher's rewrites
and the plain task, as before.
"""

from __future__ import annotations

import random
import re
from datetime import date
from typing import Any

from edgefabric.pipeline.generate.grounding import enum_aliases, tool_texts
from edgefabric.pipeline.generate.surface import spoken
from edgefabric.pipeline.generate.values import concrete
from edgefabric.schemas import ToolCall, ToolSpec

FORMS: dict[str, tuple[str, ...]] = {
    # math
    "calculate": (
        "what's {expression}?",
        "can you work out {expression} for me",
        "quick one: {expression}",
        "how much is {expression}?",
        "calculate {expression}",
        "I need the result of {expression}",
        "what do you get for {expression}?",
        "help me figure out {expression} please",
        "solve {expression}",
        "what does {expression} come to?",
        "compute {expression}, thanks",
        "could you tell me what {expression} is?",
    ),
    "convert_units": (
        "how many {to_unit} is {value} {from_unit}?",
        "convert {value} {from_unit} to {to_unit}",
        "what's {value} {from_unit} in {to_unit}?",
        "{value} {from_unit} to {to_unit} please",
        "can you change {value} {from_unit} into {to_unit}",
        "I have {value} {from_unit}, how much is that in {to_unit}?",
        "express {value} {from_unit} in {to_unit}",
        "how much is {value} {from_unit} in {to_unit}?",
        "what is {value} {from_unit} when converted to {to_unit}?",
    ),
    # mobile
    "set_alarm": (
        "wake me up at {time}",
        "set an alarm for {time}",
        "alarm at {time} please",
        "can you set an alarm for {time}?",
        "I need an alarm at {time}",
        "set an alarm for {time} called {label}",
        "alarm at {time} labelled {label}",
        "set an alarm at {time} for {label}",
        "set an alarm for {time} every {days}",
        "wake me at {time} on {days}",
        "I need a {time} alarm on {days}",
        "set a {label} alarm for {time} on {days}",
        "alarm at {time} on {days}, label it {label}",
    ),
    "create_calendar_event": (
        "add {title} to my calendar on {date} at {start_time}",
        "schedule {title} for {date} at {start_time}",
        "put {title} in the calendar, {date} at {start_time}",
        "I have {title} on {date} at {start_time}, add it to my calendar",
        "schedule {title} on {date} at {start_time} for {duration_minutes} minutes",
        "add {title} on {date} from {start_time}, {duration_minutes} minutes long",
        "add {title} at {location} on {date}, {start_time}",
        "schedule {title} at {location} for {date} at {start_time}",
        "book {title} at {location} on {date} from {start_time} for {duration_minutes} minutes",
    ),
    "send_message": (
        "text {recipient}: {body}",
        "send {recipient} a message saying {body}",
        "message {recipient} that {body}",
        "can you text {recipient} {body}",
        "shoot {recipient} a text: {body}",
        "tell {recipient} by text: {body}",
    ),
    "toggle_setting": (
        "turn {setting} {enabled}",
        "switch {setting} {enabled} please",
        "can you turn {enabled} {setting}",
        "{setting} {enabled}",
        "toggle {setting}",
        "flip {setting} for me",
        "switch {setting}",
    ),
    "open_app": (
        "open {name}",
        "launch the {name} app",
        "can you open {name} for me",
        "start {name}",
        "bring up {name}",
    ),
    "search_contacts": (
        "find {query} in my contacts",
        "look up {query}",
        "search my contacts for {query}",
        "who do I have saved as {query}?",
        "do I have a contact called {query}?",
    ),
    # scene
    "create_object": (
        "add a {type}",
        "create a {type}",
        "put a {type} in the scene",
        "add a {type} called {name}",
        "create a {type} named {name}",
        "add a {type} at {location}",
        "put a {type} at {location}",
        "create a {type} named {name} at {location}",
    ),
    "delete_object": ("delete {name}", "remove {name} from the scene", "get rid of {name}"),
    "move_object": ("move {name} to {location}", "put {name} at {location}", "place {name} at {location}"),
    "scale_object": ("scale {name} by {scale}", "resize {name} to {scale}", "set the scale of {name} to {scale}"),
    "rotate_object": (
        "rotate {name} by {rotation}",
        "turn {name} {rotation} degrees",
        "set {name}'s rotation to {rotation}",
    ),
    "add_modifier": (
        "add a {type} modifier to {object}",
        "give {object} a {type} modifier",
        "put a {type} on {object}",
    ),
    "apply_modifier": ("apply the {modifier} modifier on {object}", "apply {modifier} to {object}"),
    "set_material": (
        "make {object} {color}",
        "color {object} {color}",
        "set {object}'s material to {color}",
        "make {object} {color} with metallic {metallic}",
        "make {object} {color} with roughness {roughness}",
        "give {object} a {color} material, metallic {metallic} and roughness {roughness}",
    ),
    "list_objects": ("what's in the scene?", "list all the objects", "show me every object in the scene"),
    "get_object_info": ("tell me about {name}", "show the details of {name}", "what do we know about {name}?"),
    "render_stats": ("how many vertices and faces does the scene have?", "give me the render stats"),
}

# The second call of a multi-step sample, its fed parameter left out: it comes from the first result.
FOLLOW_FORMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("convert_units", "value"): (
        "then convert that from {from_unit} to {to_unit}",
        "and turn the result from {from_unit} into {to_unit}",
        "then tell me what that is in {to_unit}, taking it as {from_unit}",
    ),
    ("send_message", "recipient"): ("then text them: {body}", "and send them a message saying {body}"),
    ("move_object", "name"): ("then move it to {location}", "and put it at {location}"),
    ("scale_object", "name"): ("then scale it by {scale}",),
    ("rotate_object", "name"): ("then rotate it by {rotation}",),
    ("set_material", "object"): ("then make it {color}",),
    ("add_modifier", "object"): ("then add a {type} modifier to it",),
    ("delete_object", "name"): ("then delete it",),
    ("get_object_info", "name"): ("then show me its details",),
}

# Near misses: messages about a tool's domain that no tool of its set can serve (an explanation, an
# opinion, advice, an action the set lacks). The hard irrelevance case: a student that has only seen
# small talk without calls still calls a tool for these.
NEAR_MISSES: dict[str, tuple[str, ...]] = {
    "calculate": (
        "can you explain how long division works?",
        "why can't you divide by zero?",
        "what's the difference between mean and median?",
        "is it worth learning mental math tricks?",
        "who came up with the number zero?",
        "any tips for helping my kid with fractions?",
    ),
    "convert_units": (
        "why does the US still use miles?",
        "which is more accurate for baking, cups or a scale?",
        "how did the metre get defined in the first place?",
        "is it normal to think in both celsius and fahrenheit?",
        "what's a good app for learning the metric system?",
    ),
    "set_alarm": (
        "what's a healthy time to wake up?",
        "how can I stop hitting snooze every morning?",
        "is it bad to sleep with my phone next to the bed?",
    ),
    "create_calendar_event": (
        "how do people keep a calendar without getting overwhelmed?",
        "is it better to plan the week on sunday or monday?",
        "what should I bring to a job interview?",
    ),
    "send_message": (
        "how do I write a polite apology to a friend?",
        "is it rude to text someone late at night?",
        "what's a nice way to say happy birthday to a coworker?",
    ),
    "toggle_setting": (
        "does bluetooth drain my battery a lot?",
        "is public wifi safe to use?",
        "why does my phone get hot when charging?",
    ),
    "open_app": (
        "which maps app is the best for hiking?",
        "what apps do you recommend for learning spanish?",
        "how do I free up space on my phone?",
    ),
    "search_contacts": ("how many friends does the average person have?", "should I delete old contacts?"),
    "create_object": (
        "what's the difference between a mesh and a curve?",
        "any tips for learning 3D modelling?",
        "which is better for beginners, Blender or Maya?",
    ),
    "add_modifier": ("what is a subdivision surface used for?", "why does my bevel look weird on curved edges?"),
    "set_material": ("what makes a material look realistic?", "how do PBR materials work?"),
    "render_stats": ("how can I make my renders faster?", "what's a good poly count for a game character?"),
}

# How users name convert_units' units (the tool's own alias table reads each back; grounding checks them).
UNIT_NAMES: dict[str, tuple[str, ...]] = {
    "mm": ("millimeters", "millimetres"),
    "cm": ("centimeters", "centimetres"),
    "m": ("meters", "metres"),
    "km": ("kilometers", "kilometres"),
    "in": ("inches",),
    "ft": ("feet",),
    "yd": ("yards",),
    "mi": ("miles",),
    "g": ("grams",),
    "kg": ("kilograms",),
    "oz": ("ounces",),
    "lb": ("pounds", "lbs"),
    "ml": ("milliliters", "millilitres"),
    "l": ("liters", "litres"),
    "gal": ("gallons",),
    "cup": ("cups",),
    "s": ("seconds",),
    "min": ("minutes",),
    "h": ("hours",),
    "day": ("days",),
    "week": ("weeks",),
    "C": ("celsius", "degrees celsius"),
    "F": ("fahrenheit", "degrees fahrenheit"),
}
_JOINERS = ("{a} and {b}", "{a}, and also {b}", "{a}. Also {b}", "{a}; {b}")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def placeholders(form: str) -> set[str]:
    """The parameter names a form asks for: "convert {value} {from_unit}" -> {"value", "from_unit"}."""
    return set(_PLACEHOLDER.findall(form))


def _spoken_member(word: str, descriptions: str, rng: random.Random) -> str:
    """An enum member as a user writes it: its alias from the description ("dnd (do not disturb)"), a
    weekday's full name for its abbreviation, or the member itself."""
    aliases = enum_aliases(word, descriptions)
    if aliases and rng.random() < 0.5:
        return aliases[0]
    full = next((day for day in _WEEKDAYS if len(word) >= 3 and day.startswith(word.lower())), None)
    if full and rng.random() < 0.7:
        return full
    return word


def _fill(form: str, call: ToolCall, spec: ToolSpec | None, rng: random.Random, today: date) -> str:
    properties, descriptions = tool_texts(spec)

    def value_text(name: str) -> str:
        value: Any = call.arguments[name]
        schema = concrete(properties.get(name))
        enum = schema.get("enum") or (schema.get("items") or {}).get("enum")
        if enum and isinstance(value, str):
            return _spoken_member(value, descriptions, rng)
        if name.endswith("unit") and isinstance(value, str) and value in UNIT_NAMES and rng.random() < 0.6:
            return rng.choice(UNIT_NAMES[value])
        if enum and isinstance(value, list):
            words = [_spoken_member(str(v), descriptions, rng) for v in value]
            return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
        return spoken(value, rng, today)

    return _PLACEHOLDER.sub(lambda match: value_text(match.group(1)), form)


def _one(call: ToolCall, spec: ToolSpec | None, fed: str, rng: random.Random, today: date) -> str | None:
    keys = set(call.arguments)
    if fed:
        keys.discard(fed)
        forms = FOLLOW_FORMS.get((call.name, fed), ())
    else:
        forms = FORMS.get(call.name, ())
    fitting = [form for form in forms if placeholders(form) == keys]
    return _fill(rng.choice(fitting), call, spec, rng, today) if fitting else None


def authored_request(
    calls: list[tuple[ToolCall, str]], tools: list[ToolSpec], rng: random.Random, today: date
) -> str | None:
    """A user's message for `calls` from the author's forms, or None when a call has no fitting form.

    `calls`: each call with the parameter fed from an earlier result ("" for none). One call gives
    its form; two independent calls are joined ("... and ..."); a fed second call follows the
    first ("..., then ..."). The first letter is capitalised half the time.
    """
    specs = {tool.name: tool for tool in tools}
    parts = []
    for call, fed in calls:
        part = _one(call, specs.get(call.name), fed, rng, today)
        if part is None:
            return None
        parts.append(part)
    if not parts or len(parts) > 2:
        return None
    if len(parts) == 1:
        text = parts[0]
    elif calls[1][1]:
        text = f"{parts[0].rstrip('?.')}, {parts[1]}"
    else:
        text = rng.choice(_JOINERS).format(a=parts[0].rstrip("?."), b=parts[1])
    return text[0].upper() + text[1:] if rng.random() < 0.5 else text


def near_miss(tools: list[ToolSpec], rng: random.Random) -> str | None:
    """A near miss on the domain of one of `tools` (NEAR_MISSES), or None when none of them has any."""
    options = [text for tool in tools for text in NEAR_MISSES.get(tool.name, ())]
    return rng.choice(options) if options else None
