"""A cheaper forward for PEFT's TrainableTokens (the rows of added control tokens).

PEFT 0.21 builds a full copy of the weight matrix with the trained rows written in
(`index_copy`) on every forward, for the embedding and for a tied output layer,
and backpropagates into that dense copy. With Gemma's 262k x 640 vocabulary that
is two 670 MB copies and dense gradients per step, which made a CPU step of the
270M ~7x slower. The same values come from the frozen layer's normal output with
only the new tokens' entries replaced: embeddings of new ids, logits of new ids.
This replaces `forward_adapters` on those layer instances only; PEFT still owns the
parameters, saving, loading and merging. `tests/train/test_token_rows.py` checks
outputs and gradients against PEFT's own forward.
"""

from __future__ import annotations

from typing import Any


def _fast_forward(layer: Any, original: Any) -> Any:
    import torch
    import torch.nn.functional as F

    def forward_adapters(x: torch.Tensor, active_adapters: list[str], *args: Any, **kwargs: Any) -> torch.Tensor:
        if layer.disable_adapters or layer.merged or len(active_adapters) != 1:
            return original(x, active_adapters, *args, **kwargs)
        name = active_adapters[0]
        base = layer.base_layer
        deltas = layer.trainable_tokens_delta[name]
        index = torch.as_tensor(layer.token_indices[name], device=deltas.device)
        if isinstance(base, torch.nn.Embedding):
            result = base(x, *args, **kwargs)  # a scaled embedding (Gemma) applies its scale here
            position = torch.full((base.num_embeddings,), -1, dtype=torch.long, device=x.device)
            position[index] = torch.arange(len(index), device=x.device)
            slot = position[x]
            new = F.embedding(slot.clamp(min=0), deltas.to(result.dtype))
            scale = layer._get_embed_scale()
            if scale is not None:
                new = new * scale.to(new.dtype)
            return torch.where((slot >= 0).unsqueeze(-1), new, result)
        if isinstance(base, torch.nn.Linear) and base.bias is None:
            result = F.linear(x, base.weight)
            return result.index_copy(-1, index, F.linear(x, deltas.to(result.dtype)))
        return original(x, active_adapters, *args, **kwargs)

    return forward_adapters


def use_fast_token_rows(model: Any) -> int:
    """Give every TrainableTokens layer in `model` the cheap forward; returns how many were changed."""
    from peft.tuners.trainable_tokens.layer import TrainableTokensLayer

    count = 0
    for module in model.modules():
        if isinstance(module, TrainableTokensLayer):
            module.forward_adapters = _fast_forward(module, module.forward_adapters)
            count += 1
    return count
