"""The files of one training run, in one place so the CLI, the TUI and export agree.

runs/<name>/
    config.yaml          the project config the run was started with (resume checks it)
    checkpoints/         checkpoint-<step>/ (adapter, optimizer, scheduler, RNG state)
    adapter/             the final LoRA adapter + tokenizer + chat template
    merged/              on request: base + adapter merged, an HF folder (safetensors, tokenizer)
    train_report.json    what was trained on, what was skipped and why, losses, timings
    events.jsonl         every event of the run, one JSON line each (edgefabric.event_log; plots after the fact)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunLayout:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def adapter(self) -> Path:
        return self.root / "adapter"

    @property
    def merged(self) -> Path:
        return self.root / "merged"

    @property
    def report(self) -> Path:
        return self.root / "train_report.json"

    @property
    def events(self) -> Path:
        return self.root / "events.jsonl"

    @property
    def started(self) -> bool:
        """A run was started here (its config or a checkpoint is written): training it again means resuming."""
        return self.config.exists() or self.checkpoints.exists()

    def last_checkpoint(self) -> Path | None:
        """The checkpoint with the highest step, or None (a half-written one has no trainer_state.json)."""
        if not self.checkpoints.is_dir():
            return None
        done = [p for p in self.checkpoints.glob("checkpoint-*") if (p / "trainer_state.json").exists()]
        steps = [(int(p.name.rsplit("-", 1)[1]), p) for p in done if p.name.rsplit("-", 1)[1].isdigit()]
        return max(steps)[1] if steps else None
