"""Grounding: every argument value of every call must follow from something the model can see.

A call is only a right answer to a request when each of its values is supported by
one of these, tried in this order (the first that holds is recorded):

- ``schema``: the value is the parameter's ``const`` or ``default``, or an ``enum``
  member (or a boolean) that the request implies: the member, an alias the tool's
  description gives in brackets ("dnd (do not disturb)"), a word it abbreviates
  ("mon" for "Mondays"), or for booleans an on/off word;
- ``request``: the user's words, after normalisation: case, accents, punctuation and
  whitespace; number words ("seven", "twenty-five") read as digits (``text2num``);
  "7", "7.0" and "seven" equal; thousands separators; 12-hour and 24-hour times
  ("7:30 pm", "19:30", "7pm"); dates in common spellings ("March 14, 2026",
  "14/03/2026"; ``dateparser``); unit names and abbreviations ("km", "kilometres";
  ``pint``); long free text (a message body) may differ by a typo (``rapidfuzz``);
- ``result``: an earlier tool result in the same conversation (multi-step samples);
- ``expression``: a value built from the request, such as an arithmetic expression,
  whose every numeric literal is in the request or an earlier result.

Anything else is unsupported, and the reject names the value, the parameter and the
places searched. The rule is the same for every teacher, so a small teacher's
invented values ("the example from the tool's description") are caught as surely as a
large teacher's hallucinated ones.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any, Literal

from edgefabric.schemas import Message, ToolSpec

SupportKind = Literal["schema", "request", "result", "expression"]
FUZZY_MIN_LENGTH = 12  # free text at least this long may differ from the request by a typo
FUZZY_MIN_SCORE = 90.0  # rapidfuzz partial_ratio, 0..100
_PUNCT = re.compile(r"[^\w:%.+\-/ ]+")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.])[-+]?\d+(?:\.\d+)?(?![\w])")
_THOUSANDS = re.compile(r"(\d),(\d{3})\b")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE_SPAN = re.compile(
    rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}\b"
    rf"|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?(?:\s+\d{{4}})?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?\b",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"\b(\d{1,2})(?:[:.h](\d{2}))?\s*(a\.?m\.?|p\.?m\.?|o'?clock|hrs|h)?(?![\w])", re.IGNORECASE
)  # 7, 7:30, 7.30, 7h30, 7 pm, 7:30am, 19:30
_TRUE_WORDS = frozenset("on enable enabled activate start yes true switch_on turn_on open".split())
_FALSE_WORDS = frozenset("off disable disabled deactivate stop no false switch_off turn_off close".split())


@dataclass(frozen=True)
class LeafCheck:
    """One argument value checked: `path` is "tool.param" (with [i] or .key for nested values)."""

    tool: str
    param: str
    path: str
    value: Any
    support: SupportKind | None  # None: unsupported
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.support is not None


@dataclass
class GroundingResult:
    """Every value of every checked call, in order; `problems` are the unsupported ones."""

    checks: list[LeafCheck] = field(default_factory=list)

    @property
    def problems(self) -> list[LeafCheck]:
        return [c for c in self.checks if not c.ok]

    @property
    def passed(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.problems:
            return self.problems[0].detail
        kinds: dict[str, int] = {}
        for check in self.checks:
            kinds[str(check.support)] = kinds.get(str(check.support), 0) + 1
        found = ", ".join(f"{n} from {k}" for k, n in sorted(kinds.items()))
        return f"{len(self.checks)} value(s) grounded" + (f" ({found})" if found else "")


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return folded.casefold()


def _digits_for_words(text: str) -> str:
    """Number words as digits ("twenty-five" -> "25", "seven" -> "7"); text2num does the parsing."""
    from text_to_num import alpha2digit

    try:
        return str(alpha2digit(text, "en", threshold=0))
    except (ValueError, IndexError):  # text2num refuses some malformed number phrases
        return text


def _as_number(token: str) -> float | None:
    try:
        return float(token.replace(",", ""))
    except ValueError:
        return None


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Evidence:
    """One text that may support values: a request, or earlier tool results. Parses lazily."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def plain(self) -> str:
        """Folded, number words as digits, punctuation dropped (but ':', '.', '%', '-', '/' kept)."""
        text = _THOUSANDS.sub(r"\1\2", _digits_for_words(_fold(self.text)))
        return " ".join(_PUNCT.sub(" ", text).split())

    @cached_property
    def loose(self) -> str:
        """`plain` with every non-alphanumeric dropped: "Wi-Fi" and "wifi" meet here."""
        return " ".join(re.sub(r"[^a-z0-9 ]+", "", self.plain.replace("-", "").replace("/", " ")).split())

    @cached_property
    def words(self) -> list[str]:
        return self.loose.split()

    @cached_property
    def numbers(self) -> set[float]:
        found = {_as_number(m.group(0)) for m in _NUMBER.finditer(self.plain)}
        return {n for n in found if n is not None}

    @cached_property
    def percent(self) -> bool:
        return "%" in self.plain or "percent" in self.plain

    @cached_property
    def times(self) -> set[str]:
        """Clock times mentioned, as 24-hour "HH:MM"."""
        found: set[str] = set()
        text = self.plain.replace("noon", "12:00 pm").replace("midnight", "12:00 am")
        text = re.sub(r"\bhalf past (\d{1,2})\b", r"\1:30", text)
        text = re.sub(r"\bquarter past (\d{1,2})\b", r"\1:15", text)
        for match in _TIME.finditer(text):
            hour, minute, suffix = int(match.group(1)), match.group(2), (match.group(3) or "").replace(".", "")
            if minute is None and not suffix:
                continue  # a bare number is not a time
            minutes = int(minute or 0)
            if suffix.lower().startswith("p") and hour < 12:
                hour += 12
            elif suffix.lower().startswith("a") and hour == 12:
                hour = 0
            if 0 <= hour <= 23 and 0 <= minutes <= 59:
                found.add(f"{hour:02d}:{minutes:02d}")
        return found

    @cached_property
    def dates(self) -> set[date]:
        """Calendar dates mentioned in any common spelling (dateparser's search; a missing year is this year's)."""
        from dateparser.search import search_dates

        settings = {"PREFER_DATES_FROM": "future", "REQUIRE_PARTS": ["day", "month"], "DATE_ORDER": "DMY"}
        from dateparser import parse

        found: set[date] = set()
        # search_dates splits some spans ("January 1, 2026 now" -> "January 1" + "2026 now"), so the
        # common date shapes are also cut out by pattern and parsed whole.
        spans = [m.group(0) for m in _DATE_SPAN.finditer(self.text)]
        for order in ("DMY", "MDY"):
            options = {**settings, "DATE_ORDER": order}
            try:
                hits = [when for _, when in search_dates(self.text, languages=["en"], settings=options) or []]
                hits += [when for when in (parse(span, languages=["en"], settings=options) for span in spans) if when]
            except (ValueError, OverflowError, TypeError):
                continue
            found.update(when.date() for when in hits)
        return found

    def contains_phrase(self, value: str) -> bool:
        """Whole-word containment after normalisation."""
        plain = " ".join(_PUNCT.sub(" ", _digits_for_words(_fold(value))).split())
        if plain and re.search(rf"(?<![\w]){re.escape(plain)}(?![\w])", self.plain):
            return True
        loose = Evidence(value).loose
        return bool(loose) and re.search(rf"(?<![\w]){re.escape(loose)}(?![\w])", self.loose) is not None

    def fuzzy_contains(self, value: str) -> bool:
        """Long free text present up to a typo (rapidfuzz partial ratio)."""
        from rapidfuzz import fuzz

        needle = Evidence(value).loose
        return len(needle) >= FUZZY_MIN_LENGTH and fuzz.partial_ratio(needle, self.loose) >= FUZZY_MIN_SCORE


