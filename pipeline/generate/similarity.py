"""Near-duplicate text: normalised text compared with difflib's ratio (stdlib, no new dependency)."""

from __future__ import annotations

import difflib
import re
import unicodedata

_NON_WORD = re.compile(r"[^\w]+")


def normalise(text: str) -> str:
    """Lower case, accents folded, punctuation and extra spaces dropped."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(_NON_WORD.sub(" ", folded.lower()).split())


def similarity(a: str, b: str) -> float:
    """0..1; 1.0 for texts equal after normalisation."""
    left, right = normalise(a), normalise(b)
    if left == right:
        return 1.0
    return difflib.SequenceMatcher(None, left, right, autojunk=False).ratio()


class NearDuplicateIndex:
    """Texts seen so far; `match` finds one at or above the threshold."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._items: list[tuple[str, str]] = []  # (normalised text, key)
        self._exact: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._items)

    def match(self, text: str) -> str | None:
        norm = normalise(text)
        if norm in self._exact:
            return self._exact[norm]
        matcher = difflib.SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(norm)  # seq2 is the one difflib caches, so it holds the probe
        for other, key in self._items:
            matcher.set_seq1(other)
            # The cheap upper bounds first: most pairs are far apart.
            if matcher.real_quick_ratio() < self.threshold or matcher.quick_ratio() < self.threshold:
                continue
            if matcher.ratio() >= self.threshold:
                return key
        return None

    def add(self, text: str, key: str) -> None:
        norm = normalise(text)
        self._exact.setdefault(norm, key)
        self._items.append((norm, key))
