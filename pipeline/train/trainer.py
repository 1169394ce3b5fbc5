"""The SFTTrainer used for a run, and the loss that makes a CPU step cheap.

On a small model with a large vocabulary the output layer is most of a step
(Gemma 3 270M: the 262,144 x 640 head costs more per token than the 18 layers),
yet only the tokens the model writes carry a label; in a tool-calling sample the
declarations and the request are most of the sequence. So, with the TRL backend:

- Batches are padding-free (TRL's `padding_free=True`): the samples of a batch are
  flattened into one row with `position_ids`, from which transformers builds the
  block-diagonal causal mask, so no padding is computed.
- The loss runs the output layer and the cross-entropy only on the positions whose
  next token is labelled (what transformers' `logits_to_keep` does inside the
  model's forward), and a chunk of positions at a time, each chunk's gradients
  computed at once in the forward (as Liger's fused linear cross-entropy does), so
  the 262k-wide logits of a whole batch never exist at once (on the demo's data
  they were ~20 bytes x 262k per labelled position, up to 1.5 GB a step) and are
  never recomputed. Going through the layer itself keeps PEFT's TrainableTokens in
  the path: the rows of added control tokens receive their gradients.

Why not TRL's fused LM head (its default loss in 1.16): on CPU it scores every
position (it compacts to labelled positions only on Triton devices), and it
multiplies by `lm_head.weight` directly, which skips the TrainableTokens deltas
of a wrapped (on Gemma: tied) output layer. Liger's fused linear cross-entropy
needs Triton (GPU) and multiplies by the weight directly too; so the chunking is
written here. `tests/train/test_fast_loss.py` checks values and gradients against
the model's own full-logits loss, in one chunk and in several.
"""

from __future__ import annotations

from typing import Any

IGNORE = -100
# Logits a chunk of the loss holds at once (positions x vocabulary): 2^23, 32 positions of Gemma's 262k
# vocabulary. With the copies the cross-entropy and its backward make, a chunk peaks at ~16 bytes a logit
# (~135 MB). On the demo's 4 longest samples (391 labelled positions) the step peaked 233 MiB lower than with
# 64 positions a chunk, and no slower.
CHUNK_LOGITS = 1 << 23


