"""The labelled-positions loss equals the model's own full-logits loss: values and gradients, new token rows included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgefabric.pipeline.train.data import encode_samples
from edgefabric.pipeline.train.token_rows import use_fast_token_rows
from edgefabric.pipeline.train.tokens import add_special_tokens, resize_embeddings
from edgefabric.pipeline.train.trainer import labelled_loss
from edgefabric.runtime.formats import functiongemma
from tests.train.conftest import dataset, project, write_data


def _peft_model(folder: Path, tokenizer: Any, new_ids: list[int], **config: Any) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **config)
    resize_embeddings(model, tokenizer)
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], trainable_token_indices={"embed_tokens": new_ids})
    peft_model = get_peft_model(model, lora)
    use_fast_token_rows(peft_model)
    with torch.no_grad():  # as after some steps: LoRA B and the new rows away from their start
        for name, param in peft_model.named_parameters():
            if "lora_B" in name or "trainable_tokens_delta" in name:
                param.add_(0.05 * torch.randn_like(param))
    return peft_model.train()


def _rows(tokenizer: Any) -> list[Any]:
    rows = encode_samples(dataset(3), functiongemma, tokenizer).rows
    assert len({len(r.input_ids) for r in rows}) > 1  # different lengths: the padded batch has padding
    return rows


def _padded(rows: list[Any]) -> dict[str, Any]:
    import torch

    width = max(len(r.input_ids) for r in rows)
    return {
        "input_ids": torch.tensor([r.input_ids + [0] * (width - len(r.input_ids)) for r in rows]),
        "labels": torch.tensor([r.labels + [-100] * (width - len(r.labels)) for r in rows]),
        "attention_mask": torch.tensor([[1] * len(r.input_ids) + [0] * (width - len(r.input_ids)) for r in rows]),
    }


def _packed(rows: list[Any]) -> dict[str, Any]:
    """TRL's padding-free collator on these rows (one flattened row with position ids)."""
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    collator = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)
    return dict(collator([{"input_ids": r.input_ids, "labels": r.labels} for r in rows]))


def _grads(model: Any) -> dict[str, Any]:
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    return grads


# sliding_window 8: shorter than every sample, so the packed block-diagonal mask must combine with the window.
# final_logit_softcapping: Gemma 2's (Gemma 3 270M has none), which the chunked loss applies as the model does.
@pytest.mark.parametrize(
    "config",
    [{}, {"sliding_window": 8}, {"final_logit_softcapping": 3.0}],
    ids=["full-window", "sliding-8", "softcap"],
)
def test_labelled_loss_matches_full_logits_padded_and_packed(tiny_gemma: Path, config: dict[str, Any]) -> None:
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_gemma)
    new_ids = add_special_tokens(tokenizer, functiongemma.special_tokens)
    model = _peft_model(tiny_gemma, tokenizer, new_ids, **config)
    rows = _rows(tokenizer)
    padded = _padded(rows)
    assert any(i in new_ids for r in rows for i, label in zip(r.input_ids, r.labels, strict=True) if label != -100)

    # Reference: the model's own forward and loss, full logits over the padded batch (mean over labelled tokens).
    reference = model(**padded, use_cache=False).loss  # the batch holds the labels
    reference.backward()
    grads_ref = _grads(model)

    head = model.get_base_model().get_output_embeddings()
    seen: list[int] = []  # positions the output layer computes logits for, per call (backward recomputes)
    hook = head.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[0]))
    fast_padded, _ = labelled_loss(model, padded)
    labelled = int((padded["labels"][:, 1:] != -100).any(0).sum())
    assert sum(seen) == len(rows) * labelled  # logits only where labelled, in one chunk (a tiny vocabulary)
    assert labelled < padded["input_ids"].shape[1] // 2
    fast_padded.backward()
    grads_padded = _grads(model)

    packed = _packed(rows)
    assert "attention_mask" not in packed and packed["input_ids"].shape[0] == 1
    seen.clear()
    vocab = head.weight.shape[0]
    fast_packed, _ = labelled_loss(model, packed, chunk_logits=5 * vocab)  # chunks of 5 positions
    packed_labelled = int((packed["labels"][:, 1:] != -100).sum())
    assert len(seen) == -(-packed_labelled // 5) > 2 and sum(seen) == packed_labelled
    fast_packed.backward()
    assert len(seen) == -(-packed_labelled // 5)  # the gradients came with the forward: no chunk is recomputed
    hook.remove()
    grads_packed = _grads(model)

    torch.testing.assert_close(fast_padded, reference, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fast_packed, reference, rtol=1e-5, atol=1e-6)
    assert grads_ref.keys() == grads_padded.keys() == grads_packed.keys()
    assert [n for n in grads_ref if "trainable_tokens_delta" in n]  # the new rows get gradients
    assert [n for n in grads_ref if "lora_A" in n]
    for name, grad in grads_ref.items():
        assert grad.abs().sum() > 0, name
        torch.testing.assert_close(grads_padded[name], grad, rtol=1e-4, atol=1e-6, msg=name)
        torch.testing.assert_close(grads_packed[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_num_items_in_batch_and_a_batch_with_nothing_to_learn(tiny_gemma: Path) -> None:
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_gemma)
    new_ids = add_special_tokens(tokenizer, functiongemma.special_tokens)
    model = _peft_model(tiny_gemma, tokenizer, new_ids)
    packed = _packed(_rows(tokenizer))
    mean, _ = labelled_loss(model, packed)
    count = int((packed["labels"][:, 1:] != -100).sum())
    # With gradient accumulation the trainer divides by the tokens of all micro-batches.
    scaled, _ = labelled_loss(model, packed, num_items_in_batch=torch.tensor(4 * count))
    torch.testing.assert_close(scaled, mean / 4)

    empty = dict(packed, labels=torch.full_like(packed["labels"], -100))
    zero, _ = labelled_loss(model, empty)
    zero.backward()  # still connected to the model: an all-prompt batch is a zero step, not a crash
    assert zero.item() == 0.0


def test_training_curve_matches_the_full_logits_trainer(
    tiny_gemma: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real run: padding-free batches and the labelled loss against padded batches and the full-logits loss."""
    from edgefabric.pipeline.train import run, train

    data = write_data(tmp_path / "data", dataset(12))
    # LoRA dropout off: its random masks depend on the batch's shape, which padding-free changes.
    lora = {"dropout": 0.0}
    config = project(tiny_gemma, max_steps=6, batch_size=4, seed=3, precision="fp32", lora=lora)
    fast = train(config, data, tmp_path / "fast")
    monkeypatch.setattr(run, "fast_path", lambda backend: False)
    slow = train(config, data, tmp_path / "slow")

    def losses(result: Any) -> list[float]:
        return [h["loss"] for h in result.report["history"] if "loss" in h]

    assert len(losses(fast)) == 6
    assert losses(fast) == pytest.approx(losses(slow), rel=1e-4)
    # tokens/s counts real tokens only: the same on both sides although the slow side pads (6 steps = 2 epochs)
    assert fast.report["tokens_seen"] == slow.report["tokens_seen"] == 2 * fast.report["data"]["train_tokens"]
