"""Does an export still behave like the source model? The parity check.

Two measures per export, against the source model run by transformers in float32:

1. **Teacher-forced divergence** (`export.divergence`) along fixed texts in the family's
   own format (`export.probes.forced_probes`): top-1 agreement, mean and p99 KL, the
   perplexity ratio. These decide the verdict, against the bounds of
   `export.thresholds` for the export's quantization type.
2. **Tool calls**: greedy continuations of the call probes, parsed with
   runtime.formats; unquantized exports must make exactly the source's calls. The
   greedy token agreement and the export's tokens/s are reported beside.

Every backend gets the same token ids (from the source tokenizer). Whether llama.cpp's
own tokenizer reproduces the prompt ids is reported too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgefabric.events import EventSink, Note, Progress, ignore_events
from edgefabric.export.divergence import Divergence, LogitsFn, gguf_logits, hf_logits, onnx_logits
from edgefabric.export.probes import ForcedProbe, Probe, call_probes, forced_probes
from edgefabric.export.thresholds import ParityThreshold, is_exact, threshold_for
from edgefabric.runtime.formats.registry import get_format


@dataclass
class ProbeResult:
    """One greedy call probe of one export."""

    name: str
    reference_tokens: list[int]
    tokens: list[int]
    agreement: float  # matching tokens at the same position / the longer length
    prefix: int  # tokens before the first difference
    calls_identical: bool
    reference_calls: list[dict[str, Any]]
    calls: list[dict[str, Any]]
    prompt_tokens_match: bool | None = None  # the backend's own tokenizer vs the HF tokenizer


@dataclass
class ExportParity:
    """The parity of one export: its verdict and the figures behind it."""

    target: str  # e.g. "gguf q8_0"
    runtime: str  # "gguf" or "onnx"
    quant: str
    threshold: ParityThreshold
    probes: list[ProbeResult] = field(default_factory=list)
    divergence: Divergence = field(default_factory=Divergence)
    tokens_per_s: float = 0.0  # greedy decoding over the call probes, after each prompt's first token

    @property
    def token_agreement(self) -> float:
        return sum(p.agreement for p in self.probes) / max(1, len(self.probes))

    @property
    def call_agreement(self) -> float:
        return sum(p.calls_identical for p in self.probes) / max(1, len(self.probes))

    @property
    def must_be_exact(self) -> bool:
        return is_exact(self.quant)

    @property
    def failures(self) -> list[str]:
        return self.threshold.failures(self.divergence.summary(), self.call_agreement)

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "runtime": self.runtime,
            "quant": self.quant,
            **{k: v for k, v in self.divergence.summary().items() if k != "vocab"},
            "token_agreement": round(self.token_agreement, 4),
            "tool_call_agreement": round(self.call_agreement, 4),
            "tokens_per_s": round(self.tokens_per_s, 1),
            "must_be_exact": self.must_be_exact,
            "threshold": asdict(self.threshold),
            "failures": self.failures,
            "passed": self.passed,
        }


@dataclass
class ParityReport:
    family: str
    max_new_tokens: int
    exports: list[ExportParity] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(e.passed for e in self.exports)

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "method": "teacher-forced top-1 agreement, KL and perplexity ratio vs transformers float32; "
            "greedy tool calls on the call probes",
            "max_new_tokens": self.max_new_tokens,
            "passed": self.passed,
            "summary": [e.summary() for e in self.exports],
            "exports": [
                {**e.summary(), "vocab": e.divergence.summary()["vocab"], "probes": [asdict(p) for p in e.probes]}
                for e in self.exports
            ],
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")


# (prompt ids, max new tokens, a list to append each new token's time.perf_counter() to) -> new ids
Generator = Callable[[list[int], int, list[float]], list[int]]


@dataclass
class _Backend:
    generate: Generator
    logits: LogitsFn
    tokenize: Callable[[str], list[int]] | None = None
    close: Callable[[], None] = lambda: None


def _calls(family: str, text: str) -> list[dict[str, Any]]:
    return [call.model_dump(exclude={"id"}) for call in get_format(family).parse(text).tool_calls]


def _stop_ids(tokenizer: Any, family: str) -> set[int]:
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    for text in (*get_format(family).stop_sequences, "<end_of_turn>"):
        token = tokenizer.convert_tokens_to_ids(text)
        if isinstance(token, int) and token != tokenizer.unk_token_id:
            ids.add(token)
    return ids


def _until_stop(tokens: list[int], stops: set[int]) -> list[int]:
    for i, token in enumerate(tokens):
        if token in stops:
            return tokens[: i + 1]
    return tokens


def _hf_backend(folder: Path, family: str) -> tuple[_Backend, Any]:
    """The reference: transformers in float32, greedy generation and full logits."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    stops = _stop_ids(tokenizer, family)

    def generate(ids: list[int], n: int, stamps: list[float]) -> list[int]:
        with torch.inference_mode():
            out = model.generate(
                torch.tensor([ids]),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                max_new_tokens=n,
                do_sample=False,
                eos_token_id=sorted(stops),
                pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
            )
        return _until_stop(out[0, len(ids) :].tolist(), stops)

    return _Backend(generate, hf_logits(model)), tokenizer


