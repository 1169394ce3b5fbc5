"""The dataset card: what was made, from what, and what was thrown away and why."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from edgefabric.pipeline.generate.rejects import RETRY_ON_RESUME, Reject
from edgefabric.pipeline.generate.topics import TopicGraph
from edgefabric.pipeline.generate.usage import Usage
from edgefabric.schemas import Sample


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
) -> dict[str, Any]:
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
    return "\n".join(lines)


def write_card(card: dict[str, Any], out_dir: Path) -> None:
    for name, text in (("card.json", json.dumps(card, indent=2)), ("card.md", render_markdown(card))):
        path = out_dir / name
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(path)
