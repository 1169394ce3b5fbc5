"""A LoRA adapter merged into its base one tensor at a time, from the files to a file.

PEFT's `merge_and_unload` merges a model held in memory: the whole float32 base
(1.07 GB for Gemma 3 270M), and, when tokens were added, `resize_token_embeddings`
allocates the grown 262k x 640 matrix (671 MB) while the old one is still alive. That
made the merge the peak of a training run (3328 MiB). Here each base tensor is read
from its safetensors file, changed, and written before the next one is read; the
embedding goes through in chunks of rows. The peak is one chunk plus the largest
changed matrix (a few MB for the 270M).

The changes are PEFT 0.21's own rules, which `tests/train/test_merge.py` checks
against `merge_and_unload` tensor by tensor:
- LoRA on a Linear: `W + (B @ A) * scaling`, with `scaling = lora_alpha / r`
  (`lora_alpha / sqrt(r)` with `use_rslora`) (peft/tuners/lora/layer.py,
  `LoraLayer.update_layer`, `Linear.get_delta_weight` and `Linear.merge`);
- TrainableTokens: rows `token_indices` of the layer's weight replaced by
  `trainable_tokens_delta` (peft/tuners/trainable_tokens/layer.py, `merge`); a tied
  output layer is the same tensor, saved once;
- rows past the base's vocabulary (tokens added for training) are all trained rows
  (TrainableTokens), so the output has `len(tokenizer)` rows with no start values needed.

What PEFT can express beyond that (DoRA, rank or alpha patterns, LoRA bias,
`modules_to_save`, fan-in-fan-out layers, an untied output layer that grew, weights
not in safetensors): `merge_plan` returns the reason instead, and the caller merges
with PEFT in memory. Every floating tensor is written as float32, as the in-memory
merge of a float32 base does.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgefabric.pipeline.train.safetensors_stream import (
    StreamingSafetensorsWriter,
    TensorSpec,
    read_rows,
    read_specs,
    spec_of,
)

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
# Files of a PEFT adapter folder that are not the tokenizer's (the rest is copied into the merged folder).
ADAPTER_FILES = {ADAPTER_WEIGHTS, ADAPTER_CONFIG, "README.md"}
PEFT_PREFIX = "base_model.model."
ROWS_PER_CHUNK = 16384  # of the embedding: 40 MB of float32 at width 640


@dataclass
class MergePlan:
    """What to write: the output tensors, where each comes from, and what changes it."""

    specs: list[TensorSpec]
    sources: dict[str, Path]  # output tensor name -> base safetensors file
    base_rows: dict[str, int]  # output tensor name -> its row count in the base (for tensors that grow)
    lora: dict[str, tuple[str, str]] = field(default_factory=dict)  # tensor name -> (A key, B key)
    scaling: float = 1.0
    token_rows: dict[str, tuple[list[int], str]] = field(default_factory=dict)  # tensor -> (rows, delta key)
    vocab_size: int = 0


def _base_files(base_dir: Path) -> dict[str, Path] | str:
    """Tensor name -> the safetensors file holding it, or why the folder cannot be streamed."""
    single = base_dir / "model.safetensors"
    if single.exists():
        return dict.fromkeys(read_specs(single), single)
    index = base_dir / "model.safetensors.index.json"
    if index.exists():
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        return {name: base_dir / file for name, file in weight_map.items()}
    return f"{base_dir} holds no safetensors weights"


def _embedding_names(base_dir: Path) -> tuple[str, str | None]:
    """The parameter names of the input embedding and of an untied output layer (None when tied),
    from the model class built on the meta device (no memory)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(base_dir)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    names = {id(p): n for n, p in model.named_parameters()}
    embedding = names[id(model.get_input_embeddings().weight)]
    output = model.get_output_embeddings()
    if output is None or output.weight is model.get_input_embeddings().weight:
        return embedding, None
    return embedding, names[id(output.weight)]


# Adapter settings the streaming merge implements only at these values (PEFT's defaults).
PLAIN_SETTINGS: dict[str, Any] = {
    "peft_type": "LORA",
    "use_dora": False,
    "fan_in_fan_out": False,
    "lora_bias": False,
    "bias": "none",
    "rank_pattern": {},
    "alpha_pattern": {},
    "modules_to_save": None,
    "layer_replication": None,
}
LORA_A, LORA_B, TOKEN_DELTA = ".lora_A.weight", ".lora_B.weight", ".token_adapter.trainable_tokens_delta"