class UnitMatcher:
    """Unit names, plurals and abbreviations compared through pint's registry (built once, lazily)."""

    @cached_property
    def registry(self) -> Any:
        import pint

        return pint.UnitRegistry()

    def unit(self, text: str) -> Any | None:
        cleaned = text.strip().replace("°", "deg").replace(" ", "_")
        if cleaned in ("C", "F"):  # pint reads coulomb and farad; a user converting means degrees
            cleaned = f"deg{cleaned}"
        if not cleaned or not re.fullmatch(r"[A-Za-z_]+", cleaned) or len(cleaned) > 30:
            return None
        try:
            return self.registry.parse_units(cleaned)
        except Exception:  # pint raises several unrelated types for unknown names
            return None

    def mentioned(self, value: str, evidence: Evidence) -> bool:
        wanted = self.unit(value)
        if wanted is None:
            return False
        tokens = re.findall(r"[a-z°]+", _fold(evidence.text))
        candidates = tokens + [f"{a}_{b}" for a, b in itertools.pairwise(tokens)]
        candidates += [f"deg{t}" for t in tokens if t in ("c", "f", "celsius", "fahrenheit")]
        return any(self.unit(token) == wanted for token in candidates if len(token) <= 30)


def tool_texts(spec: ToolSpec | None) -> tuple[dict[str, Any], str]:
    """A tool's parameter schemas and all of its descriptions (the tool's and each parameter's) in one
    text, where enum aliases and implied values are looked up; ({}, "") for an unknown tool."""
    properties: dict[str, Any] = (spec.parameters.get("properties") or {}) if spec else {}
    texts = [str(p.get("description", "")) for p in properties.values() if isinstance(p, dict)]
    return properties, " ".join([spec.description if spec else "", *texts])


