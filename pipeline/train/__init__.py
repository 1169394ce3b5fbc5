"""Fine-tuning: LoRA on a generated dataset, with TRL+PEFT (CPU/CUDA/MPS) or Unsloth (CUDA).

`train(config, data_dir, out_dir)` in `run` is the entry point; the CLI (`edgefabric
train`) and the TUI call it. Heavy libraries are imported inside functions, so
importing this package is cheap. Modules, one concept each:

- `data`: samples -> input_ids + labels (-100 outside model-written text), skips counted
- `tokens`: add the format's control tokens a tokenizer lacks, resize the embeddings
- `token_rows`: a cheap forward for the trained rows of those tokens (same values as PEFT's)
- `backends`: `trl` and `unsloth` behind one interface; `choose_backend` decides and says why
- `trainer`: TRL's SFTTrainer with the loss on labelled positions only, a chunk of logits at a time
- `progress`: TrainerCallback -> edgefabric.events (step, loss, val loss, tokens/s, ETA, RSS)
- `merge`: the adapter merged into the base a tensor at a time, from files to a file (PEFT's rules)
- `safetensors_stream`: a safetensors file written a part of a tensor at a time; row-range reads
- `layout`: the run folder (config.yaml, checkpoints/, adapter/, merged/, train_report.json, events.jsonl)
- `run`: the orchestration

Cost on the 2-core CPU machine (embedded Gemma 3 270M in bf16, the demo's data and
settings: batch 4, ~1,800 tokens a step, LoRA r16 q/k/v/o + 7 new token rows): ~10 s
a step (179 tokens/s, 1 thread, load ~2) without gradient checkpointing; the whole
run (load, training, merge) within 2.5 GB with it, as the demo trains. README,
"Speed on CPU" and "Memory on CPU", has the measurements.
"""

from __future__ import annotations

from edgefabric.pipeline.train.layout import RunLayout
from edgefabric.pipeline.train.run import TrainResult, train

__all__ = ["RunLayout", "TrainResult", "train"]
