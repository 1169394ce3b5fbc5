"""Fine-tuning: LoRA on a generated dataset, with TRL+PEFT (CPU/CUDA/MPS) or Unsloth (CUDA).

`train(config, data_dir, out_dir)` in `run` is the entry point; the CLI and the TUI call it.
Heavy libraries are imported inside functions, so importing this package is cheap.
"""

from __future__ import annotations

from edgefabric.pipeline.train.layout import RunLayout
from edgefabric.pipeline.train.run import TrainResult, train

__all__ = ["RunLayout", "TrainResult", "train"]
