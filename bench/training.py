"""Training throughput: `edgefabric train` against a plain TRL SFTTrainer script (and Unsloth's CPU path).

Same model, same encoded samples (token ids and loss labels), same LoRA (r 16,
alpha 32, dropout 0.05, q/k/v/o), batch, learning rate, steps and seed, in the
`functiongemma` format: the Gemma 3 base lacks 7 control tokens, which every side
adds and trains (their embedding rows; Gemma ties the output layer to them).

- plain TRL: SFTTrainer with `peft_config` (PEFT's TrainableTokens for the new
  rows), fp32, padded batches. TRL 1.16's fused LM head fails on a TrainableTokens
  output layer ("'TrainableTokensWrapper' object has no attribute 'bias'"), so the
  script's one change is `compute_loss` = transformers' `Trainer.compute_loss`
  (the model's own full-logits loss), which is what a user of TRL has to write.
- Unsloth: its CPU fallback (`FastLanguageModel`, no 4-bit on CPU), new rows
  through its `add_new_tokens` and `modules_to_save` embedding/output copies.
  Installed next to the venv with `pip install --no-deps --target .cache/unsloth-pkgs
  unsloth unsloth_zoo` (it pins transformers <= 5.17 and trl <= 1.15, older than
  ours); the row says why when it cannot run.
- edgefabric: `pipeline.train.train` with its defaults for this machine, merged/
  included (so its peak RSS covers the merge); edgefabric+gc the same with
  `training.gradient_checkpointing` on, as the demo trains.

Each side runs in its own process (its own peak RSS, VmHWM, and threads), one after
the other. Tokens/s = real tokens (padding excluded) the trainer saw / trainer.train()
wall time; model loading and data preparation are timed separately (total s).

Model: EDGEFABRIC_BENCH_MODEL=embedded (default), the embedded Gemma 3 270M
(float32 HF folder converted from the GGUF); `tiny` is a random Gemma3ForCausalLM
(hidden 256, 4 layers, 600-token vocabulary) for a quick look. EDGEFABRIC_BENCH_STEPS
sets the steps per side (default 8), EDGEFABRIC_BENCH_THREADS the torch threads
(default: EdgeFabric's rule, the cores other work leaves free, decided once before
the first side and used by all), EDGEFABRIC_BENCH_SIDES a comma list (default all four).
Run: `.venv/bin/python -m bench.training`; writes bench/results/training.json
(each finished row at once, so a timeout keeps what was measured).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SIDE_NAMES = ("plain TRL", "Unsloth", "edgefabric", "edgefabric+gc")
RESULTS = ROOT / "bench" / "results" / "training.json"
UNSLOTH_DIR = ROOT / ".cache" / "unsloth-pkgs"
MODEL = os.environ.get("EDGEFABRIC_BENCH_MODEL", "embedded")
STEPS = int(os.environ.get("EDGEFABRIC_BENCH_STEPS", "8"))
THREADS = os.environ.get("EDGEFABRIC_BENCH_THREADS")  # unset: each side gets EdgeFabric's free-cores rule
SIDES = tuple(os.environ.get("EDGEFABRIC_BENCH_SIDES", ",".join(SIDE_NAMES)).split(","))
FAMILY = "functiongemma"
BATCH = 2
LR = 2e-4
SEED = 42
LORA = {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
LOSS_STEPS = tuple(s for s in (1, 2, 4, 8, 16, 32) if s <= STEPS)


@dataclass(frozen=True)
class Settings:
    """What every side trains with (bench.learning uses the demo's)."""

    steps: int = STEPS
    batch: int = BATCH
    grad_accum: int = 1
    learning_rate: float = LR
    scheduler: str = "constant"
    warmup_ratio: float = 0.0
    seed: int = SEED


BENCH = Settings()


def _shared_sft_args(out: Path, settings: Settings) -> dict[str, Any]:
    """The SFTConfig settings every trainer side shares (steps, batch, schedule, seed, logging)."""
    return {
        "output_dir": str(out),
        "max_steps": settings.steps,
        "per_device_train_batch_size": settings.batch,
        "gradient_accumulation_steps": settings.grad_accum,
        "learning_rate": settings.learning_rate,
        "lr_scheduler_type": settings.scheduler,
        "warmup_steps": settings.warmup_ratio,  # transformers 5: a value below 1 is a ratio of the steps
        "seed": settings.seed,
        "data_seed": settings.seed,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "disable_tqdm": True,
    }


def _samples() -> list[Any]:
    sys.path.insert(0, str(ROOT))
    from tests.train.conftest import dataset

    return dataset(STEPS * BATCH)


def _model_dir(work: Path) -> Path:
    if MODEL == "tiny":
        sys.path.insert(0, str(ROOT))
        from tests.train.conftest import make_tiny_gemma

        return make_tiny_gemma(work / "tiny-gemma", hidden=256, layers=4)
    # The tests' converted copy (converting takes ~40 s and 1 GB).
    os.environ["EDGEFABRIC_HOME"] = str(ROOT / ".cache" / "test-models")
    from edgefabric.runtime.models import EMBEDDED_GEMMA, resolve_hf_folder

    return resolve_hf_folder(EMBEDDED_GEMMA)


def _encoded(model_dir: Path, samples: list[Any]) -> tuple[Any, list[dict[str, Any]], list[int]]:
    """The tokenizer with the control tokens added, the encoded rows, and the new token ids."""
    from transformers import AutoTokenizer

    from edgefabric.pipeline.train.data import encode_samples
    from edgefabric.pipeline.train.tokens import add_special_tokens
    from edgefabric.runtime.formats.registry import get_format

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    new_ids = add_special_tokens(tokenizer, get_format(FAMILY).special_tokens)
    return tokenizer, encode_samples(samples, get_format(FAMILY), tokenizer).dataset_rows(), new_ids


def _losses(log_history: list[dict[str, Any]]) -> list[float]:
    return [float(h["loss"]) for h in log_history if "loss" in h]


def side_plain(
    model_dir: Path, samples: list[Any], work: Path, settings: Settings = BENCH, merged: Path | None = None
) -> dict[str, Any]:
    """What a user writes by hand with TRL and PEFT (see the module doc for its one change); with `merged`,
    also PEFT's `merge_and_unload` saved there with the tokenizer (what such a user exports)."""
    import datasets
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, Trainer, set_seed
    from trl import SFTConfig, SFTTrainer

    set_seed(settings.seed)
    tokenizer, rows, new_ids = _encoded(model_dir, samples)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.resize_token_embeddings(len(tokenizer))

    class FullLogitsSFTTrainer(SFTTrainer):
        def compute_loss(self, model: Any, inputs: Any, return_outputs: bool = False, num_items_in_batch: Any = None):  # type: ignore[no-untyped-def]
            self._total_train_tokens += int(inputs["attention_mask"].sum().item())
            return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)

    args = SFTConfig(
        **_shared_sft_args(work / "plain", settings), use_cpu=True, bf16=False, gradient_checkpointing=False
    )
    lora = LORA
    peft = LoraConfig(
        r=lora["r"],
        lora_alpha=lora["alpha"],
        lora_dropout=lora["dropout"],
        target_modules=lora["target_modules"],
        trainable_token_indices={"embed_tokens": new_ids},
    )
    trainer = FullLogitsSFTTrainer(
        model=model,
        args=args,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft,
    )
    result = trainer.train()
    if merged is not None:
        from edgefabric.runtime.formats.templates import chat_template

        trainer.model.merge_and_unload().save_pretrained(merged)
        tokenizer.chat_template = chat_template(FAMILY)  # the format's own, as `edgefabric train` writes it
        tokenizer.save_pretrained(merged)
    return {
        "tokens": int(trainer._total_train_tokens),
        "train_s": result.metrics["train_runtime"],
        "losses": _losses(trainer.state.log_history),
    }


