"""What an export must reach to pass the parity check, per quantization type.

The figures come from teacher-forced measurements on this machine kind (README,
"Parity thresholds", and bench/results/export.json): healthy exports of the 270M sat
well inside them, and a damaged export (one weight matrix scaled, or the wrong RoPE
base) fell far outside. Unquantized exports must also reproduce the source model's
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


_EXACT = ParityThreshold(min_top1=0.98, max_mean_kl=0.005, max_p99_kl=0.05, max_ppl_ratio=1.02, calls_must_match=True)

THRESHOLDS: dict[tuple[str, str], ParityThreshold] = {
    ("gguf", "f16"): _EXACT,
    ("gguf", "bf16"): _EXACT,
    ("onnx", "fp32"): _EXACT,
    ("gguf", "q8_0"): ParityThreshold(min_top1=0.90, max_mean_kl=0.03, max_p99_kl=0.3, max_ppl_ratio=1.05),
    ("gguf", "q6_k"): ParityThreshold(min_top1=0.88, max_mean_kl=0.05, max_p99_kl=0.5, max_ppl_ratio=1.08),
    ("gguf", "q5_k_m"): ParityThreshold(min_top1=0.85, max_mean_kl=0.08, max_p99_kl=0.8, max_ppl_ratio=1.12),
    ("gguf", "q4_k_m"): ParityThreshold(min_top1=0.80, max_mean_kl=0.15, max_p99_kl=1.5, max_ppl_ratio=1.25),
    ("gguf", "q4_0"): ParityThreshold(min_top1=0.78, max_mean_kl=0.2, max_p99_kl=2.0, max_ppl_ratio=1.3),
    ("onnx", "int8"): ParityThreshold(min_top1=0.88, max_mean_kl=0.05, max_p99_kl=0.5, max_ppl_ratio=1.08),
    ("onnx", "int4"): ParityThreshold(min_top1=0.78, max_mean_kl=0.2, max_p99_kl=2.0, max_ppl_ratio=1.3),
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
