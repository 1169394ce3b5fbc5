"""The SFTTrainer used for a run.

TRL 1.16 computes the loss with a fused LM head that multiplies the hidden states
by `lm_head.weight` directly. When new control tokens were added, their rows are
trained through PEFT's TrainableTokens wrapper, whose deltas that shortcut never
sees (on Gemma the output layer is tied to the embeddings, so it is wrapped too
and the fused path fails). Then, and only then, the loss comes from the model's own
forward (full logits, standard shifted cross-entropy over the same -100 labels),
which goes through the wrapper; otherwise TRL's trainer runs unchanged.
"""

from __future__ import annotations

from typing import Any


def sft_trainer_class(full_logits: bool) -> Any:
    from trl import SFTTrainer

    if not full_logits:
        return SFTTrainer

    from transformers import Trainer

    class FullLogitsSFTTrainer(SFTTrainer):
        def compute_loss(
            self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
        ) -> Any:
            inputs["use_cache"] = False
            if self.model.training and "attention_mask" in inputs:
                # TRL's own compute_loss keeps this count; the progress events derive tokens/s from it.
                self._total_train_tokens += int(inputs["attention_mask"].sum().item())
                self._metrics["train"]["num_tokens"] = [self._total_train_tokens]
            return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)

    return FullLogitsSFTTrainer
