"""`train()`: one fine-tuning run from a dataset folder to an adapter (and a merged model).

Steps: check the run folder (fresh, or resuming with the same config) -> pick the
backend -> resolve and load the base model -> add missing control tokens -> encode
the splits with loss masks (skips counted) -> LoRA -> TRL's SFTTrainer with a
progress callback -> adapter (+ merged folder) written through temporary names ->
train_report.json. See `layout` for the files of a run.
"""

from __future__ import annotations

import gc
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgefabric.config import ProjectConfig, load_yaml
from edgefabric.dataset import read_samples
from edgefabric.errors import EdgeFabricError
from edgefabric.event_log import JsonlEventSink
from edgefabric.events import (
    ArtifactWritten,
    BackendChosen,
    EventSink,
    Note,
    PhaseStarted,
    StageDone,
    StageFailed,
    StageStarted,
    ignore_events,
)
from edgefabric.pipeline.train.data import (
    SKIP_REASONS,
    EncodedSplit,
    apply_max_length,
    default_max_length,
    encode_samples,
)
from edgefabric.pipeline.train.layout import RunLayout
from edgefabric.pipeline.train.progress import STAGE, make_callback, release_freed_memory
from edgefabric.pipeline.train.saved_tokenizer import keep_only_files
from edgefabric.runtime.memory import peak_rss_mb

TRAIN_FILE = "train.jsonl"
VAL_FILE = "val.jsonl"


@dataclass
class TrainResult:
    out_dir: Path
    adapter: Path
    merged: Path | None
    report: dict[str, Any] = field(default_factory=dict)


def _run_identity(config: ProjectConfig) -> dict[str, Any]:
    """What must match for --resume to continue the same run."""
    return {"model": config.model.model_dump(mode="json"), "training": config.training.model_dump(mode="json")}


def _prepare_run_dir(config: ProjectConfig, layout: RunLayout, resume: bool) -> None:
    if layout.started and not resume:
        raise EdgeFabricError(
            f"{layout.root} already holds a training run",
            "pass --resume to continue it, or choose another --out folder",
        )
    if resume and layout.config.exists():
        saved = ProjectConfig.model_validate(load_yaml(layout.config.read_text(encoding="utf-8")))
        if _run_identity(saved) != _run_identity(config):
            raise EdgeFabricError(
                f"the model or training settings differ from those {layout.root} was started with",
                f"resume with the saved config {layout.config} (and the same --max-steps), or train into a new --out",
            )
    layout.root.mkdir(parents=True, exist_ok=True)
    tmp = layout.config.with_name(layout.config.name + ".tmp")
    tmp.write_text(config.to_yaml(), encoding="utf-8")
    tmp.replace(layout.config)


def _read_split(path: Path, on_event: EventSink) -> tuple[list[Any], list[str]]:
    report = read_samples(path, strict=False)
    for line in report.bad_lines[:5]:
        on_event(Note(STAGE, f"unreadable line skipped: {line}", "warning"))
    return report.samples, report.bad_lines


@dataclass
class _Splits:
    """The dataset as read: samples and unreadable lines of each split (val is optional)."""

    train_path: Path
    val_path: Path
    train: list[Any]
    train_bad: list[str]
    val: list[Any]
    val_bad: list[str]


