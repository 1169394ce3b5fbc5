"""Special tokens are added and the embeddings resized; the cheap forward of the new rows equals PEFT's."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgefabric.pipeline.train.token_rows import use_fast_token_rows
from edgefabric.pipeline.train.tokens import add_special_tokens, missing_tokens, resize_embeddings
from edgefabric.runtime.formats import functiongemma


def test_functiongemma_tokens_are_added_and_embeddings_resized(tiny_gemma: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_gemma)
    model = AutoModelForCausalLM.from_pretrained(tiny_gemma)
    before = len(tokenizer)
    assert missing_tokens(tokenizer, functiongemma.special_tokens) == list(functiongemma.special_tokens)
    assert missing_tokens(tokenizer, ["<start_of_turn>", "<end_of_turn>"]) == []  # the base has Gemma turns
    split = tokenizer.encode("<start_function_call>", add_special_tokens=False)
    assert len(split) > 1  # without the token the marker is many pieces

    new_ids = add_special_tokens(tokenizer, functiongemma.special_tokens)
    assert new_ids == list(range(before, before + 7))
    assert resize_embeddings(model, tokenizer)
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer) == before + 7
    assert model.get_output_embeddings().weight.shape[0] == before + 7
    # transformers' mean_resizing rule (computed in chunks here): new rows at the old rows' mean
    weight = model.get_input_embeddings().weight.detach()
    mean = weight[:before].mean(0)
    assert (weight[before:] - mean).abs().max().item() < 1e-4
    for token, token_id in zip(functiongemma.special_tokens, new_ids, strict=True):
        assert tokenizer.encode(token, add_special_tokens=False) == [token_id]
        assert tokenizer.decode([token_id]) == token
    # Idempotent: nothing more to add, nothing to resize.
    assert add_special_tokens(tokenizer, functiongemma.special_tokens) == []
    assert not resize_embeddings(model, tokenizer)


@pytest.mark.parametrize("fixture", ["tiny_gemma", "tiny_qwen"])
def test_fast_token_rows_match_peft(fixture: str, request: pytest.FixtureRequest) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder: Path = request.getfixturevalue(fixture)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    new_ids = add_special_tokens(tokenizer, ["<x1>", "<x2>", "<x3>"])

    def build() -> torch.nn.Module:
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_pretrained(folder)
        resize_embeddings(model, tokenizer)
        config = LoraConfig(r=4, target_modules=["q_proj"], trainable_token_indices={"embed_tokens": new_ids})
        peft_model = get_peft_model(model, config)
        with torch.no_grad():  # make the trained rows differ from their start, as after some steps
            for name, param in peft_model.named_parameters():
                if "trainable_tokens_delta" in name:
                    param.add_(torch.randn_like(param))
        return peft_model

    reference, fast = build(), build()
    assert use_fast_token_rows(fast) >= 2  # embedding and (tied) output layer
    ids = torch.tensor([[1, new_ids[0], 5, new_ids[2], 7, new_ids[1]]])
    out_ref = reference(input_ids=ids, labels=ids)
    out_fast = fast(input_ids=ids, labels=ids)
    torch.testing.assert_close(out_fast.logits, out_ref.logits, rtol=1e-5, atol=1e-5)
    out_ref.loss.backward()
    out_fast.loss.backward()
    grads_ref = {n: p.grad for n, p in reference.named_parameters() if p.grad is not None}
    grads_fast = {n: p.grad for n, p in fast.named_parameters() if p.grad is not None}
    assert grads_ref.keys() == grads_fast.keys()
    assert any("trainable_tokens_delta" in n for n in grads_ref)
    for name in grads_ref:
        torch.testing.assert_close(grads_fast[name], grads_ref[name], rtol=1e-4, atol=1e-5)