def side_unsloth(model_dir: Path, samples: list[Any], work: Path) -> dict[str, Any]:
    """Unsloth's CPU fallback with the same rows (its own model loading, token adding and LoRA)."""
    sys.path.insert(0, str(UNSLOTH_DIR))
    from unsloth import FastLanguageModel  # noqa: I001 (first: it patches transformers and TRL)
    from unsloth_zoo.tokenizer_utils import add_new_tokens  # unsloth re-exports it only when a GPU is found

    import datasets
    from transformers import set_seed
    from trl import SFTConfig, SFTTrainer

    from edgefabric.pipeline.train.tokens import missing_tokens
    from edgefabric.runtime.formats.registry import get_format

    set_seed(SEED)
    max_length = 1024
    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=str(model_dir), max_seq_length=max_length, load_in_4bit=False, dtype=None
    )
    missing = missing_tokens(tokenizer, get_format(FAMILY).special_tokens)
    add_new_tokens(model, tokenizer, new_tokens=missing)
    _, rows, new_ids = _encoded(model_dir, samples)
    if tokenizer.convert_tokens_to_ids(missing) != new_ids:
        raise RuntimeError("Unsloth's tokenizer gave the new tokens other ids than the encoded rows use")
    model = FastLanguageModel.get_peft_model(
        model,
        r=LORA["r"],
        lora_alpha=LORA["alpha"],
        lora_dropout=LORA["dropout"],
        target_modules=LORA["target_modules"],
        random_state=SEED,
        use_gradient_checkpointing=False,
        modules_to_save=["embed_tokens", "lm_head"],
    )
    args = SFTConfig(**_shared_sft_args(work / "unsloth", BENCH))
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=datasets.Dataset.from_list(rows), processing_class=tokenizer
    )
    result = trainer.train()
    return {
        "tokens": int(getattr(trainer, "_total_train_tokens", 0)) or sum(len(r["input_ids"]) for r in rows),
        "train_s": result.metrics["train_runtime"],
        "losses": _losses(trainer.state.log_history),
    }


