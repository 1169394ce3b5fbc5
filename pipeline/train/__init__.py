"""Fine-tuning: LoRA on a generated dataset, with TRL+PEFT (CPU/CUDA/MPS) or Unsloth (CUDA).

`train(config, data_dir, out_dir)` in `run` is the entry point; the CLI (`edgefabric
train`) and the TUI call it. Heavy libraries are imported inside functions, so
importing this package is cheap. Modules, one concept each:

- `data`: samples -> input_ids + labels (-100 outside model-written text), skips counted
- `tokens`: add the format's control tokens a tokenizer lacks, resize the embeddings
- `token_rows`: a cheap forward for the trained rows of those tokens (same values as PEFT's)
- `backends`: `trl` and `unsloth` behind one interface; `choose_backend` decides and says why
- `trainer`: TRL's SFTTrainer, with the model's own loss when new token rows train
- `progress`: TrainerCallback -> edgefabric.events (step, loss, val loss, tokens/s, ETA, RSS)
- `layout`: the run folder (config.yaml, checkpoints/, adapter/, merged/, train_report.json, events.jsonl)
- `run`: the orchestration

Cost on the 2-core CPU machine (embedded Gemma 3 270M, fp32, batch 2, ~200-340 tokens
per step, LoRA r16 q/k/v/o + 7 new token rows): peak RSS 3.2-3.4 GB; a step took
40-200 s while 5 engineers shared the 2 cores (load average 8-17); FACTS.md measured
9.1 s/step for plain TRL on an idle machine. A full run of the default project
(50 samples -> 40 train, 1 epoch, batch 2 = 20 steps) is therefore ~3-5 min of
training on an idle 2-core CPU (plus ~30 s to load the model and ~5 s to merge and
save), and 15-65 min on the shared one; 1,000 samples are 400 steps, ~1-1.5 h idle.
"""

from __future__ import annotations

from edgefabric.pipeline.train.layout import RunLayout
from edgefabric.pipeline.train.run import TrainResult, train

__all__ = ["RunLayout", "TrainResult", "train"]