def enum_aliases(value: str, descriptions: str) -> list[str]:
    """Aliases the descriptions give in brackets after the value: "dnd (do not disturb)"."""
    pattern = rf"\b{re.escape(value)}\s*\(([^)]{{2,60}})\)"
    return [match.group(1) for match in re.finditer(pattern, descriptions, re.IGNORECASE)]


def _implied_enum(value: Any, evidence: Evidence, descriptions: str) -> bool:
    if not isinstance(value, str):
        return evidence.numbers.__contains__(float(value)) if isinstance(value, int | float) else False
    if evidence.contains_phrase(value) or any(evidence.contains_phrase(a) for a in enum_aliases(value, descriptions)):
        return True
    short = Evidence(value).loose
    # An enum member that abbreviates a word of the request: "mon" for "Mondays", "fri" for "friday".
    return len(short) >= 3 and " " not in short and any(w.startswith(short) for w in evidence.words)


def _implied_bool(value: bool, evidence: Evidence) -> bool:
    words = evidence.words
    pairs = {f"{a}_{b}" for a, b in itertools.pairwise(words)}
    vocabulary = _TRUE_WORDS if value else _FALSE_WORDS
    return any(w in vocabulary for w in words) or bool(pairs & vocabulary)


def _literals(expression: str) -> list[float] | None:
    """The numeric literals of an arithmetic expression, or None when `value` is not one."""
    try:
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
    except (SyntaxError, ValueError):
        return None
    if not any(isinstance(node, ast.BinOp | ast.Call | ast.UnaryOp) for node in ast.walk(tree)):
        return None
    allowed = (
        ast.Expression,
        ast.BinOp,
        ast.UnaryOp,
        ast.Call,
        ast.Name,
        ast.Constant,
        ast.Load,
        ast.operator,
        ast.unaryop,
    )
    if not all(isinstance(node, allowed) for node in ast.walk(tree)):
        return None
    constants = [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, int | float)]
    in_order = sorted(constants, key=lambda n: n.col_offset)
    return list(
        dict.fromkeys(float(n.value) for n in in_order if isinstance(n.value, int | float))
    )  # distinct, as written


def _leaves(value: Any, schema: Any, path: str) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    from edgefabric.pipeline.generate.values import concrete

    schema = concrete(schema)
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, item in value.items():
            yield from _leaves(item, properties.get(key), f"{path}.{key}")
    elif isinstance(value, list):
        items = schema.get("items")
        for index, item in enumerate(value):
            yield from _leaves(item, items, f"{path}[{index}]")
    elif value is not None:
        yield path, value, schema