def _read_splits(data_dir: Path, family: str, on_event: EventSink) -> _Splits:
    """Read both splits and refuse, before any model is loaded or run file written, a train split with
    no sample that fits the chat format (empty, unreadable, or all of another format).

    Raises EdgeFabricError naming the file and the fix. Length and loss-mask checks need the tokenizer
    and come later (`encode_samples`, `apply_max_length`).
    """
    from edgefabric.pipeline.train.data import format_problem
    from edgefabric.runtime.formats.registry import get_format

    train_path, val_path = data_dir / TRAIN_FILE, data_dir / VAL_FILE
    if not train_path.exists():
        raise EdgeFabricError(
            f"{train_path} does not exist",
            f"pass --data with the folder `edgefabric generate` wrote (it holds {TRAIN_FILE} and {VAL_FILE})",
        )
    train_samples, train_bad = _read_split(train_path, on_event)
    if not train_samples:
        if train_bad:
            raise EdgeFabricError(
                f"no readable sample in {train_path}: {len(train_bad)} unreadable line(s), e.g. {train_bad[0]}",
                f"check it with `edgefabric data check {train_path}`; every line must be one Sample record",
            )
        raise EdgeFabricError(
            f"{train_path} holds no samples (the train split is empty)",
            "generate data first (`edgefabric generate CONFIG`; a run that was stopped early may have written "
            "no train sample), or pass --data with the folder that holds your train.jsonl",
        )
    fmt = get_format(family)
    problems = [format_problem(sample, fmt) for sample in train_samples]
    if all(problems):
        raise EdgeFabricError(
            f"no trainable sample in {train_path} ({len(train_samples)} read, {len(train_bad)} unreadable, "
            f"{len(train_samples)} {SKIP_REASONS['format']} ({family}); e.g. {train_samples[0].id}: {problems[0]})",
            "check the dataset with `edgefabric data check`, or set model.family to the format the data is for",
        )
    val_samples, val_bad = _read_split(val_path, on_event) if val_path.exists() else ([], [])
    return _Splits(train_path, val_path, train_samples, train_bad, val_samples, val_bad)


def _report_skips(name: str, split: EncodedSplit, on_event: EventSink) -> None:
    for reason, count in split.counts().items():
        if count:
            example = next(s for s in split.skipped if s.reason == reason)
            on_event(
                Note(
                    STAGE,
                    f"{name}: skipped {count} sample(s) that {SKIP_REASONS[reason]} "
                    f"(e.g. {example.sample_id}: {example.detail})",
                    "warning",
                )
            )


