"""Where each screen finds its stage: the same entry functions the CLI calls.

A stage is looked up when a screen is shown, not when the app starts, so a
build without a stage still opens and says which stage is missing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StageEntry:
    stage: str
    module: str
    function: str

    def unavailable_reason(self) -> str | None:
        """None when the entry function can be imported, else why not (for the panel)."""
        try:
            module = importlib.import_module(self.module)
        except ImportError as exc:
            return f"{self.module} could not be imported ({exc})."
        if not callable(getattr(module, self.function, None)):
            return f"{self.module} has no {self.function}()."
        return None

    def load(self) -> Any:
        return getattr(importlib.import_module(self.module), self.function)


STAGES: dict[str, StageEntry] = {
    "generate": StageEntry("generate", "edgefabric.pipeline.generate.run", "generate"),
    "train": StageEntry("train", "edgefabric.pipeline.train", "train"),
    "export": StageEntry("export", "edgefabric.export.run", "export_model"),
    "chat": StageEntry("chat", "edgefabric.runtime.agent", "Agent"),
    "evaluate": StageEntry("evaluate", "edgefabric.pipeline.evaluate", "Evaluator"),
}
