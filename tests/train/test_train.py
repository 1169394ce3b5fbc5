"""Real training runs on tiny random Gemma 3 / Qwen3 models: outputs, events, resume, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgefabric.errors import EdgeFabricError
from edgefabric.event_log import read_events
from edgefabric.events import (
    ArtifactWritten,
    BackendChosen,
    EventLog,
    Note,
    Progress,
    StageDone,
    StageStarted,
    TrainStep,
)
from edgefabric.pipeline.train import RunLayout, train
from edgefabric.runtime.formats.registry import get_format
from tests.train.conftest import dataset, project, weather_sample, write_data


def test_few_steps_on_tiny_gemma_write_adapter_merged_and_report(tiny_gemma: Path, tmp_path: Path) -> None:
    data = write_data(tmp_path / "data", dataset(12), dataset(4))
    log = EventLog()
    config = project(tiny_gemma, max_steps=4, eval_every=2, save_every=2, merge=True)
    result = train(config, data, tmp_path / "run", on_event=log)

    layout = RunLayout(tmp_path / "run")
    report = json.loads(layout.report.read_text())
    assert report["steps"] == 4
    assert report["backend"]["name"] == "trl" and "no CUDA" in report["backend"]["reason"]
    assert sorted(report["added_tokens"]) == sorted(get_format("functiongemma").special_tokens)
    assert report["data"]["train_used"] == 12 and report["data"]["val_used"] == 4
    assert report["final_val_loss"] is not None
    assert (layout.adapter / "adapter_model.safetensors").exists()
    # the adapter holds LoRA and the 7 new rows, not the whole resized embedding matrix
    from safetensors.torch import load_file

    saved = load_file(layout.adapter / "adapter_model.safetensors")
    assert not [k for k in saved if k.endswith("embed_tokens.weight") or k.endswith("lm_head.weight")]
    assert any("trainable_tokens_delta" in k for k in saved)
    assert (layout.checkpoints / "checkpoint-2").is_dir() and (layout.checkpoints / "checkpoint-4").is_dir()
    assert layout.config.exists() and layout.events.exists()
    assert not list(tmp_path.glob("run/*.partial"))

    progress = log.of_type(Progress)
    assert [p.done for p in progress if "loss" in p.metrics] == [1, 2, 3, 4]
    last = [p for p in progress if "loss" in p.metrics][-1].metrics
    assert {"loss", "tokens_per_s", "eta_s", "rss_mb", "lr", "s_per_step"} <= set(last)
    assert any("val_loss" in p.metrics for p in progress)
    assert last["tokens_per_s"] > 0 and last["rss_mb"] > 0
    assert log.of_type(StageStarted)[-1].total == 4
    assert {e.kind for e in log.of_type(ArtifactWritten)} >= {"checkpoint", "adapter", "merged"}
    assert log.of_type(StageDone)[-1].summary["steps"] == 4
    assert [e.backend for e in log.of_type(BackendChosen)] == ["trl"]
    assert all(isinstance(p, TrainStep) for p in progress if p.stage == "train")
    # events.jsonl holds the same events, read back as the same types (the TUI plots a finished run from it)
    assert read_events(layout.events).events == log.events

    # The merged folder is a plain HF model: loads, generates, and its template matches the training format.
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert result.merged is not None
    model = AutoModelForCausalLM.from_pretrained(result.merged)
    tokenizer = AutoTokenizer.from_pretrained(result.merged)
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    sample = weather_sample(3)
    fmt = get_format("functiongemma")
    prompt = fmt.render(sample.messages[:1], sample.tools, add_generation_prompt=True)
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 5
    templated = tokenizer.apply_chat_template(
        [m.model_dump() | {"tool_calls": None} for m in sample.messages[:1]],
        tools=[t.to_openai() for t in sample.tools],
        add_generation_prompt=True,
        tokenize=False,
    )
    assert templated == prompt


def test_few_steps_on_tiny_qwen3(tiny_qwen: Path, tmp_path: Path) -> None:
    data = write_data(tmp_path / "data", dataset(8))
    result = train(project(tiny_qwen, "qwen3", max_steps=2), data, tmp_path / "run")
    assert result.report["steps"] == 2
    assert result.report["added_tokens"] == []
    assert result.report["final_loss"] > 0


def test_loss_falls_on_a_small_dataset(tiny_gemma: Path, tmp_path: Path) -> None:
    data = write_data(tmp_path / "data", dataset(16))
    # a random model learns little through attention alone: adapt the MLPs too
    lora = {"target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}
    config = project(tiny_gemma, epochs=8, learning_rate=3e-2, lr_scheduler="constant", seed=1, lora=lora)
    result = train(config, data, tmp_path / "run")
    losses = [h["loss"] for h in result.report["history"] if "loss" in h]
    assert len(losses) == 32
    # a frozen random base bounds how far LoRA gets in 32 steps (~6.3 -> ~5.6); step noise is ~0.15
    assert sum(losses[-8:]) / 8 < 0.92 * sum(losses[:3]) / 3, losses


class Interrupted(Exception):
    pass


def test_resume_matches_an_uninterrupted_run(tiny_gemma: Path, tmp_path: Path) -> None:
    data = write_data(tmp_path / "data", dataset(16))
    config = project(tiny_gemma, max_steps=6, save_every=3, seed=7)
    whole = train(config, data, tmp_path / "whole")

    def crash_at_step_5(event: object) -> None:
        if isinstance(event, Progress) and event.done == 5:
            raise Interrupted

    with pytest.raises(Interrupted):
        train(config, data, tmp_path / "cut", on_event=crash_at_step_5)
    assert RunLayout(tmp_path / "cut").last_checkpoint().name == "checkpoint-3"  # type: ignore[union-attr]
    resumed = train(config, data, tmp_path / "cut", resume=True)
    assert resumed.report["resumed_from"] == "checkpoint-3"

    whole_losses = [h["loss"] for h in whole.report["history"] if "loss" in h]
    resumed_losses = [h["loss"] for h in resumed.report["history"] if "loss" in h]
    assert resumed_losses == pytest.approx(whole_losses[3:], rel=1e-4)

    from safetensors.torch import load_file

    a = load_file(whole.adapter / "adapter_model.safetensors")
    b = load_file(resumed.adapter / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] - b[key]).abs().max().item() < 1e-4, key


def test_an_existing_run_needs_resume_and_the_same_config(tiny_gemma: Path, tmp_path: Path) -> None:
    data = write_data(tmp_path / "data", dataset(4))
    train(project(tiny_gemma, max_steps=1), data, tmp_path / "run")
    with pytest.raises(EdgeFabricError, match="already holds a training run"):
        train(project(tiny_gemma, max_steps=1), data, tmp_path / "run")
    with pytest.raises(EdgeFabricError, match="differ from those"):
        train(project(tiny_gemma, max_steps=1, learning_rate=1e-3), data, tmp_path / "run", resume=True)


def test_missing_data_and_model_are_clear_errors(tiny_gemma: Path, tmp_path: Path) -> None:
    with pytest.raises(EdgeFabricError, match=r"train\.jsonl does not exist") as info:
        train(project(tiny_gemma), tmp_path / "nowhere", tmp_path / "run1")
    assert info.value.fix and "--data" in info.value.fix
    data = write_data(tmp_path / "data", dataset(4))
    with pytest.raises(EdgeFabricError, match="does not exist"):
        train(project(tmp_path / "no-such-model"), data, tmp_path / "run2")
    with pytest.raises(EdgeFabricError, match="not in the local Hugging Face cache"):
        train(project(Path("google/functiongemma-270m-it")), data, tmp_path / "run3")


def test_a_dataset_with_nothing_trainable_is_an_error_with_counts(tiny_gemma: Path, tmp_path: Path) -> None:
    from edgefabric.schemas import Message, Sample

    only_users = [Sample(messages=[Message(role="user", content="hi")]) for _ in range(3)]
    data = write_data(tmp_path / "data", only_users)
    with pytest.raises(EdgeFabricError, match="3 does not fit the chat format"):
        train(project(tiny_gemma), data, tmp_path / "run")


def test_too_long_samples_are_skipped_and_reported(tiny_gemma: Path, tmp_path: Path) -> None:
    data = write_data(tmp_path / "data", dataset(8))
    log = EventLog()
    # add samples (system prompt, two turns) are the longest; a limit between the lengths drops only them
    result = train(project(tiny_gemma, max_steps=1, max_length=200), data, tmp_path / "run", on_event=log)
    skipped = result.report["data"]["skipped"]["train"]
    assert skipped["too_long"] == result.report["data"]["train_read"] - result.report["data"]["train_used"] > 0
    assert any("longer than max_length" in n.text for n in log.of_type(Note))


def test_early_stopping_needs_evaluation(tiny_gemma: Path, tmp_path: Path) -> None:
    data = write_data(tmp_path / "data", dataset(4))
    with pytest.raises(EdgeFabricError, match="early_stopping_patience needs evaluation"):
        train(project(tiny_gemma, early_stopping_patience=2), data, tmp_path / "run")


def test_early_stopping_stops(tiny_gemma: Path, tmp_path: Path) -> None:
    data = write_data(tmp_path / "data", dataset(8), dataset(4))
    # lr 0 never improves the val loss, so patience 1 stops at the second evaluation
    config = project(tiny_gemma, max_steps=20, eval_every=1, early_stopping_patience=1, learning_rate=1e-12)
    result = train(config, data, tmp_path / "run")
    assert result.report["steps"] < 20


def test_adapter_loads_on_the_resized_base_and_equals_the_merged_model(tiny_gemma: Path, tmp_path: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    data = write_data(tmp_path / "data", dataset(8))
    result = train(project(tiny_gemma, max_steps=2, merge=True), data, tmp_path / "run")
    assert result.merged is not None
    tokenizer = AutoTokenizer.from_pretrained(result.adapter)
    base = AutoModelForCausalLM.from_pretrained(tiny_gemma)
    base.resize_token_embeddings(len(tokenizer))  # as layout.py says: the adapter carries only the new rows
    with_adapter = PeftModel.from_pretrained(base, result.adapter).eval()
    merged = AutoModelForCausalLM.from_pretrained(result.merged).eval()
    sample = weather_sample(5)
    text = get_format("functiongemma").render(sample.messages, sample.tools)
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    assert (ids >= len(tokenizer) - 7).any()  # the new control tokens are in the input
    with torch.no_grad():
        torch.testing.assert_close(
            with_adapter(input_ids=ids).logits, merged(input_ids=ids).logits, rtol=1e-4, atol=1e-4
        )