def merge_plan(adapter_dir: Path, base_dir: Path, vocab_size: int) -> MergePlan | str:
    """The plan for merging `adapter_dir` into `base_dir` with `vocab_size` rows (len(tokenizer)),
    or the reason it has to go through PEFT's in-memory merge."""
    import torch

    config = json.loads((adapter_dir / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    unusual = [f"{k}={config[k]!r}" for k, plain in PLAIN_SETTINGS.items() if config.get(k) not in (None, plain)]
    if unusual:
        return "the adapter uses " + ", ".join(unusual)
    files = _base_files(base_dir)
    if isinstance(files, str):
        return files
    specs = {name: spec for path in sorted(set(files.values())) for name, spec in read_specs(path).items()}
    embedding, output = _embedding_names(base_dir)
    if embedding not in specs:
        return f"the base has no tensor {embedding}"
    base_vocab = specs[embedding].shape[0]
    rows = max(vocab_size, base_vocab)
    if output is not None and rows > base_vocab:
        return "the base's output layer is not tied to its embedding and would grow"

    plan = MergePlan(specs=[], sources=files, base_rows={}, vocab_size=rows)
    r, alpha = int(config["r"]), float(config["lora_alpha"])
    plan.scaling = alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r
    adapter = read_specs(adapter_dir / ADAPTER_WEIGHTS)
    for key in adapter:
        name = key.removeprefix(PEFT_PREFIX)
        if name.endswith(LORA_A) and key.replace(LORA_A, LORA_B) in adapter:
            plan.lora[name.removesuffix(LORA_A) + ".weight"] = (key, key.replace(LORA_A, LORA_B))
        elif name.endswith(TOKEN_DELTA):
            layer = name.removesuffix(TOKEN_DELTA)
            indices = _token_indices(config, layer)
            if indices is None:
                return f"the adapter config gives no token indices for {layer}"
            plan.token_rows[layer + ".weight"] = (indices, key)
        elif not name.endswith(LORA_B):
            return f"adapter tensor {key} is neither LoRA nor trainable tokens"
    missing = sorted(set(plan.lora) - set(specs)) + sorted(set(plan.token_rows) - set(specs))
    if missing:
        return f"the base has no tensor {missing[0]} for the adapter"
    if set(plan.lora) & set(plan.token_rows):
        return "a tensor has both LoRA and trainable tokens"
    if set(range(base_vocab, rows)) - set(plan.token_rows.get(embedding, ([], ""))[0]):
        return "rows past the base's vocabulary are not all trained rows"

    for name, spec in specs.items():
        dtype = getattr(torch, spec.dtype)
        dtype = torch.float32 if dtype.is_floating_point else dtype
        plan.specs.append(spec_of(name, dtype, (rows, *spec.shape[1:]) if name == embedding else spec.shape))
        plan.base_rows[name] = spec.shape[0] if spec.shape else 0
    return plan


def _token_indices(config: dict[str, Any], layer: str) -> list[int] | None:
    """The token indices the adapter config gives for `layer` (keys are module-name suffixes)."""
    indices = config.get("trainable_token_indices") or {}
    if isinstance(indices, list):  # a plain list means the input embedding
        return [int(i) for i in indices]
    for suffix, ids in indices.items():
        if layer == suffix or layer.endswith("." + suffix):
            return [int(i) for i in ids]
    return None


def write_merged(plan: MergePlan, adapter_dir: Path, base_dir: Path, out_dir: Path) -> None:
    """Write `out_dir/model.safetensors` (every base tensor, merged), config.json with the grown vocabulary,
    generation_config.json, the adapter folder's tokenizer files and the base's tokenizer.model."""
    import torch
    from transformers import AutoConfig

    adapter_weights = adapter_dir / ADAPTER_WEIGHTS
    with StreamingSafetensorsWriter(out_dir / "model.safetensors", plan.specs, {"format": "pt"}) as writer:
        for spec in plan.specs:
            source = plan.sources[spec.name]
            if spec.name in plan.lora:
                a_key, b_key = plan.lora[spec.name]
                weight = _as_float32(read_rows(source, spec.name))
                lora_a = read_rows(adapter_weights, a_key).float()
                lora_b = read_rows(adapter_weights, b_key).float()
                weight += (lora_b @ lora_a) * plan.scaling
                writer.write(spec.name, weight)
            elif spec.name in plan.token_rows or (spec.shape and spec.shape[0] > ROWS_PER_CHUNK):
                indices, delta_key = plan.token_rows.get(spec.name, ([], ""))
                trained = read_rows(adapter_weights, delta_key).float() if delta_key else None
                _copy_rows(writer, spec, source, plan.base_rows[spec.name], indices, trained)
            else:
                writer.write(spec.name, _as_float32(read_rows(source, spec.name)))

    config = AutoConfig.from_pretrained(base_dir)
    config.get_text_config().vocab_size = plan.vocab_size
    config.dtype = torch.float32
    config.save_pretrained(out_dir)
    if (base_dir / "generation_config.json").exists():
        shutil.copy2(base_dir / "generation_config.json", out_dir / "generation_config.json")
    for path in adapter_dir.iterdir():
        if path.is_file() and path.name not in ADAPTER_FILES:
            shutil.copy2(path, out_dir / path.name)
    _copy_tokenizer_model(base_dir, out_dir)


def _as_float32(tensor: Any) -> Any:
    return tensor.float() if tensor.is_floating_point() else tensor


def _copy_rows(
    writer: StreamingSafetensorsWriter,
    spec: TensorSpec,
    source: Path,
    base_rows: int,
    indices: list[int],
    trained: Any,
) -> None:
    """Write `spec` a chunk of rows at a time: the base's rows, then row `indices[n]` replaced by
    `trained[n]`; rows past `base_rows` exist only in `trained` (`merge_plan` checked that)."""
    import torch

    for start in range(0, spec.shape[0], ROWS_PER_CHUNK):
        stop = min(spec.shape[0], start + ROWS_PER_CHUNK)
        chunk = torch.empty(stop - start, *spec.shape[1:], dtype=torch.float32)
        if start < base_rows:
            chunk[: min(stop, base_rows) - start] = read_rows(source, spec.name, start, min(stop, base_rows))
        for n, row in enumerate(indices):
            if start <= row < stop:
                chunk[row - start] = trained[n]
        writer.write(spec.name, chunk)


def merge_adapter(adapter_dir: Path, base_dir: Path, out_dir: Path, vocab_size: int) -> str | None:
    """Merge `adapter_dir` into `base_dir`, writing an HF model folder into `out_dir`, tensor by tensor.

    `vocab_size` is len(tokenizer) of the adapter. Returns None when done, or the reason
    the adapter needs PEFT's in-memory merge (then nothing was written).
    """
    plan = merge_plan(adapter_dir, base_dir, vocab_size)
    if isinstance(plan, str):
        return plan
    write_merged(plan, adapter_dir, base_dir, out_dir)
    return None


def merge_with_peft(adapter_dir: Path, base_dir: Path, out_dir: Path) -> None:
    """PEFT's in-memory merge of `adapter_dir` into a float32 copy of the base (resized to the adapter's
    tokenizer): the whole model in memory, for what `merge_plan` does not implement."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(adapter_dir)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    if base.get_input_embeddings().weight.shape[0] < len(tokenizer):
        # The added rows' values come from the adapter (TrainableTokens), so their start values do not matter.
        base.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    save_merged_model(PeftModel.from_pretrained(base, adapter_dir), tokenizer, base_dir, out_dir)


def save_merged_model(model: Any, tokenizer: Any, base_dir: Path, out_dir: Path) -> None:
    """A PEFT model's base + LoRA (+ new token rows) folded into plain weights: an HF folder anything can load."""
    merged = model.merge_and_unload()
    merged.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    _copy_tokenizer_model(base_dir, out_dir)


def _copy_tokenizer_model(base_dir: Path, out_dir: Path) -> None:
    # GGUF conversion of a SentencePiece model needs the original tokenizer.model next to tokenizer.json.
    if (base_dir / "tokenizer.model").exists():
        shutil.copy2(base_dir / "tokenizer.model", out_dir / "tokenizer.model")
