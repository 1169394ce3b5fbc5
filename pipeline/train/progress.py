"""A TrainerCallback that turns the trainer's logs into EdgeFabric progress events."""

from __future__ import annotations

import time
from typing import Any

from edgefabric.events import ArtifactWritten, EventSink, TrainStep
from edgefabric.runtime.memory import rss_mb

STAGE = "train"


def release_freed_memory() -> None:
    """Hand the heap that freed tensors leave back to the OS (glibc's malloc_trim; a no-op elsewhere).

    Each padding-free batch has its own length, so every step allocates differently
    sized activations; glibc keeps the freed blocks, and on the demo's data the
    process grew by ~50 MB a step (2.4 -> 3.5 GB in 20 steps) with the same live memory.
    """
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl)
        pass


def make_callback(on_event: EventSink) -> Any:
    """Built inside a function so `transformers` is imported only when training starts."""
    from transformers import TrainerCallback

    class EventsCallback(TrainerCallback):
        """Progress per logged step: loss, learning rate, tokens/s, ETA, memory; val loss after each eval.

        tokens/s (real tokens, no padding) and s/step are averages over the steps after the first one
        (over the first alone until there is a second); the ETA is s/step x the steps left.
        """

        def __init__(self) -> None:
            self.started = 0.0
            self.first_step = 0
            self.last_time = 0.0
            self.last_tokens = 0.0
            self.tokens_per_s = 0.0
            # The end of the first step: it carries one-time costs (kernel set-up, first allocations; 3-8x a
            # later step on CPU), so rates and the ETA come from the steps after it once there are any.
            self.warm: tuple[float, int, float] | None = None  # (time, step, tokens)
            self.val_loss: float | None = None
            self.history: list[dict[str, float]] = []

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.started = self.last_time = time.perf_counter()
            self.first_step = state.global_step  # > 0 when resuming

        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
        ) -> None:
            logs = logs or {}
            now = time.perf_counter()
            if "eval_loss" in logs:
                self.val_loss = float(logs["eval_loss"])
            if "num_tokens" in logs:
                tokens = float(logs["num_tokens"])
                if self.warm is None and "loss" in logs:
                    # (after a resume the count includes the earlier run's tokens: no rate until the next step)
                    if now > self.started and tokens > 0 and self.first_step == 0:
                        self.tokens_per_s = tokens / (now - self.started)
                    self.warm = (now, state.global_step, tokens)
                elif self.warm is not None and now > self.warm[0] and tokens > self.warm[2]:
                    self.tokens_per_s = (tokens - self.warm[2]) / (now - self.warm[0])
                self.last_tokens, self.last_time = tokens, now
            done = state.global_step - self.first_step
            if self.warm is not None and state.global_step > self.warm[1]:
                per_step = (now - self.warm[0]) / (state.global_step - self.warm[1])
            else:
                per_step = (now - self.started) / done if done > 0 else 0.0
            metrics: dict[str, float] = {
                "step": float(state.global_step),
                "epoch": float(state.epoch or 0.0),
                "tokens_per_s": self.tokens_per_s,
                "s_per_step": per_step,
                "eta_s": per_step * max(0, state.max_steps - state.global_step),
                "rss_mb": rss_mb(),
            }
            for key, name in (("loss", "loss"), ("learning_rate", "lr"), ("grad_norm", "grad_norm")):
                if key in logs:
                    metrics[name] = float(logs[key])
            if self.val_loss is not None:
                metrics["val_loss"] = self.val_loss
            try:
                import torch

                if torch.cuda.is_available():
                    metrics["gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
            except ImportError:  # pragma: no cover - torch is always there when training
                pass
            if "loss" in logs or "eval_loss" in logs:
                self.history.append(metrics)
                on_event(TrainStep(STAGE, state.global_step, state.max_steps, metrics))

        def on_substep_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            # Between the accumulated samples of a step too: each one's activations are freed by then, and the
            # next sample (another length) would otherwise be allocated beside the kept blocks.
            release_freed_memory()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            release_freed_memory()

        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            path = f"{args.output_dir}/checkpoint-{state.global_step}"
            on_event(ArtifactWritten(STAGE, "checkpoint", path, {"step": state.global_step}))

    return EventsCallback()
