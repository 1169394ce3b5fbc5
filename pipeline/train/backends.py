"""Two training backends behind one interface.

- `trl`: transformers model + PEFT LoRA, trained by TRL's SFTTrainer, on CPU, CUDA or MPS.
- `unsloth`: Unsloth's FastLanguageModel, 4-bit QLoRA, CUDA only (optional extra `gpu`).

`choose_backend` is pure (the facts about the machine are arguments), so the
selection rules are tested without a GPU. Unsloth is imported only when chosen:
importing it patches transformers and TRL globally.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from edgefabric.config import LoraConfig
from edgefabric.errors import EdgeFabricError
from edgefabric.pipeline.train.tokens import add_special_tokens, resize_embeddings

BackendName = Literal["trl", "unsloth"]
GPU_EXTRA_HINT = "pip install 'edgefabric[gpu]' (unsloth, unsloth_zoo, bitsandbytes) on a CUDA machine"


@dataclass(frozen=True)
class BackendChoice:
    name: BackendName
    reason: str


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def unsloth_installed() -> bool:
    return importlib.util.find_spec("unsloth") is not None


def choose_backend(requested: str, *, cuda: bool, unsloth: bool) -> BackendChoice:
    """Which backend runs, and why (the reason is shown to the user)."""
    if requested == "trl":
        return BackendChoice("trl", "training.backend is trl")
    if requested == "unsloth":
        if not cuda:
            raise EdgeFabricError(
                "training.backend is unsloth, but no CUDA GPU is available (Unsloth trains on NVIDIA GPUs)",
                "set training.backend to auto or trl to train with TRL+PEFT on this machine",
            )
        if not unsloth:
            raise EdgeFabricError("training.backend is unsloth, but unsloth is not installed", GPU_EXTRA_HINT)
        return BackendChoice("unsloth", "training.backend is unsloth")
    if requested != "auto":
        raise EdgeFabricError(f"unknown training backend {requested!r}", "use auto, trl or unsloth")
    if cuda and unsloth:
        return BackendChoice("unsloth", "auto: a CUDA GPU and unsloth are available (4-bit QLoRA)")
    if cuda:
        return BackendChoice("trl", f"auto: CUDA GPU found but unsloth is not installed ({GPU_EXTRA_HINT})")
    return BackendChoice("trl", "auto: no CUDA GPU, so TRL+PEFT")


def resolve_backend(requested: str) -> BackendChoice:
    return choose_backend(requested, cuda=cuda_available(), unsloth=unsloth_installed())


class Backend(Protocol):
    name: BackendName

    def load(self, model_dir: Path, max_length: int) -> tuple[Any, Any]:
        """The base model and its tokenizer."""
        ...

    def add_tokens(self, model: Any, tokenizer: Any, tokens: tuple[str, ...]) -> list[int]:
        """Add missing control tokens, resize the embeddings; the new token ids."""
        ...

    def add_lora(self, model: Any, lora: LoraConfig, new_token_ids: list[int], seed: int, checkpointing: bool) -> Any:
        """The model with LoRA adapters (and the new token rows) trainable."""
        ...

    def trainer_args(self) -> dict[str, Any]:
        """SFTConfig fields this backend needs (device, precision)."""
        ...


def _device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX-BF16; Linux /proc/cpuinfo flags)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def cpu_bf16(precision: str, *, has_bf16: bool) -> bool:
    """Whether a CPU run trains in bf16 for `training.precision` (auto, fp32 or bf16).

    Raises EdgeFabricError for bf16 on a CPU without native bf16 (it would run emulated, slower than fp32).
    """
    if precision == "fp32":
        return False
    if precision == "bf16" and not has_bf16:
        raise EdgeFabricError(
            "training.precision is bf16, but this CPU has no AVX512-BF16 or AMX (bf16 would be emulated, slower)",
            "set training.precision to auto or fp32",
        )
    return has_bf16


def cpu_threads(requested: int | None, *, cores: int, load: float) -> tuple[int, str]:
    """Torch threads for a CPU run, and why: `requested` (training.threads), else the free cores.

    Free = `cores` minus the other work running (`load`: cores' worth of CPU other
    processes use, `runtime.threads.current_load`, rounded), at least 1. No core is
    reserved: training is the foreground job (on the idle 2-core VM, 2 threads ran the
    demo's training at ~200 tokens/s against ~117 on 1). OpenMP threads wait for each other at every operation, so
    one that shares its core with another busy process stalls all of them: on the
    2-core VM at load ~3, a 270M step took 10-28 s on 2 threads and 1.6-1.9 s on 1.
    """
    if requested is not None:
        return requested, "training.threads"
    busy = int(load + 0.5)
    free = max(1, min(cores, cores - busy))
    return free, f"{cores} core(s), others busy {load:.1f}: {free} free"


# oneDNN's primitive cache and ideep's LRU cache (the kernels behind bf16 matrix products and SDPA's CPU
# flash attention on CPU) keep a compiled kernel, with its buffers, per shape they have seen, up to 1,024 each.
# Padding-free batches give every step new shapes: with the defaults, 20 demo steps grew from 1,925 to 2,390 MiB
# (peak 2,511). With none kept (capacity 0) every call compiles its kernels again: the flash-attention backward
# took 23 ms instead of 6.4 and a 318 x 640 x 2048 product 2.7 ms instead of 2.0, and the demo's training ran at
# 158 tokens/s. 64 kernels cover a step's shapes: 243 tokens/s, peak 2,218 MiB, no growth over the 20 steps
# (capacities 16/32/128 gave 228/217/245 tokens/s, within noise). ideep's LRU cache stays off: alone it grew
# 185 MB in 40 iterations of new shapes, and off it cost the flash backward 1-2 ms and the products nothing.
# Measured 2026-11-30 on the 2-core VM (README, "Memory on CPU").
SHAPE_CACHE_SETTINGS = {"ONEDNN_PRIMITIVE_CACHE_CAPACITY": "64", "LRU_CACHE_CAPACITY": "1"}


def limit_shape_caches() -> None:
    """Bound oneDNN's per-shape kernel cache to a step's shapes and turn ideep's off, unless the user set them.

    They read these environment variables at their first use, so this must run before
    the process's first bf16 matrix product (it does nothing after that, which costs
    memory, not correctness).
    """
    for name, value in SHAPE_CACHE_SETTINGS.items():
        os.environ.setdefault(name, value)


class TrlBackend:
    name: BackendName = "trl"

    def __init__(self, precision: str = "auto") -> None:
        self.device = _device()
        # bf16 on a CPU with AVX512-BF16/AMX: the frozen weights are stored in bf16 (half the memory) and the
        # trainer's bf16 autocast runs the matrix products in bf16; LoRA and the new token rows stay float32
        # (PEFT upcasts adapters). Measured on the 270M: see bench/README.md (training).
        self.cpu_bf16 = self.device == "cpu" and cpu_bf16(precision, has_bf16=cpu_has_bf16())

    def load(self, model_dir: Path, max_length: int) -> tuple[Any, Any]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        bf16 = self.cpu_bf16 or (self.device == "cuda" and torch.cuda.is_bf16_supported())
        dtype = torch.bfloat16 if bf16 else torch.float32
        # The weights first: loading maps the float32 file while the copies are made (the run's other peak),
        # and the tokenizer (~330 MB for Gemma's 262k vocabulary) is not resident yet then.
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
        if self.device == "cpu":
            from edgefabric.pipeline.train.attention import use_budgeted_attention

            use_budgeted_attention(model)  # eager where its L x L weights stay small, SDPA beyond
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        return model, tokenizer

    def add_tokens(self, model: Any, tokenizer: Any, tokens: tuple[str, ...]) -> list[int]:
        new_ids = add_special_tokens(tokenizer, tokens)
        resize_embeddings(model, tokenizer)
        return new_ids

    def add_lora(self, model: Any, lora: LoraConfig, new_token_ids: list[int], seed: int, checkpointing: bool) -> Any:
        from peft import LoraConfig as PeftLoraConfig
        from peft import get_peft_model
        from transformers import set_seed

        set_seed(seed)  # LoRA's A matrices start random
        config = PeftLoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=list(lora.target_modules),
            task_type="CAUSAL_LM",
            # Only the added rows of the embedding train (not all 262k): PEFT's TrainableTokens,
            # which also follows a tied output layer (Gemma ties lm_head to embed_tokens).
            trainable_token_indices={"embed_tokens": new_token_ids} if new_token_ids else None,
        )
        if checkpointing:
            model.enable_input_require_grads()
        peft_model = get_peft_model(model, config)
        if self.device == "cpu":
            from edgefabric.pipeline.train.lora_inputs import use_cheap_lora_inputs

            use_cheap_lora_inputs(peft_model)
        if new_token_ids:
            import functools

            from edgefabric.pipeline.train.token_rows import use_fast_token_rows

            use_fast_token_rows(peft_model)
            # PEFT would save the whole resized embedding and output matrices (1.3 GB on Gemma) in the adapter
            # and in every checkpoint; the new rows are already saved as TrainableTokens. Loading the adapter
            # then needs the base resized to len(tokenizer) first (the adapter folder has the tokenizer).
            peft_model.save_pretrained = functools.partial(peft_model.save_pretrained, save_embedding_layers=False)
        return peft_model

    def trainer_args(self) -> dict[str, Any]:
        import torch

        if self.device == "cpu":
            # Always explicit: SFTConfig defaults to bf16, which on CPU needs use_cpu (then accelerate autocasts).
            return {"use_cpu": True, "bf16": self.cpu_bf16, "fp16": False}
        if self.device == "cuda":
            bf16 = bool(torch.cuda.is_bf16_supported())
            return {"bf16": bf16, "fp16": not bf16}
        return {"bf16": False, "fp16": False}


class UnslothBackend:
    """4-bit QLoRA through Unsloth; needs CUDA (checked by `choose_backend` before construction)."""

    name: BackendName = "unsloth"

    def __init__(self) -> None:
        self._fast: Any = None

    def _unsloth(self) -> Any:
        if self._fast is None:
            try:
                import unsloth
            except ImportError as exc:
                raise EdgeFabricError(f"unsloth could not be imported ({exc})", GPU_EXTRA_HINT) from None
            self._fast = unsloth
        return self._fast

    def load(self, model_dir: Path, max_length: int) -> tuple[Any, Any]:
        unsloth = self._unsloth()
        model, tokenizer = unsloth.FastLanguageModel.from_pretrained(
            model_name=str(model_dir), max_seq_length=max_length, load_in_4bit=True, dtype=None
        )
        return model, tokenizer

    def add_tokens(self, model: Any, tokenizer: Any, tokens: tuple[str, ...]) -> list[int]:
        from edgefabric.pipeline.train.tokens import missing_tokens

        missing = missing_tokens(tokenizer, tokens)
        if missing:
            # Unsloth's own helper resizes a 4-bit model correctly (mean-initialised rows).
            self._unsloth().add_new_tokens(model, tokenizer, new_tokens=missing)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return [int(tokenizer.convert_tokens_to_ids(t)) for t in missing]

    def add_lora(self, model: Any, lora: LoraConfig, new_token_ids: list[int], seed: int, checkpointing: bool) -> Any:
        unsloth = self._unsloth()
        return unsloth.FastLanguageModel.get_peft_model(
            model,
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=list(lora.target_modules),
            random_state=seed,
            use_gradient_checkpointing="unsloth" if checkpointing else False,
            # Unsloth trains new token rows through full embed/lm_head copies.
            modules_to_save=["embed_tokens", "lm_head"] if new_token_ids else None,
        )

    def trainer_args(self) -> dict[str, Any]:
        import torch

        bf16 = bool(torch.cuda.is_bf16_supported())
        return {"bf16": bf16, "fp16": not bf16}


def make_backend(choice: BackendChoice, precision: str = "auto") -> Backend:
    """The backend object for `choice`; `precision` is `training.precision` (used by the TRL backend on CPU)."""
    return UnslothBackend() if choice.name == "unsloth" else TrlBackend(precision)
