"""Teacher-forced divergence between an export and its source model.

Every backend is fed the same token ids (from the source model's tokenizer) and returns
its next-token logits at every position. Per position the figures are the ones
llama.cpp's `llama-perplexity --kl-divergence` reports for a quantized model against its
unquantized base:

- top-1 agreement: the argmax tokens are equal;
- KL(P_source || P_export) in nats, its mean and 99th percentile;
- the perplexity ratio: exp(mean NLL of the export) / exp(mean NLL of the source) over
  the forced next tokens.

Forcing both models along the same tokens measures the distributions themselves: a
greedy continuation instead diverges for good at the first near-tie and then compares
unrelated text (48% greedy agreement vs 94.75% forced top-1 on the same healthy q8_0,
/work/shared/FACTS.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# (n_tokens,) ids -> (n_tokens, vocab) float32 logits: row i predicts token i + 1.
LogitsFn = Callable[[list[int]], np.ndarray]

CHUNK = 64  # positions per log-softmax: 64 x 262,144 floats is 64 MB


@dataclass
class Divergence:
    """Running totals over all forced positions of all probes, for one export."""

    positions: int = 0
    top1_same: int = 0
    kl: list[float] = field(default_factory=list)
    nll_source: float = 0.0
    nll_export: float = 0.0
    vocab_source: int = 0
    vocab_export: int = 0

    def add(self, source: np.ndarray, export: np.ndarray, ids: list[int]) -> None:
        """Add one probe: `source`/`export` are (n, vocab) logits along `ids` (n tokens)."""
        import torch

        self.vocab_source, self.vocab_export = source.shape[1], export.shape[1]
        width = min(source.shape[1], export.shape[1])  # rows past the tokenizer's vocab are padding
        targets = torch.tensor(ids[1:], dtype=torch.long)
        for start in range(0, len(ids) - 1, CHUNK):
            stop = min(start + CHUNK, len(ids) - 1)
            ref = torch.log_softmax(torch.from_numpy(np.ascontiguousarray(source[start:stop, :width])).float(), -1)
            got = torch.log_softmax(torch.from_numpy(np.ascontiguousarray(export[start:stop, :width])).float(), -1)
            kl = (ref.exp() * (ref - got)).sum(-1).clamp_min(0.0)
            self.kl += kl.tolist()
            self.top1_same += int((ref.argmax(-1) == got.argmax(-1)).sum())
            rows = torch.arange(stop - start)
            self.nll_source -= float(ref[rows, targets[start:stop]].sum())
            self.nll_export -= float(got[rows, targets[start:stop]].sum())
            self.positions += stop - start

    @property
    def top1_agreement(self) -> float:
        return self.top1_same / max(1, self.positions)

    @property
    def mean_kl(self) -> float:
        return float(np.mean(self.kl)) if self.kl else 0.0

    @property
    def p99_kl(self) -> float:
        return float(np.percentile(self.kl, 99)) if self.kl else 0.0

    @property
    def ppl_ratio(self) -> float:
        """exp(mean NLL export - mean NLL source); 1.0 means the same perplexity."""
        if not self.positions:
            return 1.0
        return float(np.exp((self.nll_export - self.nll_source) / self.positions))

    def summary(self) -> dict[str, Any]:
        return {
            "positions": self.positions,
            "top1_agreement": round(self.top1_agreement, 4),
            "mean_kl": round(self.mean_kl, 5),
            "p99_kl": round(self.p99_kl, 5),
            "ppl_ratio": round(self.ppl_ratio, 4),
            "ppl_source": round(float(np.exp(self.nll_source / max(1, self.positions))), 3),
            "vocab": [self.vocab_source, self.vocab_export],
        }


def hf_logits(model: Any) -> LogitsFn:
    """Logits from a transformers causal LM (the reference, float32)."""
    import torch

    def run(ids: list[int]) -> np.ndarray:
        with torch.inference_mode():
            out = model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long))
        return np.asarray(out.logits[0].float().numpy())

    return run


def gguf_logits(llm: Any) -> LogitsFn:
    """Logits of every position from a llama-cpp-python `Llama` opened with `logits_all=True`."""

    def run(ids: list[int]) -> np.ndarray:
        llm.reset()
        llm.eval(ids)
        return np.array(llm.scores[: len(ids)], dtype=np.float32)

    return run


def onnx_logits(model: Any, folder: Path) -> LogitsFn:
    """Logits of every prompt position from onnxruntime-genai: after `append_tokens`, the
    model's `logits` output holds the whole prompt's rows (measured: shape (1, n, vocab))."""
    import onnxruntime_genai as og

    from edgefabric.export.onnx import generation_max_length

    def run(ids: list[int]) -> np.ndarray:
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=generation_max_length(folder, len(ids) + 1))
        generator = og.Generator(model, params)
        generator.append_tokens(ids)
        logits = np.asarray(generator.get_output("logits"), dtype=np.float32)
        del generator
        if logits.shape[1] != len(ids):
            from edgefabric.errors import EdgeFabricError

            raise EdgeFabricError(
                f"the ONNX model in {folder} returned logits for {logits.shape[1]} of {len(ids)} prompt positions",
                "export it again with this EdgeFabric version (the parity check needs every position's logits)",
            )
        return logits[0]

    return run