def side_edgefabric(
    model_dir: Path,
    samples: list[Any],
    work: Path,
    settings: Settings = BENCH,
    run_dir: Path | None = None,
    checkpointing: bool = False,
) -> dict[str, Any]:
    """`edgefabric train` into `run_dir` (default: under `work`), merged/ included, so its peak RSS covers
    the merge step as a user's run does; `checkpointing` is training.gradient_checkpointing (the demo's)."""
    from edgefabric.config import ProjectConfig
    from edgefabric.dataset import append_samples
    from edgefabric.pipeline.train import train

    data = work / "data"
    append_samples(data / "train.jsonl", samples)
    config = ProjectConfig.model_validate(
        {
            "model": {"family": FAMILY, "base": str(model_dir)},
            "training": {
                "max_steps": settings.steps,
                "batch_size": settings.batch,
                "grad_accum": settings.grad_accum,
                "learning_rate": settings.learning_rate,
                "seed": settings.seed,
                "lora": LORA,
                "threads": int(os.environ["EDGEFABRIC_BENCH_THREADS"]),
                "merge": True,
                "save_every": None,
                "lr_scheduler": settings.scheduler,
                "warmup_ratio": settings.warmup_ratio,
                "gradient_checkpointing": checkpointing,
            },
        }
    )
    report = train(config, data, run_dir or work / "run").report
    return {
        "tokens": report["tokens_seen"],
        "train_s": report["train_runtime_s"],
        "losses": [h["loss"] for h in report["history"] if "loss" in h],
        "precision": report["precision"],
    }


def side_edgefabric_checkpointing(model_dir: Path, samples: list[Any], work: Path) -> dict[str, Any]:
    return side_edgefabric(model_dir, samples, work, checkpointing=True)


SIDE_FUNCTIONS = {
    "plain TRL": side_plain,
    "Unsloth": side_unsloth,
    "edgefabric": side_edgefabric,
    "edgefabric+gc": side_edgefabric_checkpointing,
}


def child(name: str, model_dir: Path, out: Path) -> None:
    """One side in this (fresh) process; writes its row as JSON to `out`."""
    import torch

    from edgefabric.runtime.memory import peak_rss_mb

    torch.set_num_threads(int(os.environ["EDGEFABRIC_BENCH_THREADS"]))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        row = SIDE_FUNCTIONS[name](model_dir, _samples(), Path(tmp))
    row["total_s"] = time.perf_counter() - started
    row["torch_threads"] = int(torch.get_num_threads())
    row["peak_rss_mb"] = peak_rss_mb()
    out.write_text(json.dumps(row))


def _threads() -> int:
    """One count for every side, decided once before the first (a side's own load would skew the next's)."""
    from edgefabric.pipeline.train.backends import cpu_threads

    return cpu_threads(int(THREADS) if THREADS else None, cores=os.cpu_count() or 1, load=os.getloadavg()[0])[0]


