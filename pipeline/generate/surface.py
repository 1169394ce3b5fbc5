"""How a user writes a value: "7:30 pm" for "19:30", "March 14" for "2026-03-14", "seven" for 7.

Call-first generation writes each drawn value in one of these spellings into the plain
task the teacher rewrites, so the student sees the many ways one value is written. A
placeholder ({A}, {B}, ...) marks where each value stands, so a rewrite that keeps the
values can be turned back into a reusable form (callfirst.form_of). Every spelling
here is one that grounding (grounding.py) reads back to the same value, and grounding
checks the result anyway (a property test holds it to that).
"""

from __future__ import annotations

import random
import re
from datetime import date
from typing import Any

SLOT_NAMES = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _clock(text: str, rng: random.Random) -> str:
    hour, minute = (int(part) for part in text.split(":"))
    h12 = hour % 12 or 12
    half = "am" if hour < 12 else "pm"
    forms = [f"{hour:02d}:{minute:02d}", f"{h12}:{minute:02d} {half}", f"{h12}:{minute:02d}{half}"]
    if minute == 0:
        forms += [f"{h12} {half}", f"{h12}{half}"]
    if minute == 30 and 0 < hour < 12:
        forms.append(f"half past {h12}")
    if hour >= 13:
        forms.append(f"{hour}:{minute:02d}")
    return rng.choice(forms)


def _day(text: str, rng: random.Random, today: date) -> str:
    when = date.fromisoformat(text)
    month = _MONTHS[when.month - 1]
    forms = [
        f"{month} {when.day}, {when.year}",
        f"{when.day} {month} {when.year}",
        when.isoformat(),
        f"{month[:3]} {when.day} {when.year}",
    ]
    if when.year == today.year and when > today:
        forms += [f"{month} {when.day}", f"{when.day} {month}"]
    return rng.choice(forms)


def spoken(value: Any, rng: random.Random, today: date | None = None) -> str:
    """One way a user would write `value` in a message."""
    today = today or date.today()
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int) and 0 <= value <= 100 and rng.random() < 0.3:
        from num2words import num2words

        return str(num2words(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        parts = [spoken(v, rng, today) for v in value]
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    text = str(value)
    if re.fullmatch(r"\d{1,2}:\d{2}", text):
        return _clock(text, rng)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return _day(text, rng, today)
        except ValueError:
            return text
    if _ARITHMETIC.fullmatch(text) and rng.random() < 0.5:
        return _expression_in_words(text)
    if " " in text and rng.random() < 0.2:
        return f'"{text}"'
    return text


_ARITHMETIC = re.compile(r"[\d\s()+\-*/.^]+|sqrt\(\d+\)|\d+ \*\* \d+")
_OPERATOR_WORDS = (
    (" ** ", " to the power of "),
    (" * ", " times "),
    (" / ", " divided by "),
    (" + ", " plus "),
    (" - ", " minus "),
)


def _expression_in_words(text: str) -> str:
    """ "12 * 7" -> "12 times 7", "sqrt(144)" -> "the square root of 144" (literals stay digits)."""
    square_root = re.fullmatch(r"sqrt\((\d+)\)", text)
    if square_root:
        return f"the square root of {square_root.group(1)}"
    share = re.fullmatch(r"0\.(\d+) \* (\d+)", text)
    if share:
        return f"{round(float('0.' + share.group(1)) * 100):g}% of {share.group(2)}"
    if "(" in text:
        return text  # words lose the grouping
    for symbol, words in _OPERATOR_WORDS:
        text = text.replace(symbol, words)
    return text


def fill_slots(template: str, slots: dict[str, str]) -> str | None:
    """`template` with each {X} replaced by `slots[X]`; None when a slot is missing or repeated."""
    for name in slots:
        if template.count(f"{{{name}}}") != 1:
            return None
    if re.search(r"\{[A-Z]\}", re.sub("|".join(re.escape(f"{{{n}}}") for n in slots) or "$^", "", template)):
        return None  # a placeholder the task never had
    for name, text in slots.items():
        template = template.replace(f"{{{name}}}", text)
    return template
