"""On-device evaluation: value-level tool-calling metrics on held-out samples and BFCL-layout sets."""

from __future__ import annotations

from edgefabric.pipeline.evaluate.cases import EvalCase, load_bfcl_cases, load_sample_cases
from edgefabric.pipeline.evaluate.equivalence import calls_equivalent, match_equivalent
from edgefabric.pipeline.evaluate.matching import ExpectedCall, match_calls
from edgefabric.pipeline.evaluate.runner import EvalReport, Evaluator
from edgefabric.pipeline.evaluate.scoring import METRICS, WEIGHTS, CaseScore

__all__ = [
    "METRICS",
    "WEIGHTS",
    "CaseScore",
    "EvalCase",
    "EvalReport",
    "Evaluator",
    "ExpectedCall",
    "calls_equivalent",
    "load_bfcl_cases",
    "load_sample_cases",
    "match_calls",
    "match_equivalent",
]
