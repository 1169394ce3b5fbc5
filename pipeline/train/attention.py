"""Attention for CPU training: the model's eager attention where its weights are small, SDPA elsewhere.

torch's CPU flash attention (what SDPA runs) keeps only its inputs, output and
log-sum-exp for the backward, and recomputes the rest there, block by block. On the
270M in bf16 its forward and backward took 25-35% longer than the eager product-
softmax-product at every length from 150 to 1,200 positions (whole training steps:
+2% to +13% with eager). Eager keeps every layer's heads x L x L softmax output for the
backward (float32) and its copy in the activations' dtype, so on the demo's 12 longest
samples it raised the peak from 2,219 to 2,411 MiB. This implementation takes eager
only while those weights, summed over the model's layers, stay within
`EAGER_BUDGET_BYTES` (64 MiB: on Gemma 3 270M up to ~390 positions a batch), and
SDPA beyond: short batches get the speed, and the long ones, which set the peak,
keep flash attention's memory.

It is registered with transformers' `AttentionInterface` under `NAME`, with SDPA's
mask (`sdpa_mask`), and the eager branch calls the model's own
`eager_attention_forward` (its module's), with the boolean mask made additive. No
library does this choice per batch (transformers picks one implementation per
model), so it is written here. `tests/train/test_attention.py` checks outputs and
gradients against SDPA on both sides of the budget, packed and with a sliding window.
"""

from __future__ import annotations

import sys
from typing import Any

NAME = "edgefabric_cpu_training"
EAGER_BUDGET_BYTES = 64 * 2**20


def eager_weight_bytes(config: Any, batch: int, heads: int, queries: int, keys: int, element_size: int) -> int:
    """Bytes eager attention keeps for the backward over all of the model's layers: per layer a float32
    softmax output and its copy in the activations' dtype (`element_size` bytes), each batch x heads x
    queries x keys."""
    layers = int(config.num_hidden_layers)
    return layers * batch * heads * queries * keys * (4 + element_size)


def budgeted_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any) -> Any:
    """transformers' attention interface: `query` (batch, heads, queries, head_dim), `key`/`value` (batch,
    kv_heads, keys, head_dim), `attention_mask` boolean (batch, 1, queries, keys) or None for plain causal.
    Returns (output (batch, queries, heads, head_dim), weights or None), as the interface's functions do."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    batch, heads, queries, _ = query.shape
    keys = key.shape[2]
    eager = getattr(sys.modules.get(type(module).__module__), "eager_attention_forward", None)
    kept = eager_weight_bytes(module.config, batch, heads, queries, keys, query.element_size())
    if eager is None or not (module.training and torch.is_grad_enabled()) or kept > EAGER_BUDGET_BYTES:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    if attention_mask is None:  # SDPA's mask leaves plain causal attention to `is_causal`
        attention_mask = torch.ones(queries, keys, dtype=torch.bool, device=query.device).tril(keys - queries)
    if attention_mask.dtype == torch.bool:
        additive = torch.zeros(attention_mask.shape, dtype=query.dtype, device=query.device)
        attention_mask = additive.masked_fill_(~attention_mask, torch.finfo(query.dtype).min)
    kwargs.pop("is_causal", None)
    return eager(module, query, key, value, attention_mask, **kwargs)


def use_budgeted_attention(model: Any) -> None:
    """Register `budgeted_attention` (once per process; transformers' registry is process-wide) and make
    `model` use it. Raises ValueError (from transformers) if the model cannot switch attention."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, budgeted_attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    model.set_attn_implementation(NAME)