def _gguf_backend(path: Path, stops: set[int], n_ctx: int) -> _Backend:
    from llama_cpp import Llama

    from edgefabric.runtime.threads import thread_plan

    plan = thread_plan()
    llm = Llama(
        str(path),
        n_ctx=n_ctx,
        n_batch=n_ctx,
        n_threads=plan.generation,
        n_threads_batch=plan.batch,
        verbose=False,
        logits_all=True,
    )

    def generate(ids: list[int], n: int, stamps: list[float]) -> list[int]:
        llm.reset()
        out: list[int] = []
        for token in llm.generate(ids, temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0, reset=True):
            stamps.append(time.perf_counter())
            out.append(int(token))
            if token in stops or len(out) >= n:
                break
        return out

    def tokenize(text: str) -> list[int]:
        return list(llm.tokenize(text.encode(), add_bos=False, special=True))

    return _Backend(generate, gguf_logits(llm), tokenize, llm.close)


def _onnx_backend(folder: Path, stops: set[int]) -> _Backend:
    import onnxruntime_genai as og

    from edgefabric.export.onnx import generation_max_length

    model = og.Model(str(folder))

    def generate(ids: list[int], n: int, stamps: list[float]) -> list[int]:
        params = og.GeneratorParams(model)
        params.set_search_options(do_sample=False, max_length=generation_max_length(folder, len(ids) + n))
        generator = og.Generator(model, params)
        generator.append_tokens(ids)
        out: list[int] = []
        while len(out) < n and not generator.is_done():
            generator.generate_next_token()
            stamps.append(time.perf_counter())
            token = int(generator.get_next_tokens()[0])
            out.append(token)
            if token in stops:
                break
        return out

    return _Backend(generate, onnx_logits(model, folder))