def _write_folder(target: Path, write: Callable[[Path], None]) -> None:
    """Write into `<target>.partial`, then rename: a kill never leaves half a model under the real name."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    write(partial)
    if target.exists():
        shutil.rmtree(target)
    partial.replace(target)


def train(
    config: ProjectConfig,
    data_dir: Path,
    out_dir: Path,
    *,
    max_steps: int | None = None,
    resume: bool = False,
    on_event: EventSink = ignore_events,
) -> TrainResult:
    """Fine-tune `config.model.base` on `data_dir/train.jsonl` (val.jsonl optional) into `out_dir`."""
    if max_steps is not None:
        config = config.model_copy(update={"training": config.training.model_copy(update={"max_steps": max_steps})})
    try:
        splits = _read_splits(data_dir, config.model.family, on_event)
    except EdgeFabricError as exc:
        on_event(StageFailed(STAGE, exc.message))  # nothing written yet: the same command works once fixed
        raise
    layout = RunLayout(out_dir)
    _prepare_run_dir(config, layout, resume)
    sink = JsonlEventSink(layout.events, on_event)  # every event in events.jsonl: the TUI plots a finished run
    try:
        return _train(config, splits, layout, resume, sink)
    except EdgeFabricError as exc:
        sink(StageFailed(STAGE, exc.message))
        raise
    except (MemoryError, RuntimeError) as exc:
        # torch reports exhausted CPU/GPU memory as RuntimeError subclasses; anything else is a bug to show
        if not isinstance(exc, MemoryError) and not any(
            text in str(exc) for text in ("out of memory", "can't allocate memory")
        ):
            raise
        error = EdgeFabricError(
            "training ran out of memory",
            "lower training.batch_size or training.max_length, or set training.gradient_checkpointing: true; "
            "the last checkpoint (if any) is kept, continue with --resume",
        )
        sink(StageFailed(STAGE, error.message))
        raise error from None


def _train(config: ProjectConfig, splits: _Splits, layout: RunLayout, resume: bool, on_event: EventSink) -> TrainResult:
    from edgefabric.pipeline.train.backends import make_backend, resolve_backend
    from edgefabric.runtime.formats.registry import get_format
    from edgefabric.runtime.formats.templates import chat_template
    from edgefabric.runtime.models import resolve_hf_folder

    cfg = config.training
    started = time.perf_counter()
    train_path, val_path = splits.train_path, splits.val_path
    train_samples, train_bad, val_samples, val_bad = splits.train, splits.train_bad, splits.val, splits.val_bad

    choice = resolve_backend(cfg.backend)
    on_event(BackendChosen(STAGE, choice.name, choice.reason))
    backend = make_backend(choice, cfg.precision)
    if getattr(backend, "device", None) == "cpu":
        from edgefabric.pipeline.train.backends import limit_shape_caches

        limit_shape_caches()
    fmt = get_format(config.model.family)
    model_dir = resolve_hf_folder(config.model.base, on_event=on_event)

    # The tokenizer alone first: max_length is known only after encoding, and Unsloth needs it to load.
    from transformers import AutoTokenizer

    on_event(PhaseStarted(STAGE, "encoding the dataset"))
    probe = AutoTokenizer.from_pretrained(model_dir)
    from edgefabric.pipeline.train.tokens import add_special_tokens

    add_special_tokens(probe, fmt.special_tokens)
    train_split = encode_samples(train_samples, fmt, probe)
    val_split = encode_samples(val_samples, fmt, probe)
    max_length = cfg.max_length or default_max_length(train_split, val_split)
    train_split, val_split = apply_max_length(train_split, max_length), apply_max_length(val_split, max_length)
    _report_skips("train", train_split, on_event)
    _report_skips("val", val_split, on_event)
    if not train_split.rows:
        raise EdgeFabricError(
            f"no trainable sample in {train_path} ("
            + ", ".join(
                [f"{len(train_samples)} read", f"{len(train_bad)} unreadable"]
                + [f"{n} {SKIP_REASONS[r]}" for r, n in train_split.counts().items() if n]
            )
            + ")",
            "check the dataset with `edgefabric data check`, or raise training.max_length",
        )

    from transformers import set_seed

    encoded_ids = probe.convert_tokens_to_ids(list(fmt.special_tokens))
    # The run's peak memory is loading the weights (the float32 file is mapped while bf16 copies are made):
    # the probe's copy of a 262k-token vocabulary (~200 MB) is freed first.
    del probe
    gc.collect()
    set_seed(cfg.seed)  # new embedding rows start random (mean_resizing): same seed, same start, so resume matches
    on_event(PhaseStarted(STAGE, f"loading {config.model.base}"))
    model, tokenizer = backend.load(model_dir, max_length)
    new_ids = backend.add_tokens(model, tokenizer, fmt.special_tokens)
    if tokenizer.convert_tokens_to_ids(list(fmt.special_tokens)) != encoded_ids:
        raise EdgeFabricError(
            f"the {choice.name} backend's tokenizer gives the control tokens other ids than the data was encoded with",
            "set training.backend to trl",
        )
    if new_ids:
        on_event(Note(STAGE, f"added {len(new_ids)} control token(s) the tokenizer lacked; their embeddings train"))
    tokenizer.chat_template = chat_template(config.model.family)  # the format's own, not the base model's
    model = backend.add_lora(model, cfg.lora, new_ids, cfg.seed, cfg.gradient_checkpointing)

    trainer = _make_trainer(
        config, layout, model, tokenizer, train_split, val_split, max_length, backend, new_ids, on_event
    )
    added_tokens = [tokenizer.convert_ids_to_tokens(i) for i in new_ids]
    if backend.name == "trl":
        # From here on the tokenizer is only saved (checkpoints, adapter): keep its files, free the ~300 MB object.
        tokenizer = keep_only_files(trainer, tokenizer)
        _release_memory()
    last = layout.last_checkpoint() if resume else None
    if resume and last is None:
        on_event(Note(STAGE, "no checkpoint to resume from; starting from step 0"))
    total = trainer.args.max_steps if trainer.args.max_steps > 0 else None
    on_event(
        StageStarted(
            STAGE,
            total=total,
            detail=f"{config.model.base} ({config.model.family}) on {len(train_split.rows)} samples, "
            f"max_length {max_length}, backend {choice.name}" + (f", resuming from {last.name}" if last else ""),
        )
    )
    previous_threads, threads = _set_threads(backend, cfg.threads, on_event)
    try:
        result = trainer.train(resume_from_checkpoint=str(last) if last else None)
    finally:
        if previous_threads is not None:
            import torch

            torch.set_num_threads(previous_threads)
    train_seconds = time.perf_counter() - started

    def save_adapter(path: Path) -> None:
        trainer.model.save_pretrained(path)
        tokenizer.save_pretrained(path)

    _write_folder(layout.adapter, save_adapter)
    on_event(ArtifactWritten(STAGE, "adapter", str(layout.adapter)))
    callback = next(c for c in trainer.callback_handler.callbacks if type(c).__name__ == "EventsCallback")
    history = callback.history
    merged = None
    if cfg.merge:
        merged = layout.merged
        on_event(PhaseStarted(STAGE, "merging the adapter into the base model"))
        if backend.name == "trl":
            # From the saved adapter into float32 weights (the frozen ones may have been bf16 for training, and
            # rounding small LoRA deltas into bf16 would lose them), with the training model freed first.
            del trainer, model
            _release_memory()
            vocab = len(tokenizer)
            _write_folder(merged, lambda path: _merge_saved_adapter(layout.adapter, model_dir, path, vocab, on_event))
        else:
            from edgefabric.pipeline.train.merge import save_merged_model

            _write_folder(merged, lambda path: save_merged_model(trainer.model, tokenizer, model_dir, path))
        on_event(ArtifactWritten(STAGE, "merged", str(merged)))

    losses = [h["loss"] for h in history if "loss" in h]
    report = {
        "model": config.model.base,
        "family": config.model.family,
        "model_dir": str(model_dir),
        "backend": {"name": choice.name, "reason": choice.reason},
        "data": {
            "train_file": str(train_path),
            "val_file": str(val_path) if val_path.exists() else None,
            "train_read": len(train_samples),
            "val_read": len(val_samples),
            "unreadable_lines": len(train_bad) + len(val_bad),
            "train_used": len(train_split.rows),
            "val_used": len(val_split.rows),
            "skipped": {"train": train_split.counts(), "val": val_split.counts()},
            "skipped_examples": [asdict(s) for s in (train_split.skipped + val_split.skipped)[:20]],
            "train_tokens": sum(len(r.input_ids) for r in train_split.rows),
            "trainable_tokens": sum(r.trainable_tokens for r in train_split.rows),
        },
        "max_length": max_length,
        "precision": _precision(backend.trainer_args()),
        "torch_threads": threads,
        "added_tokens": added_tokens,
        "steps": result.global_step,
        "resumed_from": last.name if last else None,
        "train_loss": result.training_loss,
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "final_val_loss": callback.val_loss,
        "seconds": round(train_seconds, 2),
        "train_runtime_s": result.metrics.get("train_runtime"),
        "tokens_seen": int(callback.last_tokens),
        "s_per_step": history[-1]["s_per_step"] if history else None,
        "tokens_per_s": history[-1]["tokens_per_s"] if history else None,
        # The process's peak (VmHWM): loading, training and the merge, not only the RSS at logged steps.
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "adapter": str(layout.adapter),
        "merged": str(merged) if merged else None,
        "history": history,
    }
    tmp = layout.report.with_name(layout.report.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2), encoding="utf-8")
    tmp.replace(layout.report)
    on_event(
        StageDone(
            STAGE,
            {k: report[k] for k in ("steps", "final_loss", "final_val_loss", "seconds", "adapter", "merged")},
        )
    )
    return TrainResult(layout.root, layout.adapter, merged, report)


def _set_threads(backend: Any, requested: int | None, on_event: EventSink) -> tuple[int | None, int | None]:
    """Set torch's threads for a CPU run (see `cpu_threads`): (the previous count to restore, the new one),
    or (None, None) off the CPU."""
    if getattr(backend, "device", None) != "cpu":
        return None, None
    import os

    import torch

    from edgefabric.pipeline.train.backends import cpu_threads
    from edgefabric.runtime.threads import current_load, env_override

    previous = int(torch.get_num_threads())
    # The runtime's load sample (busy CPU now, from /proc/stat, this process excluded), not the 1-minute load
    # average: that still counts the generation that just ended (the demo's teacher), which halved the threads.
    if requested is None and (override := env_override()) is not None:
        count, reason = override, "--threads / EDGEFABRIC_THREADS"
    else:
        count, reason = cpu_threads(requested, cores=os.cpu_count() or 1, load=current_load())
    torch.set_num_threads(count)
    on_event(Note(STAGE, f"{count} torch thread(s) ({reason})"))
    return previous, count


def _precision(trainer_args: dict[str, Any]) -> str:
    return "bf16" if trainer_args.get("bf16") else "fp16" if trainer_args.get("fp16") else "fp32"


def fast_path(backend: Any) -> bool:
    """Whether the run uses the labelled-positions loss and padding-free batches (see trainer.py).

    TRL backend only: Unsloth patches TRL's trainer and brings its own loss path.
    """
    return bool(backend.name == "trl")


def _make_trainer(
    config: ProjectConfig,
    layout: RunLayout,
    model: Any,
    tokenizer: Any,
    train_split: EncodedSplit,
    val_split: EncodedSplit,
    max_length: int,
    backend: Any,
    new_ids: list[int],
    on_event: EventSink,
) -> Any:
    import datasets
    from transformers import EarlyStoppingCallback, PrinterCallback
    from trl import SFTConfig

    from edgefabric.pipeline.train.trainer import sft_trainer_class

    cfg = config.training
    fast = fast_path(backend)
    evaluate = bool(val_split.rows) and cfg.eval_every is not None
    if cfg.eval_every is not None and not val_split.rows:
        on_event(Note(STAGE, "training.eval_every is set but there is no usable val split; not evaluating", "warning"))
    if cfg.early_stopping_patience is not None and not evaluate:
        raise EdgeFabricError(
            "training.early_stopping_patience needs evaluation on the val split",
            "set training.eval_every and provide val.jsonl, or remove early_stopping_patience",
        )
    args = SFTConfig(
        output_dir=str(layout.checkpoints),
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_ratio,  # transformers 5: a value below 1 is a ratio of the total steps
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps or -1,
        seed=cfg.seed,
        data_seed=cfg.seed,
        # Lengths are enforced by apply_max_length (rows are skipped, never truncated); TRL refuses a
        # max_length with padding-free batches, which it cannot truncate.
        max_length=None if fast else max_length,
        padding_free=fast,
        logging_steps=1,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=cfg.eval_every if evaluate else None,
        save_strategy="steps" if cfg.save_every else "no",
        save_steps=cfg.save_every or 500,
        # Always explicit: TRL's SFTConfig turns it on by default (transformers 5 then warns that the
        # argument was renamed; the warning is theirs, the setting ours).
        gradient_checkpointing=cfg.gradient_checkpointing,
        # PEFT's frozen base needs the non-reentrant variant for gradients to reach the adapters
        gradient_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        metric_for_best_model="eval_loss" if evaluate else None,
        greater_is_better=False if evaluate else None,
        report_to=[],
        disable_tqdm=True,
        dataloader_num_workers=0,
        **backend.trainer_args(),
    )
    callbacks = [make_callback(on_event)]
    if cfg.early_stopping_patience is not None:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience))
    trainer_class = sft_trainer_class("labelled" if fast else "full" if new_ids else "trl")
    # TRL's dataset preparation draws its own progress bars; this stage reports through events.
    bars_were_on = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        trainer = trainer_class(
            model=model,
            args=args,
            # Already tokenized with labels: TRL uses `labels` as given (our mask) and only pads.
            train_dataset=datasets.Dataset.from_list(train_split.dataset_rows()),
            eval_dataset=datasets.Dataset.from_list(val_split.dataset_rows()) if evaluate else None,
            processing_class=tokenizer,
            callbacks=callbacks,
        )
    finally:
        if bars_were_on:
            datasets.enable_progress_bars()
    # With tqdm off the trainer prints every log dict; the events already carry them.
    trainer.remove_callback(PrinterCallback)
    return trainer


def _release_memory() -> None:
    """Collect garbage and hand freed heap back to the OS (glibc keeps it otherwise): the merge then maps
    the 1 GB float32 base file, and mapped file pages cannot reuse freed heap, so kept heap adds to the peak."""
    gc.collect()
    release_freed_memory()


def _merge_saved_adapter(adapter: Path, base_dir: Path, path: Path, vocab_size: int, on_event: EventSink) -> None:
    """The adapter folder merged into the base's float32 weights a tensor at a time (`merge`); through PEFT
    in memory when the adapter uses what that does not implement (it says why)."""
    from edgefabric.pipeline.train.merge import merge_adapter, merge_with_peft

    reason = merge_adapter(adapter, base_dir, path, vocab_size)
    if reason is not None:
        on_event(Note(STAGE, f"merging in memory with PEFT: {reason}"))
        merge_with_peft(adapter, base_dir, path)
