"""The SFTTrainer used for a run, and the loss that makes a CPU step cheap.

On a small model with a large vocabulary the output layer is most of a step
(Gemma 3 270M: the 262,144 x 640 head costs more per token than the 18 layers),
yet only the tokens the model writes carry a label; in a tool-calling sample the
declarations and the request are most of the sequence. So, with the TRL backend:

- Batches are padding-free (TRL's `padding_free=True`): the samples of a batch are
  flattened into one row with `position_ids`, from which transformers builds the
  block-diagonal causal mask, so no padding is computed.
- The loss comes from the model's own forward with `logits_to_keep` set to the
  positions whose next token is labelled (transformers' own argument), so the
  output layer and the cross-entropy run on those positions only. Going through
  the layer itself keeps PEFT's TrainableTokens in the path: the rows of added
  control tokens receive their gradients.

Why not TRL's fused LM head (its default loss in 1.16): on CPU it scores every
position (it compacts to labelled positions only on Triton devices), and it
multiplies by `lm_head.weight` directly, which skips the TrainableTokens deltas
of a wrapped (on Gemma: tied) output layer. Liger's fused linear cross-entropy
needs Triton (GPU). `tests/train/test_fast_loss.py` checks values and gradients
against the model's own full-logits loss.
"""

from __future__ import annotations

from typing import Any

IGNORE = -100


def labelled_loss(model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> tuple[Any, Any]:
    """Mean next-token cross-entropy over the labelled positions, logits computed only there.

    `inputs` holds `input_ids` (batch, seq), `labels` (batch, seq; -100 where no loss),
    and `attention_mask` or `position_ids` (batch, seq). The logits at position t
    predict `labels[:, t + 1]`, as in the model's own loss. The positions kept are
    the union over the batch (exact for a padding-free batch of one row).

    The sum of the per-token losses is divided by `num_items_in_batch` when given
    (the trainer's count over all accumulated micro-batches, as transformers'
    loss does), else by the number of labelled tokens (at least 1).

    Returns `(loss, outputs)`: a scalar tensor, and the model output whose `logits`
    are (batch, kept positions, vocabulary). Raises KeyError without `labels`.
    """
    import torch
    import torch.nn.functional as F

    model_inputs = {k: v for k, v in inputs.items() if k != "labels"}
    labels = inputs["labels"]
    targets = labels[:, 1:]
    labelled = targets != IGNORE
    keep = labelled.any(dim=0).nonzero().flatten()
    if keep.numel() == 0:
        # Nothing to learn in this batch: one position keeps the graph connected, and the loss is an exact zero.
        keep = torch.zeros(1, dtype=torch.long, device=labels.device)
    outputs = model(**model_inputs, use_cache=False, logits_to_keep=keep)
    logits = outputs.logits
    kept_targets = targets[:, keep]
    loss = F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), kept_targets.reshape(-1), ignore_index=IGNORE, reduction="sum"
    )
    count = num_items_in_batch if num_items_in_batch is not None else labelled.sum().clamp(min=1)
    return loss / torch.as_tensor(count, device=loss.device), outputs


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
