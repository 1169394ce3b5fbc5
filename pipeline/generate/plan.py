"""Which sample comes next: its index, deterministic id, topic and kind.

Index, topic and id are a pure function of (seed, topic graph, index), so a resumed
run meets the same ids as the killed one and skips those already written. The kind
is chosen by `KindPlanner` from the per-kind quotas and what is already accepted
(counted from the files on resume), so the mix is kept whatever each kind's accept rate.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from edgefabric.config import SAMPLE_KINDS
from edgefabric.pipeline.generate.topics import TopicGraph, TopicNode
from edgefabric.schemas import SampleKind


@dataclass(frozen=True)
class PlannedSample:
    index: int
    id: str
    kind: SampleKind
    topic: TopicNode
    kind_index: int = 0  # samples of this kind started before this one: tools cycle per kind (draw.pick_tool)


def sample_id(seed: int, topic_id: int, index: int) -> str:
    return hashlib.sha256(f"edgefabric:{seed}:{topic_id}:{index}".encode()).hexdigest()[:24]


def kind_quotas(weights: dict[str, float], target: int) -> dict[str, int]:
    """Whole samples per kind that add up to `target`, each within one of target * weight / total
    (largest-remainder apportionment)."""
    kinds = [kind for kind in SAMPLE_KINDS if weights.get(kind, 0) > 0]
    total = sum(weights[kind] for kind in kinds)
    exact = {kind: target * weights[kind] / total for kind in kinds}
    quotas = {kind: math.floor(share) for kind, share in exact.items()}
    by_remainder = sorted(kinds, key=lambda kind: (-(exact[kind] - quotas[kind]), SAMPLE_KINDS.index(kind)))
    for kind in by_remainder[: target - sum(quotas.values())]:
        quotas[kind] += 1
    return quotas


@dataclass
class KindPlanner:
    """Which kind to try next so that accepted samples follow the mix, per-kind quotas.

    A kind gets at most `tries_factor` tries per sample of its quota (at least
    `min_tries`); when those are spent it is exhausted and reported, never replaced by
    another kind. `accepted`/`tried` count samples already on disk too (resume).
    """

    quotas: dict[str, int]
    tries_factor: int = 5
    min_tries: int = 6
    accepted: Counter[str] = field(default_factory=Counter)
    tried: Counter[str] = field(default_factory=Counter)
    in_flight: Counter[str] = field(default_factory=Counter)

    def max_tries(self, kind: str) -> int:
        return max(self.min_tries, self.quotas[kind] * self.tries_factor)

    def next_kind(self) -> SampleKind | None:
        """The kind furthest below its quota that still has tries left, or None."""
        open_kinds: list[SampleKind] = [
            kind  # type: ignore[misc]
            for kind, quota in self.quotas.items()
            if self.accepted[kind] + self.in_flight[kind] < quota
            and self.tried[kind] + self.in_flight[kind] < self.max_tries(kind)
        ]
        if not open_kinds:
            return None
        return max(
            open_kinds,
            key=lambda k: (
                (self.quotas[k] - self.accepted[k] - self.in_flight[k]) / self.quotas[k],
                -SAMPLE_KINDS.index(k),
            ),
        )

    def start(self, kind: str) -> None:
        self.in_flight[kind] += 1

    def finish(self, kind: str, accepted: bool) -> None:
        self.in_flight[kind] -= 1
        self.tried[kind] += 1
        self.accepted[kind] += int(accepted)

    def shortfalls(self) -> dict[str, dict[str, int]]:
        """Kinds below quota: {"quota", "accepted", "tries"} each."""
        return {
            kind: {"quota": quota, "accepted": self.accepted[kind], "tries": self.tried[kind]}
            for kind, quota in self.quotas.items()
            if self.accepted[kind] < quota
        }


def positions(graph: TopicGraph, seed: int) -> Iterator[tuple[int, TopicNode]]:
    """(index, topic) forever: each round visits every leaf once, in a seeded order."""
    leaves = graph.leaves()
    index = 0
    round_number = 0
    while True:
        order = list(leaves)
        random.Random(f"{seed}:{round_number}").shuffle(order)
        for topic in order:
            yield index, topic
            index += 1
        round_number += 1
