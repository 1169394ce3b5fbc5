"""Budgeted attention: eager below the budget, SDPA above it, and the same outputs and gradients as SDPA."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from edgefabric.pipeline.train import attention
from edgefabric.pipeline.train.attention import NAME, eager_weight_bytes, use_budgeted_attention


def _model(folder: Path) -> Any:
    """The tests' tiny Gemma 3, with a sliding window shorter than the samples (the window must hold on the
    eager side too), as test_fast_loss overrides it."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, sliding_window=8).train()


def _loss_and_grads(model: Any, ids: Any, positions: Any) -> tuple[Any, dict[str, Any]]:
    loss = model(input_ids=ids, position_ids=positions, labels=ids).loss
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    return loss.detach(), grads


@pytest.mark.parametrize("budget", [64 * 2**20, 0], ids=["eager", "sdpa"])
@pytest.mark.parametrize("packed", [True, False], ids=["packed", "one-sample"])
def test_budgeted_attention_matches_sdpa(
    tiny_gemma: Path, budget: int, packed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model(tiny_gemma)
    ids = torch.randint(0, model.config.vocab_size, (1, 30))
    positions = (torch.cat([torch.arange(12), torch.arange(18)]) if packed else torch.arange(30))[None]
    model.set_attn_implementation("sdpa")
    reference, reference_grads = _loss_and_grads(model, ids, positions)

    use_budgeted_attention(model)
    assert model.config._attn_implementation == NAME
    monkeypatch.setattr(attention, "EAGER_BUDGET_BYTES", budget)
    module = sys.modules[type(model.model.layers[0].self_attn).__module__]
    eager_calls: list[int] = []
    eager = module.eager_attention_forward
    monkeypatch.setattr(module, "eager_attention_forward", lambda *a, **k: eager_calls.append(1) or eager(*a, **k))
    loss, grads = _loss_and_grads(model, ids, positions)

    assert len(eager_calls) == (model.config.num_hidden_layers if budget else 0)
    torch.testing.assert_close(loss, reference)
    assert grads.keys() == reference_grads.keys()
    for name, grad in reference_grads.items():
        torch.testing.assert_close(grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_eval_and_no_grad_take_sdpa(tiny_gemma: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model(tiny_gemma)
    use_budgeted_attention(model)
    module = sys.modules[type(model.model.layers[0].self_attn).__module__]
    eager_calls: list[int] = []
    eager = module.eager_attention_forward
    monkeypatch.setattr(module, "eager_attention_forward", lambda *a, **k: eager_calls.append(1) or eager(*a, **k))
    ids = torch.randint(0, model.config.vocab_size, (1, 10))
    with torch.no_grad():
        model(input_ids=ids)
    model.eval()
    model(input_ids=ids)
    assert eager_calls == []


def test_eager_weight_bytes_counts_every_layer_and_both_copies() -> None:
    class Config:
        num_hidden_layers = 18

    # Gemma 3 270M, one bf16 batch of 390 positions: 18 x 4 heads x 390^2 x (4 + 2) bytes, within 64 MiB
    assert eager_weight_bytes(Config(), 1, 4, 390, 390, 2) == 18 * 4 * 390 * 390 * 6
    assert eager_weight_bytes(Config(), 1, 4, 390, 390, 2) <= attention.EAGER_BUDGET_BYTES
    assert eager_weight_bytes(Config(), 1, 4, 400, 400, 2) > attention.EAGER_BUDGET_BYTES
