"""Planning, similarity, dedup, splits and the card: the pure parts of generation."""

from __future__ import annotations

import itertools
from collections import Counter

from edgefabric.config import SplitConfig
from edgefabric.pipeline.generate.dedup import drop_near_duplicates
from edgefabric.pipeline.generate.plan import positions, sample_id
from edgefabric.pipeline.generate.similarity import NearDuplicateIndex, normalise, similarity
from edgefabric.pipeline.generate.splits import assign_splits
from edgefabric.pipeline.generate.topics import TopicGraph, TopicNode
from edgefabric.schemas import Message, Sample, ToolCall, ToolSpec


def _graph(leaves: int) -> TopicGraph:
    nodes = [TopicNode(id=0, title="root", depth=0, path=["root"])]
    nodes += [TopicNode(id=i, title=f"t{i}", depth=1, parent=0, path=["root", f"t{i}"]) for i in range(1, leaves + 1)]
    return TopicGraph(
        prompt="root",
        depth=1,
        degree=leaves,
        similarity_threshold=0.9,
        nodes=nodes,
        edges=[(0, i) for i in range(1, leaves + 1)],
    )


def test_plan_is_reproducible_and_ids_are_unique() -> None:
    """Positions and ids are a pure function of seed and graph; the kind mix is test_quotas_and_card's."""
    graph = _graph(4)

    def ids(seed: int) -> list[tuple[int, str]]:
        return [
            (topic.id, sample_id(seed, topic.id, index))
            for index, topic in itertools.islice(positions(graph, seed), 40)
        ]

    first, again, other = ids(7), ids(7), ids(8)
    assert first == again
    assert len({i for _, i in first}) == 40
    assert {i for _, i in first}.isdisjoint(i for _, i in other)
    assert Counter(topic for topic, _ in first) == {1: 10, 2: 10, 3: 10, 4: 10}


def test_similarity_normalises_case_accents_and_punctuation() -> None:
    assert normalise("  Café, au LAIT! ") == "cafe au lait"
    assert similarity("What is 2+2?", "what is 2 + 2") == 1.0
    assert similarity("convert 10 km to miles", "store my shopping list") < 0.6
    index = NearDuplicateIndex(0.9)
    index.add("Add 5 and 7 for me please", "a")
    assert index.match("add 5 and 7 for me, please!") == "a"
    assert index.match("Remember that my locker code is 4417") is None


def _sample(i: int, request: str, tool: str | None) -> Sample:
    tools = [ToolSpec(name="calc"), ToolSpec(name="kv_get")]
    messages = [Message(role="user", content=request)]
    if tool:
        messages.append(Message(role="assistant", tool_calls=[ToolCall(name=tool, id="c0")]))
        messages.append(Message(role="tool", name=tool, tool_call_id="c0", content="{}"))
    messages.append(Message(role="assistant", content="done"))
    return Sample(id=f"s{i:03d}", messages=messages, tools=tools)


def test_dedup_keeps_the_first_of_near_identical_requests() -> None:
    samples = [
        _sample(0, "What is 12 times 4?", "calc"),
        _sample(1, "what is 12 times 4", "calc"),
        _sample(2, "Save my wifi password", "kv_get"),
    ]
    kept, dropped = drop_near_duplicates(samples, 0.9)
    assert [s.id for s in kept] == ["s000", "s002"]
    assert [(s.id, twin) for s, twin in dropped] == [("s001", "s000")]


def test_splits_are_stratified_by_tool_and_fixed_by_the_seed() -> None:
    samples = [_sample(i, f"request {i}", "calc" if i < 50 else "kv_get" if i < 90 else None) for i in range(100)]
    config = SplitConfig(train=0.8, val=0.1, test=0.1)
    splits = assign_splits(samples, config, seed=1)
    assert {k: len(v) for k, v in splits.items()} == {"train": 80, "val": 10, "test": 10}
    per_tool = Counter(next((c.name for c in s.tool_calls), "none") for s in splits["val"])
    assert per_tool == {"calc": 5, "kv_get": 4, "none": 1}
    assert [s.id for s in assign_splits(samples, config, seed=1)["test"]] == [s.id for s in splits["test"]]
    assert [s.id for s in assign_splits(samples, config, seed=2)["test"]] != [s.id for s in splits["test"]]