def _run_side(name: str, model_dir: Path, work: Path, threads: int) -> dict[str, Any]:
    out = work / f"{name.replace(' ', '_')}.json"
    log = work / f"{name.replace(' ', '_')}.log"
    command = [sys.executable, "-m", "bench.training", "--child", name, str(model_dir), str(out)]
    with log.open("w") as handle:
        env = {**os.environ, "EDGEFABRIC_BENCH_THREADS": str(threads)}
        code = subprocess.run(
            command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, check=False
        ).returncode
    if code == 0 and out.exists():
        row: dict[str, Any] = json.loads(out.read_text())
        row["tokens_per_s"] = row["tokens"] / row["train_s"]
        row["s_per_step"] = row["train_s"] / STEPS
        return row
    tail = log.read_text(errors="replace").strip().splitlines()[-3:]
    return {"error": f"exit {code}: " + " | ".join(tail)}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(argv[1], Path(argv[2]), Path(argv[3]))
        return
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_dir = _model_dir(work)
        threads = _threads()
        for name in SIDES:
            load_before = os.getloadavg()
            row = {"trainer": name, **_run_side(name, model_dir, work, threads)}
            row["load_average_before"] = load_before
            rows.append(row)
            _write(rows)
            print(f"{name}: " + json.dumps({k: v for k, v in row.items() if k != "losses"}), flush=True)
    _print(rows)
    _write(rows)
    print(f"wrote {RESULTS}")


def _ratio(row: dict[str, Any], rows: list[dict[str, Any]]) -> float | None:
    plain = next((r for r in rows if r["trainer"] == "plain TRL" and "tokens_per_s" in r), None)
    if plain is None or "tokens_per_s" not in row:
        return None
    return float(row["tokens_per_s"]) / float(plain["tokens_per_s"])


def _print(rows: list[dict[str, Any]]) -> None:
    print(
        f"model {_model_name()}, CPU, {STEPS} steps x batch {BATCH}, LoRA r16 q/k/v/o + 7 new token rows, "
        f"torch threads {'/'.join(str(r.get('torch_threads', '-')) for r in rows)}, "
        f"load average now {os.getloadavg()[0]:.1f}"
    )
    losses = "".join(f"{'loss@' + str(s):>9}" for s in LOSS_STEPS)
    header = f"{'trainer':<14}{'tokens':>7}{'tok/s':>8}{'s/step':>8}{'total s':>9}{'RSS MB':>8}{losses}{'ratio':>7}"
    print(header)
    print("-" * len(header))
    for r in rows:
        if "error" in r:
            print(f"{r['trainer']:<14} did not run: {r['error']}")
            continue
        curve = "".join(f"{r['losses'][s - 1]:>9.3f}" if len(r["losses"]) >= s else f"{'-':>9}" for s in LOSS_STEPS)
        ratio = _ratio(r, rows)
        print(
            f"{r['trainer']:<14}{r['tokens']:>7}{r['tokens_per_s']:>8.1f}{r['s_per_step']:>8.2f}{r['total_s']:>9.1f}"
            f"{r['peak_rss_mb']:>8.0f}{curve}{ratio:>7.2f}"
            if ratio is not None
            else f"{r['trainer']:<14}{r['tokens']:>7}{r['tokens_per_s']:>8.1f}{r['s_per_step']:>8.2f}"
            f"{r['total_s']:>9.1f}{r['peak_rss_mb']:>8.0f}{curve}"
        )


def _model_name() -> str:
    if MODEL == "tiny":
        return "random Gemma3ForCausalLM (hidden 256, 4 layers, 600-token vocabulary)"
    return "embedded:gemma3-270m (Gemma 3 270M)"


def _write(rows: list[dict[str, Any]]) -> None:
    import torch

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": _model_name(),
        "format": FAMILY,
        "steps": STEPS,
        "batch_size": BATCH,
        "lora": LORA,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "threads": THREADS or "free cores at each side's start (pipeline.train.backends.cpu_threads)",
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_average": os.getloadavg(),
        "rows": [{**r, "ratio_tokens_per_s": _ratio(r, rows)} for r in rows],
    }
    tmp = RESULTS.with_name(RESULTS.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(RESULTS)


if __name__ == "__main__":
    main()
