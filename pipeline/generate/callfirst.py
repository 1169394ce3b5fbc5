"""Call-first conversations: draw the calls, run them, then have the teacher ask for exactly them.

A small teacher cannot be trusted to invent a request and then the calls that serve
it: it pairs requests with calls they never ask for. Here the order is reversed:

1. the calls are drawn (tool in proportion, arguments from the schema and the value
   pools, see draw.py) and run in a fresh sandbox session; a draw whose call fails is
   drawn again (at most `MAX_DRAWS` times);
2. each value is written the way users write it (surface.py) into a plain task
   ("Convert a quantity between units: 12 from km to mi"), and the teacher rewrites
   that task as the user's message in a drawn style (casual, terse, polite, ...);
3. grounding (grounding.py) checks that every value follows from the message. A
   rewrite that passes is cached as a form of its task shape ("how many {C} is {A}
   {B}?", values.json) and later samples of that shape reuse the forms, so a slow
   teacher writes each form once. Half the samples (`AUTHOR_SHARE`) try a form the tool's
   author wrote first (request_forms.py: the built-in sets have them), and after
   `REQUEST_TRIES` failed rewrites such a form, or where none fits the plain task itself,
   is used. Cheap variations follow (a typo in a word that carries no value, lower
   case, a number in words), and grounding checks the final text again;
4. the teacher writes the final answer from the real results.

Every kind follows this: parallel draws two calls of different tools; multi_step
feeds a value of the first call's real result into a call of another tool;
error_recovery runs a mistaken version of the call first (its real error stays in the
trace); no_call takes a conversational message from `smalltalk` (greetings, thanks, chat) or
asks the teacher for small talk or a near miss the tools cannot serve.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from edgefabric.errors import EdgeFabricError
from edgefabric.pipeline.generate import prompts
from edgefabric.pipeline.generate.conversation import (
    Conversation,
    Execution,
    SampleRejected,
    as_rejection,
    call_line,
    result_line,
    run_call,
)
from edgefabric.pipeline.generate.draw import CallDrawer, CannotDraw, mistaken, pick_tool
from edgefabric.pipeline.generate.grounding import Grounder, GroundingResult, check_counts, enum_aliases, tool_texts
from edgefabric.pipeline.generate.plan import PlannedSample
from edgefabric.pipeline.generate.request_forms import authored_request, near_miss
from edgefabric.pipeline.generate.smalltalk import smalltalk_message
from edgefabric.pipeline.generate.structured import StructuredReplyError
from edgefabric.pipeline.generate.surface import SLOT_NAMES, fill_slots, spoken
from edgefabric.pipeline.generate.teacher import Teacher
from edgefabric.pipeline.generate.tool_runner import AsyncToolSession, ToolRunner
from edgefabric.pipeline.generate.usage import Usage
from edgefabric.pipeline.generate.values import ValuePools, concrete, keyed_scalars
from edgefabric.schemas import Message, ToolCall, ToolSpec

MAX_DRAWS = 40  # a draw costs a sandbox call (milliseconds), not a teacher call
REQUEST_TRIES = 3
# Share of no-call samples that start from `smalltalk` messages rather than the teacher's own: real
# users send greetings and thanks, and a small teacher writes them poorly (see smalltalk's doc).
SMALLTALK_SHARE = 0.4
# Of the other no-call samples, the share that starts from a tool author's near miss (request_forms.py):
# the embedded teacher's own near misses are mostly junk or half requests.
NEAR_MISS_SHARE = 0.5
# Message forms ("can you work out {A} for me?") are cached per task shape, like value lists:
# a shape with this many forms reuses one, and still asks for a new one at this rate.
TEMPLATES_PER_TASK = 3
# Share of samples whose first try is a tool author's form (request_forms.py) where one fits; the rest
# ask the teacher first and use the author's form only where the teacher's rewrites lose a value.
AUTHOR_SHARE = 0.5
NEW_TEMPLATE_RATE = 0.25
ANSWER_MAX_TOKENS = 96
REQUEST_MAX_TOKENS = 72  # a user's request is short; a small teacher that rambles is cut off early
STYLES = (
    "as a short, casual message",
    "as a terse command",
    "as a polite question",
    "with one sentence of context about the topic first",
    "as a quick text, all in lower case",
    "as someone in a hurry",
    "as a friendly request with a reason",
)


@dataclass
class DrawnTrace:
    """The calls of one sample as they ran: one list of executions per assistant turn."""

    turns: list[list[Execution]]
    result_fed: str = ""  # multi_step: "tool.param" of the later call that takes the earlier result


def _result_leaves(content: str) -> list[tuple[str, Any]]:
    """(key, value) for every scalar in a JSON tool result."""
    try:
        data = json.loads(content)
    except (json.JSONDecodeError, TypeError):
        return []
    return [(key, value) for key, value in keyed_scalars(data) if str(value).strip()]


def _type_fits(value: Any, schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if "enum" in schema:
        return value in schema["enum"]
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, int | float)
    return False


async def _draw_once(
    kind: str,
    drawer: CallDrawer,
    tools: list[ToolSpec],
    planned: PlannedSample,
    seed: int,
    attempt: int,
    session: AsyncToolSession,
) -> DrawnTrace | str:
    """One try at the calls of a sample, run in `session`: the trace, or why it failed."""
    # Cycle per kind, not over the global index (kinds interleave, so a global cycle aliases: one
    # demo's single samples were 60 calculate to 4 convert_units); a failed draw is redrawn with the same
    # tool for the first half of the draws, since moving on at once skews the mix towards the tools
    # whose random arguments fail least.
    turn = attempt // (MAX_DRAWS // 2)
    first_tool = pick_tool(tools, planned.kind_index, seed, offset=turn)
    if kind in ("single", "error_recovery"):
        call = await drawer.call(first_tool, "call_0")
        if kind == "single":
            execution = await run_call(session, call, 0)
            return DrawnTrace([[execution]]) if execution.ok else f"{call.name}: {execution.content[:200]}"
        wrong = mistaken(call, first_tool, drawer.rng)
        failed = await run_call(
            session, ToolCall(name=wrong.name, arguments=wrong.arguments, id="call_0"), 0, mistake=True
        )
        if failed.ok:
            return "the mistaken call ran without error"
        fixed = await run_call(session, ToolCall(name=call.name, arguments=call.arguments, id="call_1"), 1)
        return DrawnTrace([[failed], [fixed]]) if fixed.ok else f"{call.name}: {fixed.content[:200]}"
    if kind == "parallel":
        second_tool = pick_tool(tools, planned.kind_index + 1, seed, offset=turn) if len(tools) > 1 else first_tool
        calls = [await drawer.call(first_tool, "call_0"), await drawer.call(second_tool, "call_1")]
        if calls[0].name == calls[1].name and calls[0].arguments == calls[1].arguments:
            return "the two drawn calls are the same"
        executions = [await run_call(session, call, 0) for call in calls]
        bad = [e for e in executions if not e.ok]
        return DrawnTrace([executions]) if not bad else f"{bad[0].call.name}: {bad[0].content[:200]}"
    if kind == "multi_step":
        return await _draw_chain(drawer, tools, first_tool, session)
    raise ValueError(f"unknown kind {kind!r}")


async def _draw_chain(
    drawer: CallDrawer, tools: list[ToolSpec], first_tool: ToolSpec, session: AsyncToolSession
) -> DrawnTrace | str:
    """multi_step: a second call takes a value from the first call's real result.

    A parameter whose name or description names the result's key ("recipient: a contact's
    name" for a result key "name") is preferred; any parameter of a fitting type will do.
    """
    first = await run_call(session, await drawer.call(first_tool, "call_0"), 0)
    if not first.ok:
        return f"{first.call.name}: {first.content[:200]}"
    leaves = _result_leaves(first.content)
    options: list[tuple[int, ToolSpec, str, Any]] = []
    for tool in tools:
        for param, schema in (tool.parameters.get("properties") or {}).items():
            if not isinstance(schema, dict):
                continue
            words = set(re.findall(r"[a-z]+", f"{param} {schema.get('description', '')}".lower()))
            for key, value in leaves:
                if _type_fits(value, schema) and value not in first.call.arguments.values():
                    affinity = 2 if key.lower() == param.lower() else 1 if key.lower() in words else 0
                    options.append((affinity, tool, param, value))
    if not options:
        return f"nothing in the result of {first.call.name} fits a parameter of another call"
    if len(tools) > 1 and any(o[1].name != first_tool.name for o in options):
        options = [o for o in options if o[1].name != first_tool.name]  # a chain across two tools
    best = max(o[0] for o in options)
    _, tool, param, value = drawer.rng.choice([o for o in options if o[0] == best])
    call = await drawer.call(tool, "call_1")
    call = ToolCall(name=call.name, arguments={**call.arguments, param: value}, id="call_1")
    second = await run_call(session, call, 1)
    if not second.ok:
        return f"{call.name}: {second.content[:200]}"
    return DrawnTrace([[first], [second]], result_fed=f"{tool.name}.{param}")


_PREPOSITIONS = frozenset("from to in at on by for with into".split())


def _lead(param: str) -> str:
    """What goes before a value in a plain task: a parameter's leading preposition ("from_unit" ->
    "from "), else nothing (parameter names in a task end up echoed in the message)."""
    first = param.split("_")[0]
    return f"{first} " if first in _PREPOSITIONS else ""


def task_line(
    call: ToolCall, tools: list[ToolSpec], slots: dict[str, str], rng: random.Random, today: date, skip: str = ""
) -> str:
    """The call in plain words for the teacher, each drawn value behind a placeholder.

    Free text, numbers, times and dates become placeholders ({A}, {B}, ...) whose user
    spelling is chosen now (surface.spoken) and filled in after the teacher writes; enum
    members and on/off values stay words (an alias from the description where it gives
    one: "dnd (do not disturb)"), since the sentence has to be built around them.
    """
    spec = next((t for t in tools if t.name == call.name), None)
    summary = (
        re.split(r",? e\.g\.|:|\(", spec.description.strip().splitlines()[0])[0]
        if spec and spec.description
        else call.name
    )
    summary = summary.strip().rstrip(".")  # no examples: a small teacher copies them instead of the values
    if "," in summary and " of " in summary.split(",")[0]:  # "units of length, mass, ..." -> "units"
        summary = summary.split(",")[0].rsplit(" of ", 1)[0]
    properties, descriptions = tool_texts(spec)
    parts = []
    for key, value in call.arguments.items():
        if f"{call.name}.{key}" == skip:
            continue
        schema = concrete(properties.get(key))
        enum = schema.get("enum") or (schema.get("items") or {}).get("enum")
        if isinstance(value, bool) or enum:
            words = [value] if not isinstance(value, list) else value
            shown = []
            for word in words:
                aliases = enum_aliases(str(word), descriptions) if isinstance(word, str) else []
                shown.append(aliases[0] if aliases and rng.random() < 0.5 else spoken(word, rng, today))
            parts.append(f"{_lead(key)}{' and '.join(shown)}")
            continue
        name = SLOT_NAMES[len(slots)]
        slots[name] = spoken(value, rng, today)
        parts.append(f"{_lead(key)}{{{name}}}")
    return f"{summary}: {', '.join(parts)}" if parts else summary


def _number_as_words(text: str, rng: random.Random) -> str:
    """One standalone whole number up to 100 written as words (num2words), not inside a time or a date."""
    from num2words import num2words

    spots = [m for m in re.finditer(r"(?<![\d:./,\-])\b(\d{1,2}|100)\b(?![\d:./,\-])", text)]
    if not spots:
        return text
    spot = rng.choice(spots)
    return text[: spot.start()] + str(num2words(int(spot.group(0)))) + text[spot.end() :]


def _typo(text: str, protected: str, rng: random.Random) -> str:
    """Swap two letters in one word of five or more letters that is no part of any value."""
    words = [m for m in re.finditer(r"[A-Za-z]{5,}", text) if m.group(0).lower() not in protected]
    if not words:
        return text
    word = rng.choice(words)
    letters = list(word.group(0))
    i = rng.randint(1, len(letters) - 2)
    letters[i], letters[i + 1] = letters[i + 1], letters[i]
    return text[: word.start()] + "".join(letters) + text[word.end() :]


def vary_request(text: str, values_text: str, rng: random.Random) -> str:
    """Cheap variations a teacher rarely writes: no capitals, a typo, a number in words.

    Grounding runs afterwards, so a variation that breaks a value is caught, not trusted.
    """
    if rng.random() < 0.1:
        text = _number_as_words(text, rng)
    if rng.random() < 0.2:
        text = _typo(text, values_text.lower(), rng)
    if rng.random() < 0.2:
        text = text.lower().rstrip(".!")
    return text


_MARKUP = re.compile(r"[{}\[\]<>#*|]|https?://|\\n")


_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")


def _not_a_message(text: str, task: str = "") -> str:
    """Why `text` is no user's message for `task` (markup, too short to be a request, or a number the
    task does not have: "the answer to {A} is 7.89" states a result instead of asking), or ""."""
    if _MARKUP.search(text):
        return f"the teacher's message holds markup, not a user's words: {text[:200]!r}"
    if len(re.findall(r"[A-Za-z]{2,}", text)) < 3:
        return f"the teacher's message is too short to be a request: {text[:200]!r}"
    if task:
        added = sorted({n for n in _NUMBER.findall(text)} - {n for n in _NUMBER.findall(task)})
        if added:
            return f"the teacher's message adds {', '.join(added)}, which the task does not have: {text[:200]!r}"
    return ""


async def _no_call_request(
    teacher: Teacher,
    planned: PlannedSample,
    tools: list[ToolSpec],
    rng: random.Random,
    usage: Usage,
    is_duplicate: Callable[[str], str | None],
) -> tuple[str, list[Message], str]:
    """(request, messages, source) for a sample with no call: small talk from `smalltalk`
    (SMALLTALK_SHARE of them), else a tool author's near miss (NEAR_MISS_SHARE of the rest, where
    the tools have them: request_forms.NEAR_MISSES), else small talk or a near miss the tools cannot
    serve, written by the teacher."""
    if rng.random() < SMALLTALK_SHARE:
        for _ in range(REQUEST_TRIES * 3):  # short messages repeat more often; draw again on a twin
            request = vary_request(smalltalk_message(rng), "", rng)
            if is_duplicate(request) is None:
                return request, [Message(role="user", content=request)], "smalltalk"
        raise SampleRejected("dedup", "every small-talk message drawn repeats an earlier sample")
    if rng.random() < NEAR_MISS_SHARE:
        for _ in range(REQUEST_TRIES):
            authored = near_miss(tools, rng)
            if authored is None:
                break
            request = vary_request(authored, "", rng)
            if is_duplicate(request) is None:
                return request, [Message(role="user", content=request)], "author"
    problem = ""
    for attempt in range(REQUEST_TRIES):
        style = STYLES[(rng.randrange(len(STYLES)) + attempt) % len(STYLES)]
        prompt = prompts.no_call_prompt(planned.topic.path, tools, style, near_miss=rng.random() < 0.5)
        request = vary_request(await _teacher_request(teacher, prompt, usage), "", rng)
        problem = _not_a_message(request)
        if not problem:
            twin = is_duplicate(request)
            if twin is None:
                return request, [Message(role="user", content=request)], "teacher"
            problem = f"the user request nearly repeats sample {twin}"
    stage = "dedup" if problem.startswith("the user request nearly repeats") else "format"
    raise SampleRejected(stage, f"after {REQUEST_TRIES} requests: {problem}")


def form_of(message: str, slots: dict[str, str]) -> str | None:
    """The message with each slot's text turned back into its placeholder, when each occurs once."""
    for name, text in sorted(slots.items(), key=lambda item: -len(item[1])):
        if not text or message.count(text) != 1:
            return None
        message = message.replace(text, f"{{{name}}}")
    return message


