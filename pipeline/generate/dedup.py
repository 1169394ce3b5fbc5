"""Near-identical user requests across the dataset: the first one wins, later ones are rejected."""

from __future__ import annotations

from collections.abc import Iterable

from edgefabric.pipeline.generate.similarity import NearDuplicateIndex
from edgefabric.schemas import Sample


def first_user_text(sample: Sample) -> str:
    return next((m.content or "" for m in sample.messages if m.role == "user"), "")


class RequestDeduper:
    """The requests of accepted samples; `twin` names the sample a new request nearly repeats."""

    def __init__(self, threshold: float, samples: Iterable[Sample] = ()) -> None:
        self._index = NearDuplicateIndex(threshold)
        for sample in samples:
            self.add(sample)

    def twin(self, request: str) -> str | None:
        return self._index.match(request)

    def add(self, sample: Sample) -> None:
        self._index.add(first_user_text(sample), sample.id)


def drop_near_duplicates(samples: list[Sample], threshold: float) -> tuple[list[Sample], list[tuple[Sample, str]]]:
    """Keep the first of each group of near-identical requests; returns (kept, [(dropped, twin id)])."""
    deduper = RequestDeduper(threshold)
    kept: list[Sample] = []
    dropped: list[tuple[Sample, str]] = []
    for sample in samples:
        twin = deduper.twin(first_user_text(sample))
        if twin is None:
            deduper.add(sample)
            kept.append(sample)
        else:
            dropped.append((sample, twin))
    return kept, dropped
