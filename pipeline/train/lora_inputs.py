"""LoRA layers' inputs on CPU: a cheaper dropout, and no float32 round trip under bf16 autocast.

The dropout: the same Bernoulli keep-mask, drawn and stored more cheaply.

PEFT applies `nn.Dropout(lora_dropout)` to each LoRA layer's input, and torch's CPU
dropout draws the mask with `bernoulli_` into a tensor of the input's dtype, which
it also keeps for the backward. On the 270M at the benchmark's batches that was 8.5%
of a step (72 draws of a 318 x 640 mask, 1.4-1.6 ms each) and 4 bytes a kept element
(float32 inputs: PEFT casts them to the adapter's dtype). Here the mask is drawn as
`torch.rand(...) >= p` (float32 uniforms: a keep probability of 1 - p to 2^-24; 0.66
against 1.03 ms for the same mask) and kept as booleans, 1 byte an element; values are
scaled by 1 / (1 - p) as in torch. The mask comes from torch's seeded generator, so a
run stays reproducible, but it is another draw than torch's own dropout: the loss
curve matches within noise, not bit for bit (bench/learning.py shows both curves).
No library offers this on CPU (torch's `native_dropout` draws with `bernoulli_` too),
so it is written here.

The casts: PEFT casts each LoRA layer's input to the adapter's dtype (float32), and
bf16 autocast casts it back to bf16 at the product: two copies per layer for nothing
(with the dropout above, about 2% of a CPU step). The layers here skip that cast only
while autocast is on with the input's dtype; otherwise they cast as PEFT does (an
evaluation without autocast still meets float32 adapter weights with float32 input).
PEFT's own switch (`peft.helpers.disable_input_dtype_casting`) is unconditional and
fails on a model with TrainableTokens layers (they lack the attribute, PEFT 0.21).

`tests/train/test_lora_inputs.py` checks the rate, the scale, the gradient and that
PEFT's layers use them.
"""

from __future__ import annotations

from typing import Any

import torch


class _KeepAndScale(torch.autograd.Function):
    """`x * keep * scale` that saves only the boolean mask for its backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, keep: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return x.mul(keep).mul_(scale)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (keep,) = ctx.saved_tensors
        return grad.mul(keep).mul_(ctx.scale), None, None


class MaskDropout(torch.nn.Module):
    """Inverted dropout with probability `p` (0 <= p < 1): each element is zeroed with probability p, the rest
    are scaled by 1 / (1 - p); identity in eval mode or at p = 0. Input and output: any shape and float dtype."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape, device=x.device) >= self.p
        return _KeepAndScale.apply(x, keep, 1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def use_cheap_lora_inputs(model: Any) -> int:
    """Give every PEFT LoRA layer in `model` `MaskDropout` (same p) for its `nn.Dropout`, and the cast that
    autocast makes redundant skipped. Returns how many dropouts were replaced (0 when lora_dropout is 0: PEFT
    uses `nn.Identity`)."""
    from peft.tuners.lora import LoraLayer

    count = 0
    for module in model.modules():
        if isinstance(module, LoraLayer):
            module._cast_input_dtype = _cast_unless_autocast(module._cast_input_dtype)
            for name, dropout in list(module.lora_dropout.items()):
                if isinstance(dropout, torch.nn.Dropout):
                    module.lora_dropout[name] = MaskDropout(dropout.p)
                    count += 1
    return count


def _cast_unless_autocast(cast: Any) -> Any:
    def cast_input_dtype(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        device = x.device.type
        if torch.is_autocast_enabled(device) and x.dtype == torch.get_autocast_dtype(device):
            return x  # autocast runs the product in this dtype anyway
        return cast(x, dtype)

    return cast_input_dtype
