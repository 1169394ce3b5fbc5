"""The topic graph: a DAG grown by the teacher from the domain prompt, level by level.

Node ids follow creation order and every edge goes from a lower id to a higher
one, so the graph is acyclic by construction: cross-links may only come from
nodes that existed before the new node. A new subtopic that nearly equals an
existing one (normalised text, similarity threshold) is merged into it instead
of becoming a node. Ids are assigned after each level completes, in parent
order, so concurrency never changes the graph.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgefabric.config import TopicsConfig
from edgefabric.errors import EdgeFabricError
from edgefabric.events import EventSink, Note, Progress, StageDone, StageStarted, ignore_events
from edgefabric.pipeline.generate.similarity import NearDuplicateIndex
from edgefabric.pipeline.generate.teacher import Teacher
from edgefabric.pipeline.generate.usage import Usage

TOPICS_VERSION = 1
MAX_RELATED_OFFERED = 12  # small teachers have small contexts; the earliest topics are the broadest
STAGE = "topics"


class TopicNode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=0)
    title: str
    depth: int = Field(ge=0)
    parent: int | None = None
    path: list[str]
    aliases: list[str] = Field(default_factory=list)


class TopicGraph(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = TOPICS_VERSION
    prompt: str
    depth: int
    degree: int
    similarity_threshold: float
    teacher: str | None = None
    planned_calls: int = 0
    nodes: list[TopicNode]
    edges: list[tuple[int, int]] = Field(default_factory=list)
    merged: int = 0
    usage: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _acyclic(self) -> TopicGraph:
        for index, node in enumerate(self.nodes):
            if node.id != index:
                raise ValueError(f"node ids must be 0..n-1 in order; node {index} has id {node.id}")
        for source, target in self.edges:
            if not (0 <= source < target < len(self.nodes)):
                raise ValueError(f"edge {source}->{target} does not go from an earlier node to a later one")
        return self

    def children(self, node_id: int) -> list[int]:
        return [target for source, target in self.edges if source == node_id]

    def leaves(self) -> list[TopicNode]:
        """The topics samples are drawn from: nodes below the root with no children."""
        sources = {source for source, _ in self.edges}
        leaves = [node for node in self.nodes if node.depth > 0 and node.id not in sources]
        return leaves or self.nodes[:1]

    def to_mermaid(self) -> str:
        lines = ["graph TD"]
        for node in self.nodes:
            label = node.title.replace('"', "#quot;")
            lines.append(f'  n{node.id}["{label}"]')
        lines.extend(f"  n{source} --> n{target}" for source, target in self.edges)
        return "\n".join(lines) + "\n"

    def to_dot(self) -> str:
        lines = ["digraph topics {", "  rankdir=LR;"]
        for node in self.nodes:
            label = node.title.replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'  n{node.id} [label="{label}"];')
        lines.extend(f"  n{source} -> n{target};" for source, target in self.edges)
        lines.append("}")
        return "\n".join(lines) + "\n"

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> TopicGraph:
        if not path.exists():
            raise EdgeFabricError(f"topic graph {path} does not exist", "check the path, or run `edgefabric generate`")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise EdgeFabricError(f"{path} is not JSON ({exc.msg})", "delete it to regenerate the topics") from None
        if isinstance(data, dict) and data.get("version", 0) > TOPICS_VERSION:
            raise EdgeFabricError(
                f"{path} is topic graph version {data['version']}, newer than this EdgeFabric reads",
                "upgrade edgefabric",
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise EdgeFabricError(
                f"{path} is not a valid topic graph: {where}: {first['msg']}", "delete it to regenerate the topics"
            ) from None

    def matches(self, config: TopicsConfig) -> bool:
        """Whether this graph was built from these settings (else it must be rebuilt)."""
        return (self.prompt, self.depth, self.degree, self.similarity_threshold) == (
            config.prompt,
            config.depth,
            config.degree,
            config.similarity_threshold,
        )


def planned_calls(depth: int, degree: int) -> int:
    """Teacher calls to build the graph: one per node above the last level (merges only save calls)."""
    return sum(degree**level for level in range(depth))


class _Subtopic(BaseModel):
    title: str = Field(min_length=2, max_length=160)
    related: list[int] = Field(default_factory=list)


class _Expansion(BaseModel):
    subtopics: list[_Subtopic] = Field(min_length=1)


def _expansion_schema(degree: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "subtopics": {
                "type": "array",
                "minItems": 1,
                "maxItems": degree,
                "items": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string", "minLength": 2},  # no maxLength: see prompts.py
                        "related": {"type": "array", "items": {"type": "integer"}, "maxItems": 3},
                    },
                    "required": ["title"],
                },
            }
        },
        "required": ["subtopics"],
    }


def _expansion_messages(prompt: str, node: TopicNode, degree: int, offered: list[TopicNode]) -> list[dict[str, Any]]:
    existing = "\n".join(f"{other.id}: {other.title}" for other in offered) or "(none)"
    text = (
        f"Domain: {prompt}\n"
        f"Topic path: {' > '.join(node.path)}\n"
        f"List {degree} distinct, specific subtopics of the last topic in the path, each a short title.\n"
        f"Existing topics (number: title):\n{existing}\n"
        "For each subtopic, 'related' may list up to 3 numbers of existing topics it is closely related to.\n"
        'Reply as JSON: {"subtopics": [{"title": "...", "related": []}]}'
    )
    return [
        {"role": "system", "content": "You design diverse topic trees for training data. Reply with JSON only."},
        {"role": "user", "content": text},
    ]


async def build_topic_graph(
    teacher: Teacher, config: TopicsConfig, *, on_event: EventSink = ignore_events
) -> TopicGraph:
    budget = planned_calls(config.depth, config.degree)
    on_event(
        StageStarted(
            STAGE, total=budget, detail=f"up to {budget} teacher calls (depth {config.depth}, degree {config.degree})"
        )
    )
    usage = Usage()
    root = TopicNode(id=0, title=config.prompt, depth=0, path=[config.prompt])
    nodes = [root]
    edges: list[tuple[int, int]] = []
    index = NearDuplicateIndex(config.similarity_threshold)
    index.add(root.title, "0")
    merged = 0
    done = 0
    frontier = [root]

    async def expand(node: TopicNode, offered: list[TopicNode]) -> _Expansion | None:
        nonlocal done
        try:
            result = await teacher.structured(
                _expansion_messages(config.prompt, node, config.degree, offered),
                _expansion_schema(config.degree),
                _Expansion,
                name="subtopics",
                usage=usage,
            )
        except EdgeFabricError as exc:
            # One failed expansion leaves a leaf, not a failed run; the note says why.
            on_event(Note(STAGE, f"could not expand '{node.title}': {exc.problem}", level="warning"))
            result = None
        done += 1
        on_event(Progress(STAGE, done=done, total=budget, metrics={"topics": float(len(nodes))}))
        return result

    for _level in range(config.depth):
        offered = [node for node in nodes if node.depth < _level + 1][:MAX_RELATED_OFFERED]
        results = await asyncio.gather(*(expand(node, [o for o in offered if o.id != node.id]) for node in frontier))
        next_frontier: list[TopicNode] = []
        for parent, expansion in zip(frontier, results, strict=True):
            if expansion is None:
                continue
            offered_ids = {o.id for o in offered if o.id != parent.id}
            for sub in expansion.subtopics[: config.degree]:
                title = " ".join(sub.title.split())
                twin = index.match(title)
                if twin is not None:
                    existing = nodes[int(twin)]
                    merged += 1
                    if title not in existing.aliases and title != existing.title:
                        existing.aliases.append(title)
                    if parent.id < existing.id and (parent.id, existing.id) not in edges:
                        edges.append((parent.id, existing.id))
                    continue
                node = TopicNode(
                    id=len(nodes), title=title, depth=parent.depth + 1, parent=parent.id, path=[*parent.path, title]
                )
                nodes.append(node)
                index.add(title, str(node.id))
                edges.append((parent.id, node.id))
                for related in dict.fromkeys(sub.related):
                    if related in offered_ids:
                        edges.append((related, node.id))
                next_frontier.append(node)
        frontier = next_frontier
        if not frontier:
            break
    graph = TopicGraph(
        prompt=config.prompt,
        depth=config.depth,
        degree=config.degree,
        similarity_threshold=config.similarity_threshold,
        teacher=teacher.endpoint.label or teacher.endpoint.model,
        planned_calls=budget,
        nodes=nodes,
        edges=edges,
        merged=merged,
        usage=usage.as_dict(),
    )
    on_event(
        StageDone(STAGE, {"topics": len(nodes), "leaves": len(graph.leaves()), "merged": merged, "calls": usage.calls})
    )
    return graph