async def _call_request(
    teacher: Teacher,
    planned: PlannedSample,
    tools: list[ToolSpec],
    trace: DrawnTrace,
    calls: list[Execution],
    pools: ValuePools,
    grounder: Grounder,
    rng: random.Random,
    today: date,
    usage: Usage,
    is_duplicate: Callable[[str], str | None],
) -> tuple[str, list[Message], str, dict[str, list[int]]]:
    """(request, messages, source, grounding counts of discarded rewrites) for drawn calls.
    Sources, tried in order:

    - "form": a cached message form of this task shape with this sample's values;
    - "teacher": the teacher's rewrite of the plain task (its form is then cached);
    - "author": a form the tool's author wrote (request_forms.py), first for `AUTHOR_SHARE` of the
      samples and in place of the plain task when the teacher's rewrites lose a value;
    - "seed": the plain task itself, varied (typos, case, number words), when the teacher's
      rewrites did not keep the values after `REQUEST_TRIES` tries and no author's form fits.

    Every one passes grounding; the card counts samples per source.
    """
    slots: dict[str, str] = {}
    fed = trace.result_fed
    tasks = [task_line(e.call, tools, slots, rng, today, skip=fed if e.step > 0 else "") for e in calls]
    fed_param = [
        fed.split(".", 1)[1] if fed and e.step > 0 and fed.startswith(f"{e.call.name}.") else "" for e in calls
    ]
    authored = authored_request([(e.call, p) for e, p in zip(calls, fed_param, strict=True)], tools, rng, today)
    shape = f"template:{planned.kind}|{'; '.join(tasks)}"
    seed = fill_slots("; ".join(tasks), slots) or "; ".join(tasks)
    mistakes = frozenset(e.call.id for turn in trace.turns for e in turn if e.deliberate_mistake and e.call.id)
    values_text = " ".join(json.dumps(e.call.arguments, ensure_ascii=False) for e in calls)
    problem = ""
    messages: list[Message] = []
    discarded: list[GroundingResult] = []  # the rewrites that lost a value: counted on the card
    for attempt in range(REQUEST_TRIES + 1):
        known = pools.lists.get(shape, [])
        if attempt == REQUEST_TRIES:
            text, source = (authored, "author") if authored else (seed, "seed")
        elif attempt == 0 and authored and rng.random() < AUTHOR_SHARE:
            text, source = authored, "author"
        elif len(known) >= TEMPLATES_PER_TASK and rng.random() >= NEW_TEMPLATE_RATE:
            text, source = fill_slots(rng.choice(known), slots) or seed, "form"
        else:
            style = STYLES[(rng.randrange(len(STYLES)) + attempt) % len(STYLES)]
            prompt = prompts.rewrite_request_prompt(planned.topic.path, seed, style, planned.kind)
            text, source = await _teacher_request(teacher, prompt, usage), "teacher"
        problem = _not_a_message(text, seed) if source in ("teacher", "form") else ""
        if problem:
            continue
        request = vary_request(text, values_text, rng)
        messages = _messages(request, trace)
        grounding = grounder.check_messages(messages, tools, skip_call_ids=mistakes)
        if not grounding.passed:
            problem = grounding.summary()
            discarded.append(grounding)
            continue
        form = form_of(text, slots) if source == "teacher" else None
        if form is not None:
            pools.add(shape, form)  # a message form that held every value: reuse it
        twin = is_duplicate(request)
        if twin is not None:
            problem = f"the user request nearly repeats sample {twin}"
            continue
        return request, messages, source, check_counts(discarded)
    stage = "dedup" if problem.startswith("the user request nearly repeats") else "grounding"
    raise SampleRejected(stage, problem, messages)  # the last try's messages: the card re-checks them