def _greedy(
    family: str,
    probes: Sequence[Probe],
    prompts: list[list[int]],
    reference: list[list[int]],
    backend: _Backend,
    max_new_tokens: int,
    decode: Callable[[list[int]], str],
) -> tuple[list[ProbeResult], float]:
    """Greedy continuations compared with the reference's, and the decoding tokens/s (the tokens after
    each prompt's first, so prompt processing is not counted)."""
    results = []
    stamps: list[list[float]] = [[] for _ in prompts]
    outputs = [backend.generate(ids, max_new_tokens, times) for ids, times in zip(prompts, stamps, strict=True)]
    decoded = sum(len(times) - 1 for times in stamps if len(times) > 1)
    seconds = sum(times[-1] - times[0] for times in stamps if len(times) > 1)
    for probe, ids, ref, got in zip(probes, prompts, reference, outputs, strict=True):
        same = sum(a == b for a, b in zip(ref, got, strict=False))
        prefix = next((i for i, (a, b) in enumerate(zip(ref, got, strict=False)) if a != b), min(len(ref), len(got)))
        ref_calls = _calls(family, probe.prefill + decode(ref))
        calls = _calls(family, probe.prefill + decode(got))
        results.append(
            ProbeResult(
                name=probe.name,
                reference_tokens=ref,
                tokens=got,
                agreement=same / max(1, len(ref), len(got)),
                prefix=prefix,
                calls_identical=ref_calls == calls,
                reference_calls=ref_calls,
                calls=calls,
                prompt_tokens_match=backend.tokenize(probe.prompt) == ids if backend.tokenize else None,
            )
        )
    return results, decoded / seconds if seconds > 0 else 0.0


def check_parity(
    hf_folder: Path,
    family: str,
    *,
    gguf: Sequence[tuple[str, Path]] = (),
    onnx: Sequence[tuple[str, Path]] = (),
    max_new_tokens: int = 24,
    on_event: EventSink = ignore_events,
) -> ParityReport:
    """Compare every export with the source model in `hf_folder`.

    Returns the report; its `passed` is False when any export breaks its type's bounds
    (`export.thresholds`). Raises EdgeFabricError for an export type without bounds.
    """
    targets = [("gguf", quant, path) for quant, path in gguf] + [("onnx", quant, path) for quant, path in onnx]
    thresholds = {(runtime, quant): threshold_for(runtime, quant) for runtime, quant, _ in targets}
    reference, tokenizer = _hf_backend(hf_folder, family)
    calls = call_probes(family)
    prompts = [tokenizer.encode(p.prompt, add_special_tokens=False) for p in calls]
    forced: list[ForcedProbe] = forced_probes(family, bos=tokenizer.bos_token or "")
    forced_ids = [tokenizer.encode(p.text, add_special_tokens=False) for p in forced]
    stops = _stop_ids(tokenizer, family)
    n_ctx = max(max(map(len, forced_ids)), max(map(len, prompts)) + max_new_tokens) + 16
    total = len(targets) + 1
    on_event(Progress("parity", 0, total))
    reference_tokens = [reference.generate(ids, max_new_tokens, []) for ids in prompts]
    on_event(Progress("parity", 1, total))

    def decode(tokens: list[int]) -> str:
        return str(tokenizer.decode(tokens, skip_special_tokens=False))

    report = ParityReport(family=family, max_new_tokens=max_new_tokens)
    for runtime, quant, path in targets:
        backend = _gguf_backend(path, stops, n_ctx) if runtime == "gguf" else _onnx_backend(path, stops)
        try:
            export = ExportParity(
                target=f"{runtime} {quant}", runtime=runtime, quant=quant, threshold=thresholds[(runtime, quant)]
            )
            export.probes, export.tokens_per_s = _greedy(
                family, calls, prompts, reference_tokens, backend, max_new_tokens, decode
            )
            for ids in forced_ids:
                export.divergence.add(reference.logits(ids), backend.logits(ids), ids)
        finally:
            backend.close()
        report.exports.append(export)
        on_event(Note("parity", describe(export)))
        on_event(Progress("parity", len(report.exports) + 1, total))
    return report


def describe(export: ExportParity) -> str:
    """One line: the figures, then `ok` or `FAILED: reasons`."""
    d = export.divergence
    figures = (
        f"{export.target}: top-1 {d.top1_agreement:.1%}, mean KL {d.mean_kl:.4f}, p99 KL {d.p99_kl:.3f}, "
        f"ppl x{d.ppl_ratio:.3f}, tool calls {export.call_agreement:.0%} identical"
    )
    return f"{figures}: ok" if export.passed else f"{figures}: FAILED ({'; '.join(export.failures)})"
