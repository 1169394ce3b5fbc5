"""Training throughput: `edgefabric train` (pipeline.train.train) against a plain TRL SFTTrainer script.

Same model, same samples, same LoRA, batch, learning rate, steps and seed, run one
after the other in this process. Tokens/s = tokens the trainer saw / trainer.train()
wall time (model loading and data preparation are timed separately).

Two pairs:
- `qwen3` format: no control token to add, so both sides train with TRL's fused loss;
  the ratio is our orchestration overhead (encoding, masks, events, checkpoints off).
- `functiongemma` format: the Gemma 3 base lacks 7 control tokens; both sides add
  them, but only ours trains their embedding rows (full-logits loss, see
  pipeline/train/trainer.py), which the plain script does not do.

Model: EDGEFABRIC_BENCH_MODEL=embedded (default) is the embedded Gemma 3 270M
(`embedded:gemma3-270m`, float32, CPU); `tiny` is a random Gemma3ForCausalLM
(hidden 256, 4 layers) with a 600-token SentencePiece tokenizer, built here, for
when the CPU is too busy for the 270M (on the shared 2-core machine a 270M step took
1-2 minutes). EDGEFABRIC_BENCH_STEPS sets the steps per side (default 4, tiny 20).
Each finished row is written to the JSON at once, so a timeout keeps what was measured.
Run: `.venv/bin/python -m bench.training`; writes bench/results/training.json.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "training.json"
MODEL = os.environ.get("EDGEFABRIC_BENCH_MODEL", "embedded")
STEPS = int(os.environ.get("EDGEFABRIC_BENCH_STEPS", "20" if MODEL == "tiny" else "4"))
BATCH = 2
LR = 2e-4
SEED = 42


def _samples() -> list[Any]:
    sys.path.insert(0, str(ROOT))
    from tests.train.conftest import dataset

    return dataset(STEPS * BATCH)


def _model_dir(work: Path) -> Path:
    if MODEL == "tiny":
        sys.path.insert(0, str(ROOT))
        from tests.train.conftest import make_tiny_gemma

        return make_tiny_gemma(work / "tiny-gemma", hidden=256, layers=4)
    # Reuse the tests' converted copy when present (converting takes ~40 s and 1 GB).
    cached = ROOT / ".cache" / "test-models"
    if (cached / "cache" / "models" / "gemma3-270m-hf" / "config.json").exists():
        os.environ["EDGEFABRIC_HOME"] = str(cached)
    from edgefabric.runtime.models import EMBEDDED_GEMMA, resolve_hf_folder

    return resolve_hf_folder(EMBEDDED_GEMMA)


def ours(model_dir: Path, family: str, samples: list[Any], work: Path) -> dict[str, Any]:
    from edgefabric.config import ProjectConfig
    from edgefabric.dataset import append_samples
    from edgefabric.pipeline.train import train

    data = work / f"data-{family}"
    append_samples(data / "train.jsonl", samples)
    config = ProjectConfig.model_validate(
        {
            "model": {"family": family, "base": str(model_dir)},
            "training": {
                "max_steps": STEPS,
                "batch_size": BATCH,
                "learning_rate": LR,
                "seed": SEED,
                "merge": False,
                "lr_scheduler": "constant",
                "warmup_ratio": 0.0,
            },
        }
    )
    started = time.perf_counter()
    report = train(config, data, work / f"run-{family}").report
    total = time.perf_counter() - started
    return {
        "tokens": report["tokens_seen"],
        "train_s": report["train_runtime_s"],
        "total_s": total,
        "final_loss": report["final_loss"],
        "peak_rss_mb": report["peak_rss_mb"],
    }


def plain_trl(model_dir: Path, family: str, samples: list[Any], work: Path) -> dict[str, Any]:
    """What a user would write by hand: render text, add the tokens, SFTTrainer with a peft_config."""
    import datasets
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from trl import SFTConfig, SFTTrainer

    from edgefabric.runtime.formats import get_format

    started = time.perf_counter()
    fmt = get_format(family)
    set_seed(SEED)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.add_tokens(list(fmt.special_tokens), special_tokens=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.resize_token_embeddings(len(tokenizer))
    texts = [{"text": fmt.render(s.messages, s.tools)} for s in samples]
    args = SFTConfig(
        output_dir=str(work / f"plain-{family}"),
        max_steps=STEPS,
        per_device_train_batch_size=BATCH,
        learning_rate=LR,
        lr_scheduler_type="constant",
        seed=SEED,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        bf16=False,
        disable_tqdm=True,
        dataset_kwargs={"add_special_tokens": False},
    )
    peft = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=datasets.Dataset.from_list(texts),
        processing_class=tokenizer,
        peft_config=peft,
    )
    result = trainer.train()
    total = time.perf_counter() - started
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    import psutil

    return {
        "tokens": int(trainer._total_train_tokens),
        "train_s": result.metrics["train_runtime"],
        "total_s": total,
        "final_loss": losses[-1] if losses else None,
        "peak_rss_mb": psutil.Process().memory_info().rss / 2**20,
    }


def main(argv: list[str] | None = None) -> None:  # takes no options; argv for the runner
    import torch

    # On a busy shared machine one thread per process beats two (OpenMP threads wait on each other).
    torch.set_num_threads(int(os.environ.get("EDGEFABRIC_BENCH_THREADS", os.cpu_count() or 1)))
    samples = _samples()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_dir = _model_dir(work)
        for family in ("qwen3", "functiongemma"):
            # plain first, then ours, so neither benefits from warmer caches systematically
            plain = plain_trl(model_dir, family, samples, work)
            mine = ours(model_dir, family, samples, work)
            for name, result in (("plain TRL", plain), ("edgefabric", mine)):
                result["tokens_per_s"] = result["tokens"] / result["train_s"]
                result["s_per_step"] = result["train_s"] / STEPS
                rows.append({"format": family, "trainer": name, **result})
            _write(rows, {})
    ratios = {}
    for family in ("qwen3", "functiongemma"):
        a, b = (r for r in rows if r["format"] == family)
        ratios[family] = b["tokens_per_s"] / a["tokens_per_s"]

    print(f"model {_model_name()}, fp32, CPU, {STEPS} steps x batch {BATCH}, LoRA r16 q/k/v/o")
    header = (
        f"{'format':<14}{'trainer':<12}{'tokens':>8}{'train s':>9}{'s/step':>8}{'tok/s':>8}{'total s':>9}{'RSS MB':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['format']:<14}{r['trainer']:<12}{r['tokens']:>8}{r['train_s']:>9.1f}{r['s_per_step']:>8.2f}"
            f"{r['tokens_per_s']:>8.1f}{r['total_s']:>9.1f}{r['peak_rss_mb']:>8.0f}"
        )
    for family, ratio in ratios.items():
        print(f"edgefabric / plain TRL tokens/s, {family}: {ratio:.3f}")
    _write(rows, ratios)
    print(f"wrote {RESULTS}")


def _threads() -> int:
    import torch

    return int(torch.get_num_threads())


def _model_name() -> str:
    if MODEL == "tiny":
        return "random Gemma3ForCausalLM (hidden 256, 4 layers, 600-token vocabulary)"
    return "embedded:gemma3-270m (Gemma 3 270M)"


def _write(rows: list[dict[str, Any]], ratios: dict[str, float]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": _model_name(),
        "dtype": "float32",
        "steps": STEPS,
        "batch_size": BATCH,
        "machine": {"cpus": os.cpu_count(), "torch_threads": _threads(), "platform": platform.platform()},
        "load_average": os.getloadavg(),
        "rows": rows,
        "ratio_tokens_per_s": ratios,
    }
    tmp = RESULTS.with_name(RESULTS.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(RESULTS)


if __name__ == "__main__":
    main()