async def _teacher_request(teacher: Teacher, prompt: list[dict[str, Any]], usage: Usage) -> str:
    reply = await teacher.structured(
        prompt,
        prompts.REQUEST_SCHEMA,
        prompts.RequestReply,
        name="user request",
        max_tokens=REQUEST_MAX_TOKENS,
        usage=usage,
    )
    return reply.request.strip()


def _messages(request: str, trace: DrawnTrace) -> list[Message]:
    messages = [Message(role="user", content=request)]
    for turn in trace.turns:
        messages.append(Message(role="assistant", tool_calls=[e.call for e in turn]))
        messages += [Message(role="tool", tool_call_id=e.call.id, name=e.call.name, content=e.content) for e in turn]
    return messages


async def call_first_conversation(
    teacher: Teacher,
    runner: ToolRunner,
    tools: list[ToolSpec],
    planned: PlannedSample,
    *,
    scenario: dict[str, Any] | None,
    pools: ValuePools,
    grounder: Grounder,
    seed: int,
    usage: Usage,
    is_duplicate: Callable[[str], str | None] = lambda request: None,
    today: date | None = None,
) -> Conversation:
    """One sample made call-first (see the module doc). Raises SampleRejected with stage and reason."""
    rng = random.Random(planned.id)
    drawer = CallDrawer(teacher, pools, planned.topic.path, scenario, rng, usage, today or date.today())
    messages: list[Message] = []
    try:
        trace = DrawnTrace([])
        if planned.kind != "no_call":
            trace = await _draw(planned, drawer, tools, runner, scenario, seed)
        calls = [e for turn in trace.turns for e in turn if not e.deliberate_mistake]
        discarded: dict[str, list[int]] = {}
        source = "teacher"
        if planned.kind == "no_call":
            request, messages, source = await _no_call_request(teacher, planned, tools, rng, usage, is_duplicate)
        else:
            request, messages, source, discarded = await _call_request(
                teacher, planned, tools, trace, calls, pools, grounder, rng, drawer.today, usage, is_duplicate
            )
        conversation = Conversation(
            request=request,
            messages=messages,
            executions=[e for t in trace.turns for e in t],
            request_source=source,
            discarded_grounding=discarded,
        )
        lines = [f"User: {request}"]
        for turn in trace.turns:
            for execution in turn:
                lines += [call_line(execution.call), result_line(execution)]
        instruction = (
            "Using the real tool results above, write the assistant's short final reply to the user."
            if trace.turns
            else "Write the assistant's reply to the user directly, without calling any tool; "
            "if the request needs something the tools cannot do, say so briefly."
        )
        try:
            reply = await teacher.structured(
                prompts.step_prompt(
                    tools, scenario, "\n".join(lines), instruction + ' Reply as JSON: {"answer": "..."}'
                ),
                prompts.ANSWER_SCHEMA,
                prompts.AnswerReply,
                name="final answer",
                max_tokens=ANSWER_MAX_TOKENS,
                usage=usage,
            )
            answer = reply.answer.strip()
        except StructuredReplyError:
            if not trace.turns:
                raise
            # The calls are what the student learns here; a plain report of the real result ends the turn.
            answer = f"Done. Result: {trace.turns[-1][-1].content[:300]}"
            conversation.answer_source = "fallback"
        messages.append(Message(role="assistant", content=answer))
        conversation.transcript = "\n".join([*lines, f"Assistant: {answer}"])
        return conversation
    except CannotDraw as exc:
        raise SampleRejected("draw", str(exc), messages) from None
    except EdgeFabricError as exc:  # a teacher reply, the teacher itself, or the sandbox
        raise as_rejection(exc, messages) from None


async def _draw(
    planned: PlannedSample,
    drawer: CallDrawer,
    tools: list[ToolSpec],
    runner: ToolRunner,
    scenario: dict[str, Any] | None,
    seed: int,
) -> DrawnTrace:
    problem = ""
    for attempt in range(MAX_DRAWS):
        async with runner.session(scenario) as session:
            outcome = await _draw_once(planned.kind, drawer, tools, planned, seed, attempt, session)
        if isinstance(outcome, DrawnTrace):
            return outcome
        problem = outcome
    raise SampleRejected("draw", f"no {planned.kind} call ran after {MAX_DRAWS} draws; the last: {problem}")
