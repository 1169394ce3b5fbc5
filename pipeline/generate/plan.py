"""Which sample comes next: its index, deterministic id, topic and kind.

Everything is a pure function of (seed, topic graph, kind weights, index), so a
resumed run plans exactly the samples the killed one did and can skip the ids
already written.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

from edgefabric.config import SAMPLE_KINDS
from edgefabric.pipeline.generate.topics import TopicGraph, TopicNode
from edgefabric.schemas import SampleKind


@dataclass(frozen=True)
class PlannedSample:
    index: int
    id: str
    kind: SampleKind
    topic: TopicNode


def sample_id(seed: int, topic_id: int, index: int) -> str:
    return hashlib.sha256(f"edgefabric:{seed}:{topic_id}:{index}".encode()).hexdigest()[:24]


def kind_sequence(weights: dict[str, float]) -> Iterator[SampleKind]:
    """Smooth weighted round robin: every prefix is as close to the mix as whole samples allow."""
    kinds = [kind for kind in SAMPLE_KINDS if weights.get(kind, 0) > 0]
    total = sum(weights[kind] for kind in kinds)
    current = dict.fromkeys(kinds, 0.0)
    while True:
        for kind in kinds:
            current[kind] += weights[kind]
        pick = max(kinds, key=lambda kind: current[kind])  # ties go to the earlier kind
        current[pick] -= total
        yield pick  # type: ignore[misc]


def plan_samples(graph: TopicGraph, weights: dict[str, float], seed: int) -> Iterator[PlannedSample]:
    """An endless, reproducible stream of planned samples; each round visits every leaf once."""
    leaves = graph.leaves()
    kinds = kind_sequence(weights)
    index = 0
    round_number = 0
    while True:
        order = list(leaves)
        random.Random(f"{seed}:{round_number}").shuffle(order)
        for topic in order:
            yield PlannedSample(index, sample_id(seed, topic.id, index), next(kinds), topic)
            index += 1
        round_number += 1
