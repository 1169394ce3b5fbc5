"""The LoRA input path on CPU: MaskDropout is inverted dropout at rate p, and PEFT's layers use it and skip
only the casts that autocast undoes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from edgefabric.pipeline.train.lora_inputs import MaskDropout, use_cheap_lora_inputs


def test_mask_dropout_drops_at_rate_p_scales_the_rest_and_passes_the_same_mask_back() -> None:
    torch.manual_seed(0)
    p = 0.05
    x = (torch.rand(1000, 1000) + 0.5).requires_grad_()  # no zeros: a zero output means dropped
    y = MaskDropout(p).train()(x)
    dropped = (y == 0).float().mean().item()
    assert abs(dropped - p) < 4 * (p * (1 - p) / x.numel()) ** 0.5  # 4 standard errors of a binomial rate
    kept = y != 0
    torch.testing.assert_close(y[kept], x.detach()[kept] / (1 - p))
    y.backward(torch.full_like(y, 2.0))
    assert x.grad is not None
    torch.testing.assert_close(x.grad, kept.float() * 2.0 / (1 - p))


def test_mask_dropout_is_the_identity_in_eval_and_at_zero_and_refuses_a_bad_rate() -> None:
    x = torch.randn(4, 8)
    assert MaskDropout(0.5).eval()(x) is x
    assert MaskDropout(0.0).train()(x) is x
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        MaskDropout(1.0)


def test_mask_dropout_is_seeded() -> None:
    x = torch.ones(64, 64)
    torch.manual_seed(3)
    first = MaskDropout(0.3)(x)
    torch.manual_seed(3)
    assert torch.equal(first, MaskDropout(0.3)(x))


def test_peft_lora_layers_use_it_and_skip_the_cast_only_under_autocast(tiny_gemma: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from peft.tuners.lora import LoraLayer
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_gemma, dtype=torch.bfloat16)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_dropout=0.1, target_modules=["q_proj", "v_proj"]))
    layers = [m for m in peft_model.modules() if isinstance(m, LoraLayer)]
    assert use_cheap_lora_inputs(peft_model) == len(layers) == 2 * model.config.num_hidden_layers
    assert all(isinstance(d, MaskDropout) and d.p == 0.1 for layer in layers for d in layer.lora_dropout.values())

    x = torch.randn(2, 3, dtype=torch.bfloat16)
    layer = layers[0]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert layer._cast_input_dtype(x, torch.float32) is x
    assert layer._cast_input_dtype(x, torch.float32).dtype == torch.float32  # no autocast: PEFT's cast

    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = peft_model(input_ids=ids, labels=ids).loss
    loss.backward()
    assert all(p.grad is not None for n, p in peft_model.named_parameters() if "lora_" in n)
    peft_model.eval()
    with torch.no_grad():  # no autocast: bf16 activations meet float32 adapters through PEFT's own cast
        assert torch.isfinite(peft_model(input_ids=ids).logits).all()