@dataclass
class Grounder:
    """Checks calls against what precedes them. Holds the lazily built unit registry, so reuse one."""

    units: UnitMatcher = field(default_factory=UnitMatcher)

    def check_value(
        self, value: Any, schema: dict[str, Any], descriptions: str, request: Evidence, results: Evidence
    ) -> tuple[SupportKind | None, str]:
        """(support, what supported it) or (None, where it was looked for)."""
        if "const" in schema and schema["const"] == value:
            return "schema", "the schema's const"
        if "default" in schema and schema["default"] == value and type(schema["default"]) is type(value):
            return "schema", "the schema's default"
        if isinstance(value, bool):
            if _implied_bool(value, request):
                return "schema", f"{'an on' if value else 'an off'} word in the request"
            return (
                None,
                f"{value!r}: no word in the request turns it {'on' if value else 'off'}, and it is not the default",
            )
        if "enum" in schema and value in schema["enum"]:
            if _implied_enum(value, request, descriptions):
                return "schema", "an enum member the request names"
            if _implied_enum(value, results, descriptions):
                return "result", "an enum member an earlier result names"
        for evidence, where in ((request, "request"), (results, "result")):
            if self._in_text(value, evidence):
                return where, f"the {'request' if where == 'request' else 'earlier tool result'}"  # type: ignore[return-value]
        if isinstance(value, str):
            literals = _literals(value)
            if literals:
                missing = [n for n in literals if not self._number_in(n, request) and n not in results.numbers]
                if not missing:
                    return "expression", "every literal of the expression is in the request"
                shown = ", ".join(_number_text(n) for n in missing)
                return None, f"the expression {value!r} uses {shown}, which the request never mentions"
        looked = "the request" + (" and the earlier tool results" if results.text else "")
        return (
            None,
            f"{json.dumps(value, ensure_ascii=False)} appears nowhere in {looked} (after normalising case, number words, times, dates and units), and the schema does not imply it",
        )

    def _number_in(self, number: float, evidence: Evidence) -> bool:
        if number in evidence.numbers:
            return True
        return evidence.percent and any(abs(n / 100 - number) < 1e-9 for n in evidence.numbers)

    def _in_text(self, value: Any, evidence: Evidence) -> bool:
        if not evidence.text:
            return False
        if isinstance(value, int | float):
            return self._number_in(float(value), evidence)
        text = str(value)
        if evidence.contains_phrase(text):
            return True
        if re.fullmatch(r"\d{1,2}:\d{2}", text.strip()):
            hour, minute = text.strip().split(":")
            return f"{int(hour):02d}:{minute}" in evidence.times
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            try:
                return date.fromisoformat(text.strip()) in evidence.dates
            except ValueError:
                return False
        if self.units.mentioned(text, evidence):
            return True
        return evidence.fuzzy_contains(text)

    def check_messages(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], *, skip_call_ids: frozenset[str] = frozenset()
    ) -> GroundingResult:
        """Check every call in `messages` against the user turns and tool results before it.

        `skip_call_ids` names calls that are meant to be wrong (the deliberate mistake of
        an error-recovery sample). Calls of unknown tools are checked without a schema.
        """
        by_name = {tool.name: tool for tool in tools}
        result = GroundingResult()
        user_texts: list[str] = []
        result_texts: list[str] = []
        for message in messages:
            if message.role == "user":
                user_texts.append(message.content or "")
            elif message.role == "tool":
                result_texts.append(message.content or "")
            elif message.role == "assistant":
                request = Evidence("\n".join(user_texts))
                results = Evidence("\n".join(result_texts))
                for call in message.tool_calls:
                    if call.id is not None and call.id in skip_call_ids:
                        continue
                    properties, descriptions = tool_texts(by_name.get(call.name))
                    for param, value in call.arguments.items():
                        for path, leaf, schema in _leaves(value, properties.get(param), f"{call.name}.{param}"):
                            support, detail = self.check_value(leaf, schema, descriptions, request, results)
                            if support is None:
                                detail = f"{path}: {detail}"
                            result.checks.append(LeafCheck(call.name, param, path, leaf, support, detail))
        return result


def check_counts(results: Sequence[GroundingResult]) -> dict[str, list[int]]:
    """Per tool and per "tool.param": [values checked, values grounded] over `results`."""
    counts: dict[str, list[int]] = {}
    for grounding in results:
        for check in grounding.checks:
            for key in (check.tool, f"{check.tool}.{check.param}"):
                entry = counts.setdefault(key, [0, 0])
                entry[0] += 1
                entry[1] += int(check.ok)
    return counts


def pass_rates(
    results: Sequence[GroundingResult], more: Sequence[dict[str, list[int]]] = ()
) -> dict[str, dict[str, Any]]:
    """Per tool and per "tool.param": {"checked", "grounded", "rate"} over every value checked in
    `results`, plus counts kept elsewhere (`more`, as `check_counts` makes them)."""
    counts = check_counts(results)
    for extra in more:
        for key, (checked, grounded) in extra.items():
            entry = counts.setdefault(key, [0, 0])
            entry[0] += checked
            entry[1] += grounded
    return {
        key: {"checked": checked, "grounded": grounded, "rate": round(grounded / checked, 4)}
        for key, (checked, grounded) in sorted(counts.items())
    }
