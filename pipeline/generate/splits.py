"""train/val/test JSONL files with a fixed seed, stratified by the tools a sample calls."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

from edgefabric.config import SplitConfig
from edgefabric.schemas import Sample

SPLITS = ("train", "val", "test")


def stratum(sample: Sample) -> str:
    names = sorted({call.name for call in sample.tool_calls})
    return "+".join(names) if names else "(no call)"


def assign_splits(samples: list[Sample], config: SplitConfig, seed: int) -> dict[str, list[Sample]]:
    """Each stratum is shuffled with the seed and cut by the ratios (cumulative rounding)."""
    groups: dict[str, list[Sample]] = defaultdict(list)
    for sample in sorted(samples, key=lambda s: s.id):
        groups[stratum(sample)].append(sample)
    out: dict[str, list[Sample]] = {name: [] for name in SPLITS}
    for key in sorted(groups):
        group = groups[key]
        random.Random(f"{seed}:{key}").shuffle(group)
        n = len(group)
        train_end = round(n * config.train)
        val_end = round(n * (config.train + config.val))
        out["train"].extend(group[:train_end])
        out["val"].extend(group[train_end:val_end])
        out["test"].extend(group[val_end:])
    return out


def write_splits(samples: list[Sample], out_dir: Path, config: SplitConfig, seed: int) -> dict[str, int]:
    """Write train/val/test.jsonl through temporary files; returns the count per split."""
    counts = {}
    for name, chosen in assign_splits(samples, config, seed).items():
        path = out_dir / f"{name}.jsonl"
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            for sample in sorted(chosen, key=lambda s: s.id):
                handle.write(json.dumps(sample.to_record(), ensure_ascii=False) + "\n")
        tmp.replace(path)
        counts[name] = len(chosen)
    return counts
