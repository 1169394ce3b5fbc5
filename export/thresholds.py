"""What an export must reach to pass the parity check, per quantization type.

The figures come from teacher-forced measurements on this machine kind (below, the
README's "Parity thresholds", and bench/results/export.json): healthy exports of the
270M sat well inside them; exports that lost every tool call (q4_k_m, int4 ONNX of the
same model) and damaged ones (one weight matrix scaled, or the wrong RoPE base) fell far
outside. Unquantized exports must also reproduce the source model's
tool calls exactly; quantized ones report their call agreement, which a near-tie can
flip, without failing on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgefabric.errors import EdgeFabricError


@dataclass(frozen=True)
class ParityThreshold:
    """Bounds on the teacher-forced figures of `export.divergence` for one export type."""

    min_top1: float  # share of positions whose argmax token equals the source's
    max_mean_kl: float  # nats
    max_p99_kl: float  # nats
    max_ppl_ratio: float  # export perplexity / source perplexity
    calls_must_match: bool = False

    def failures(self, figures: dict[str, float], calls_identical: float) -> list[str]:
        """Each bound `figures` breaks, as a sentence; [] when the export passes."""
        out = []
        if figures["top1_agreement"] < self.min_top1:
            out.append(f"top-1 agreement {figures['top1_agreement']:.1%} is below {self.min_top1:.0%}")
        if figures["mean_kl"] > self.max_mean_kl:
            out.append(f"mean KL {figures['mean_kl']:.4f} is above {self.max_mean_kl:g}")
        if figures["p99_kl"] > self.max_p99_kl:
            out.append(f"p99 KL {figures['p99_kl']:.3f} is above {self.max_p99_kl:g}")
        if figures["ppl_ratio"] > self.max_ppl_ratio:
            out.append(f"perplexity ratio {figures['ppl_ratio']:.3f} is above {self.max_ppl_ratio:g}")
        if self.calls_must_match and calls_identical < 1.0:
            out.append(f"only {calls_identical:.0%} of the probe tool calls are identical (must be all)")
        return out


# Measured on the demo's fine-tuned Gemma 3 270M (2026-11-30, bench/results/export.json "earlier"), teacher-forced
# against transformers float32, with the parameter accuracy of each on the demo's 33 held-out cases:
#   f16     top-1 99.8%  mean KL 0.00001  p99 0.0001  ppl x1.001
#   q8_0    top-1 95.7%  mean KL 0.0065   p99 0.043   ppl x0.980   accuracy 57.1%
#   q6_k    top-1 93.4%  mean KL 0.022    p99 0.13    ppl x1.027
#   q5_k_m  top-1 88.3%  mean KL 0.077    p99 0.71    ppl x0.974   accuracy 57.1%
#   q4_k_m  top-1 75.5%  mean KL 0.40     p99 3.09    ppl x0.477   accuracy 0.0% (never a right call)
#   q4_0    top-1 57.6%  mean KL 1.19     p99 9.08    ppl x3.37
#   int4 (ONNX, k_quant, int8 LM head)  top-1 70.9%  mean KL 0.53  accuracy 0.0%
# and on the demo's run B model (bench/results/export.json "rows"): ONNX int8 (the default: RTN, the
# embedding read from the 8-bit LM head) top-1 94.9%  mean KL 0.0087  p99 0.060  ppl x0.976.
# Each bound sits about twice the healthy figure of its class away, and far from the exports that lost
# every call: 8-bit is near-lossless, 6-bit close, 5- and 4-bit may lose some but not the model.
_EXACT = ParityThreshold(min_top1=0.98, max_mean_kl=0.005, max_p99_kl=0.05, max_ppl_ratio=1.02, calls_must_match=True)
_8BIT = ParityThreshold(min_top1=0.90, max_mean_kl=0.03, max_p99_kl=0.3, max_ppl_ratio=1.05)
_6BIT = ParityThreshold(min_top1=0.88, max_mean_kl=0.06, max_p99_kl=0.6, max_ppl_ratio=1.08)
_4_5BIT = ParityThreshold(min_top1=0.82, max_mean_kl=0.15, max_p99_kl=1.5, max_ppl_ratio=1.15)

THRESHOLDS: dict[tuple[str, str], ParityThreshold] = {
    ("gguf", "f16"): _EXACT,
    ("gguf", "bf16"): _EXACT,
    ("onnx", "fp32"): _EXACT,
    ("gguf", "q8_0"): _8BIT,
    ("onnx", "int8"): _8BIT,
    ("gguf", "q6_k"): _6BIT,
    ("gguf", "q5_k_m"): _4_5BIT,
    ("gguf", "q4_k_m"): _4_5BIT,
    ("gguf", "q4_0"): _4_5BIT,
    ("onnx", "int4"): _4_5BIT,
}


def threshold_for(runtime: str, quant: str) -> ParityThreshold:
    """The bounds for `runtime` ("gguf" or "onnx") at `quant`.

    Raises EdgeFabricError for a type no threshold was measured for.
    """
    try:
        return THRESHOLDS[(runtime, quant)]
    except KeyError:
        known = ", ".join(f"{r} {q}" for r, q in THRESHOLDS)
        raise EdgeFabricError(f"no parity threshold is defined for {runtime} {quant}", f"use one of: {known}") from None


def is_exact(quant: str) -> bool:
    """Unquantized types: the export must reproduce the source's tool calls exactly."""
    return quant in ("f16", "bf16", "fp32")
