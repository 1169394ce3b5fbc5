"""The dataset card: what was made, from what, and what was thrown away and why."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from edgefabric.pipeline.generate.grounding import Grounder, GroundingResult, pass_rates
from edgefabric.pipeline.generate.rejects import RETRY_ON_RESUME, Reject
from edgefabric.pipeline.generate.similarity import NearDuplicateIndex
from edgefabric.pipeline.generate.topics import TopicGraph
from edgefabric.pipeline.generate.usage import Usage
from edgefabric.schemas import Message, Sample, ToolSpec

DOMINANT_SHARE = 0.4  # a parameter whose most common value takes this share of its uses gets a warning
DOMINANT_MIN_USES = 5
NEAR_DUPLICATE = 0.85


def _hashable(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def diversity(samples: list[Sample], tools: list[ToolSpec]) -> dict[str, Any]:
    """Distinct requests, values per parameter, tool/parameter coverage, and dominant values.

    - requests: how many, how many distinct after normalisation, and the share that has a
      near-twin (difflib ratio >= 0.85, as the deduplicator measures) among earlier ones;
    - parameters: per "tool.param", the uses, the distinct values, and the most common
      value with its share;
    - coverage: tools called out of those offered, parameters given out of those declared;
    - warnings: each parameter one value dominates (share >= 40% of >= 5 uses, beyond what
      an enum's or a boolean's few members force).
    """
    index = NearDuplicateIndex(NEAR_DUPLICATE)
    requests = [next((m.content or "" for m in s.messages if m.role == "user"), "") for s in samples]
    twins = 0
    for number, request in enumerate(requests):
        twins += index.match(request) is not None
        index.add(request, str(number))
    values: dict[str, Counter[str]] = {}
    for sample in samples:
        mistakes = _mistakes(sample.messages, sample.metadata.kind)
        for call in sample.tool_calls:
            if call.id in mistakes:
                continue
            for param, value in call.arguments.items():
                values.setdefault(f"{call.name}.{param}", Counter())[_hashable(value)] += 1
    specs = {tool.name: tool for tool in tools}
    parameters: dict[str, Any] = {}
    warnings: list[str] = []
    for key, counts in sorted(values.items()):
        uses = sum(counts.values())
        top, top_count = counts.most_common(1)[0]
        share = top_count / uses
        parameters[key] = {
            "uses": uses,
            "distinct": len(counts),
            "top_value": json.loads(top),
            "top_share": round(share, 4),
        }
        tool_name, param = key.split(".", 1)
        schema = ((specs[tool_name].parameters.get("properties") or {}).get(param) or {}) if tool_name in specs else {}
        options = len(schema.get("enum") or []) or (2 if schema.get("type") == "boolean" else 0)
        floor = max(DOMINANT_SHARE, 2 / options) if options else DOMINANT_SHARE
        if uses >= DOMINANT_MIN_USES and share >= floor and not (options and share < 1 and len(counts) == options):
            warnings.append(f"{key}: the value {top} fills {share:.0%} of its {uses} uses")
    declared = {f"{t.name}.{p}" for t in tools for p in (t.parameters.get("properties") or {})}
    called = {s.split(".")[0] for s in values} | {c.name for sample in samples for c in sample.tool_calls}
    return {
        "requests": len(requests),
        "distinct_requests": len({r.strip().casefold() for r in requests}),
        "near_duplicate_rate": round(twins / len(requests), 4) if requests else None,
        "tool_coverage": f"{len(called & set(specs))}/{len(specs)}",
        "parameter_coverage": f"{len(set(values) & declared)}/{len(declared)}",
        "tools_never_called": sorted(set(specs) - called),
        "parameters": parameters,
        "warnings": warnings,
    }


def _mistakes(messages: list[Message], kind: str | None) -> frozenset[str]:
    """An error_recovery sample opens with its deliberate mistake: its first call turn (as training reads it)."""
    if kind != "error_recovery":
        return frozenset()
    first = next((m for m in messages if m.tool_calls), None)
    return frozenset(c.id for c in first.tool_calls if c.id) if first else frozenset()


def grounding_rates(samples: list[Sample], rejects: list[Reject], grounder: Grounder | None = None) -> dict[str, Any]:
    """Grounding pass rate per tool and per parameter over every request that reached the stage:
    the accepted samples, those rejected for grounding (their messages are kept in rejects.jsonl),
    and the call-first rewrites dropped for grounding before a sample was accepted (counted in
    each sample's `grounding_discarded`)."""
    grounder = grounder or Grounder()
    results: list[GroundingResult] = []
    tools: list[ToolSpec] = samples[0].tools if samples else []
    for sample in samples:
        skip = _mistakes(sample.messages, sample.metadata.kind)
        results.append(grounder.check_messages(sample.messages, sample.tools, skip_call_ids=skip))
    for reject in rejects:
        if reject.stage != "grounding":
            continue
        try:
            messages = [Message.model_validate(m) for m in reject.messages]
        except ValueError:
            continue
        results.append(grounder.check_messages(messages, tools, skip_call_ids=_mistakes(messages, reject.kind)))
    discarded = [s.metadata.extra.get("grounding_discarded") or {} for s in samples]
    return pass_rates(results, [d for d in discarded if isinstance(d, dict)])


def _reason_key(reject: Reject) -> str:
    # Group reasons by their general part: the text before the first colon names the problem.
    return f"{reject.stage}: {reject.reason.split(':')[0][:120]}"


def build_card(
    samples: list[Sample],
    rejects: list[Reject],
    graph: TopicGraph,
    *,
    teacher: str,
    tool_sets: list[str],
    split_counts: dict[str, int],
    semantic_check: bool,
    quotas: dict[str, int] | None = None,
    shortfalls: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The card as a dict (card.json); `render_markdown` makes card.md from it."""
    accepted = {s.id for s in samples}
    latest = {r.id: r for r in rejects}  # a sample retried on resume keeps only its last record
    open_rejects = [r for r in latest.values() if r.id not in accepted]  # it may have passed later
    usage = Usage.from_dict(graph.usage)
    for sample in samples:
        usage.add(Usage.from_dict(sample.metadata.extra.get("usage")))
    for reject in open_rejects:
        usage.add(Usage.from_dict(reject.usage))
    tools = Counter(call.name for sample in samples for call in sample.tool_calls)
    failed = [r for r in open_rejects if r.stage == RETRY_ON_RESUME]  # never judged: the teacher was unreachable
    judged = [r for r in open_rejects if r.stage != RETRY_ON_RESUME]
    attempts = len(samples) + len(judged)
    return {
        "samples": len(samples),
        "rejected": len(judged),
        "failed": len(failed),
        "accept_rate": round(len(samples) / attempts, 4) if attempts else None,
        "splits": split_counts,
        "teacher": teacher,
        "tool_sets": tool_sets,
        "semantic_check": semantic_check,
        "per_tool_calls": dict(tools.most_common()),
        "per_kind": dict(Counter(s.metadata.kind or "unknown" for s in samples).most_common()),
        "request_sources": dict(
            Counter(str(s.metadata.extra.get("request_source", "teacher")) for s in samples).most_common()
        ),
        "answer_sources": dict(
            Counter(str(s.metadata.extra.get("answer_source", "teacher")) for s in samples).most_common()
        ),
        "kind_quotas": quotas or {},
        "kind_shortfalls": shortfalls or {},
        "grounding_pass_rate": grounding_rates(samples, judged),
        "diversity": diversity(samples, samples[0].tools if samples else []),
        "per_topic_depth": {str(k): v for k, v in sorted(Counter(len(s.topic_path) - 1 for s in samples).items())},
        "rejection_reasons": dict(Counter(_reason_key(r) for r in open_rejects).most_common()),
        "topics": {
            "nodes": len(graph.nodes),
            "leaves": len(graph.leaves()),
            "edges": len(graph.edges),
            "merged": graph.merged,
        },
        "usage": usage.as_dict(),
    }


def render_markdown(card: dict[str, Any]) -> str:
    def table(title: str, counts: dict[str, Any]) -> list[str]:
        lines = [f"## {title}", "", "| | count |", "| --- | ---: |"]
        lines += [f"| {key} | {value} |" for key, value in counts.items()] or ["| (none) | 0 |"]
        return [*lines, ""]

    usage = card["usage"]
    cost = "unknown" if usage["cost_usd"] is None else f"${usage['cost_usd']:.4f}"
    rate = "n/a" if card["accept_rate"] is None else f"{card['accept_rate']:.0%}"
    lines = [
        "# Dataset card",
        "",
        f"- samples: {card['samples']} accepted, {card['rejected']} rejected (accept rate {rate}), "
        f"{card['failed']} failed for want of a teacher (tried again by --resume)",
        f"- splits: {', '.join(f'{k} {v}' for k, v in card['splits'].items())}",
        f"- teacher: {card['teacher']}; semantic check {'on' if card['semantic_check'] else 'off'}",
        f"- tool sets: {', '.join(card['tool_sets']) or 'none'}",
        f"- topics: {card['topics']['nodes']} nodes, {card['topics']['leaves']} leaves, {card['topics']['merged']} merged",
        f"- teacher calls: {usage['calls']} ({usage['retries']} retries, {usage['invalid_replies']} invalid replies); "
        f"tokens: {usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion; cost: {cost}",
        "",
    ]
    lines += table("Calls per tool", card["per_tool_calls"])
    lines += table("Samples per kind", card["per_kind"])
    lines += table("Samples per topic depth", card["per_topic_depth"])
    lines += table("Rejection reasons", card["rejection_reasons"])
    lines += table(
        "Where requests came from (teacher, a cached form, a tool author's form, the plain task, or small talk)",
        card.get("request_sources", {}),
    )
    lines += _quality_lines(card)
    return "\n".join(lines)


def _quality_lines(card: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    shortfalls = card.get("kind_shortfalls") or {}
    if card.get("kind_quotas"):
        lines += ["## Kind quotas", "", "| kind | quota | accepted | note |", "| --- | ---: | ---: | --- |"]
        for kind, quota in card["kind_quotas"].items():
            short = shortfalls.get(kind)
            note = f"SHORT after {short['tries']} tries: {short.get('top_reason', '')}" if short else ""
            lines.append(f"| {kind} | {quota} | {card['per_kind'].get(kind, 0)} | {note} |")
        lines.append("")
    rates = card.get("grounding_pass_rate") or {}
    if rates:
        lines += ["## Grounding pass rate", "", "| tool / parameter | grounded | rate |", "| --- | ---: | ---: |"]
        lines += [f"| {key} | {v['grounded']}/{v['checked']} | {v['rate']:.0%} |" for key, v in rates.items()]
        lines.append("")
    div = card.get("diversity") or {}
    if div:
        rate = div["near_duplicate_rate"]
        lines += [
            "## Diversity",
            "",
            f"- requests: {div['requests']}, distinct {div['distinct_requests']}, "
            f"near-duplicate rate {'n/a' if rate is None else f'{rate:.0%}'}",
            f"- tool coverage {div['tool_coverage']}, parameter coverage {div['parameter_coverage']}"
            + (f"; never called: {', '.join(div['tools_never_called'])}" if div["tools_never_called"] else ""),
            "",
            "| parameter | uses | distinct | most common (share) |",
            "| --- | ---: | ---: | --- |",
        ]
        for key, v in div["parameters"].items():
            top = json.dumps(v["top_value"], ensure_ascii=False)
            lines.append(f"| {key} | {v['uses']} | {v['distinct']} | {top[:40]} ({v['top_share']:.0%}) |")
        lines.append("")
        lines += [f"WARNING: {w}" for w in div["warnings"]]
    return lines


def write_card(card: dict[str, Any], out_dir: Path) -> None:
    for name, text in (("card.json", json.dumps(card, indent=2)), ("card.md", render_markdown(card))):
        path = out_dir / name
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(path)