def labelled_loss(
    model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None, chunk_logits: int = CHUNK_LOGITS
) -> tuple[Any, Any]:
    """Mean next-token cross-entropy over the labelled positions, logits computed only there, a chunk at a time.

    `inputs` holds `input_ids` (batch, seq), `labels` (batch, seq; -100 where no loss),
    and `attention_mask` or `position_ids` (batch, seq). The logits at position t
    predict `labels[:, t + 1]`, as in the model's own loss. The positions kept are
    the union over the batch (exact for a padding-free batch of one row).

    The model's decoder runs once; its output layer and the cross-entropy then run on
    chunks of at most `chunk_logits` logits (positions x vocabulary). While grad is
    enabled, each chunk's gradients (for its hidden states and for every trainable
    tensor of the output layer) are computed right there in the forward and its
    logits freed, so only one chunk's logits exist at a time and none is recomputed
    in the backward: a chunk costs two products with the 262k x 640 output matrix
    instead of three (forward, checkpoint's recompute, backward). The output layer
    is called as a module, so PEFT's TrainableTokens rows (`token_rows`) get their
    gradients; Gemma's final logit soft-capping is applied as the model does.

    The sum of the per-token losses is divided by `num_items_in_batch` when given
    (the trainer's count over all accumulated micro-batches, as transformers'
    loss does), else by the number of labelled tokens (at least 1).

    Returns `(loss, outputs)`: a scalar tensor, and the decoder's output (its
    `last_hidden_state` is (batch, seq, hidden); no logits are kept). Raises
    KeyError without `labels`.
    """
    import torch

    model_inputs = {k: v for k, v in inputs.items() if k != "labels"}
    labels = inputs["labels"]
    targets = labels[:, 1:]
    labelled = targets != IGNORE
    keep = labelled.any(dim=0).nonzero().flatten()
    if keep.numel() == 0:
        # Nothing to learn in this batch: one position keeps the graph connected, and the loss is an exact zero.
        keep = torch.zeros(1, dtype=torch.long, device=labels.device)
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    outputs = causal_lm.get_decoder()(**model_inputs, use_cache=False)
    hidden = outputs.last_hidden_state[:, keep].reshape(-1, outputs.last_hidden_state.shape[-1])
    kept_targets = targets[:, keep].reshape(-1)
    head = causal_lm.get_output_embeddings()
    softcap = getattr(causal_lm.config, "final_logit_softcapping", None)
    # The vocabulary size from the config: reading `head.weight` on PEFT's TrainableTokens wrapper builds the
    # merged 262k x 640 matrix (a 335 MB copy, 74 ms a step on the demo's data) just to give its shape.
    step = max(1, chunk_logits // causal_lm.config.get_text_config().vocab_size)
    chunk = _chunk_with_gradients if torch.is_grad_enabled() else _chunk_loss
    loss = sum(
        chunk(head, softcap, hidden[i : i + step], kept_targets[i : i + step]) for i in range(0, hidden.shape[0], step)
    )
    count = num_items_in_batch if num_items_in_batch is not None else labelled.sum().clamp(min=1)
    return loss / torch.as_tensor(count, device=loss.device), outputs


def _chunk_with_gradients(head: Any, softcap: float | None, hidden: Any, targets: Any) -> Any:
    """`_chunk_loss` with its gradients computed now; the result's backward only scales and hands them on.

    The chunk's graph runs from a detached copy of `hidden` to the loss, and
    `torch.autograd.grad` takes its gradients for that copy and for the trainable
    leaves the graph reaches (the output layer's TrainableTokens rows; found by
    walking the graph, as PEFT may hold them in another module, the tied
    embedding). The result is `loss + sum((x - x.detach()) * grad_x)`: the same
    value, and in the backward each x receives grad_x times the incoming gradient,
    exact because the loss is linear in that scale. Liger's fused linear
    cross-entropy does the same on GPU (Triton only, and on the weight itself).
    """
    import torch

    detached = hidden.detach().requires_grad_(hidden.requires_grad)
    with torch.enable_grad():
        loss = _chunk_loss(head, softcap, detached, targets)
    if loss.grad_fn is None:  # nothing in the chunk trains
        return loss
    leaves = [leaf for leaf in _trainable_leaves(loss) if leaf is not detached]
    sources = ([hidden] if hidden.requires_grad else []) + leaves
    targets_of_grad = ([detached] if hidden.requires_grad else []) + leaves
    grads = torch.autograd.grad(loss, targets_of_grad)
    result = loss.detach()
    for source, grad in zip(sources, grads, strict=True):
        result = result + ((source - source.detach()) * grad).sum()
    return result


def _trainable_leaves(loss: Any) -> list[Any]:
    """The leaf tensors that require grad in `loss`'s autograd graph (their AccumulateGrad nodes), in a stable order."""
    leaves: dict[int, Any] = {}
    seen: set[int] = set()
    stack = [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        variable = getattr(node, "variable", None)
        if variable is not None:
            leaves.setdefault(id(variable), variable)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return list(leaves.values())


def _chunk_loss(head: Any, softcap: float | None, hidden: Any, targets: Any) -> Any:
    """Summed cross-entropy of one chunk: `hidden` (positions, hidden size), `targets` (positions,)."""
    import torch
    import torch.nn.functional as F

    logits = head(hidden)
    if softcap is not None:  # Gemma 2/3's final_logit_softcapping, as their CausalLM forward applies it
        logits = torch.tanh(logits / softcap) * softcap
    return F.cross_entropy(logits.float(), targets, ignore_index=IGNORE, reduction="sum")


def sft_trainer_class(loss: str) -> Any:
    """The trainer class for a loss: `trl` (TRL's own), `labelled` (`labelled_loss`) or `full`.

    `full` is the model's own forward and loss (full logits), kept for the Unsloth
    backend with added tokens, whose patched model the labelled path has not been
    run on (no GPU here). The subclasses also count the real tokens of each batch
    (no padding) for the progress events' tokens/s, as TRL's own `compute_loss` does.
    Raises ValueError for another name.
    """
    from transformers import Trainer
    from trl import SFTTrainer

    if loss == "trl":
        return SFTTrainer
    if loss not in ("labelled", "full"):
        raise ValueError(f"unknown loss {loss!r}: use trl, labelled or full")

    class CountingSFTTrainer(SFTTrainer):
        def compute_loss(
            self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
        ) -> Any:
            if self.model.training:
                if "attention_mask" in inputs:
                    real = int(inputs["attention_mask"].sum().item())
                else:  # padding-free: one row, no padding
                    real = int(inputs["input_ids"].numel())
                self._total_train_tokens += real
                self._metrics["train"]["num_tokens"] = [self._total_train_tokens]
            if loss == "full":
                inputs["use_cache"] = False
                return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)
            value, outputs = labelled_loss(model, inputs, num_items_in_batch)
            # One process here: transformers' scaling of the loss by the number of processes is a no-op.
            return (value, outputs) if return_outputs else value

    return CountingSFTTrainer
