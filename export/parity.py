"""Does an export still behave like the HF model? Greedy continuations of a fixed probe set.

Every backend gets the same prompt token ids (from the HF tokenizer) and continues
greedily for `max_new_tokens`; the report gives, per export, how many generated
tokens agree with transformers' and whether the tool calls parsed (with
runtime.formats) from the continuation are identical. Unquantized exports (GGUF
f16/bf16, ONNX fp32) must agree exactly on the tool calls; quantized ones report their
rate. Whether llama.cpp's own tokenizer reproduces the prompt ids is reported too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgefabric.events import EventSink, Note, Progress, ignore_events
from edgefabric.runtime.formats import get_format
from edgefabric.schemas import Message, ToolCall, ToolSpec

EXACT_TYPES = ("f16", "bf16", "fp32")
WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"],
    },
)
CONVERT = ToolSpec(
    name="convert_currency",
    description="Convert an amount between currencies.",
    parameters={
        "type": "object",
        "properties": {"amount": {"type": "number"}, "source": {"type": "string"}, "target": {"type": "string"}},
        "required": ["amount", "source", "target"],
    },
)
PROBE_TOOLS = [WEATHER, CONVERT]


@dataclass(frozen=True)
class Probe:
    """A rendered prompt, plus text the continuation is appended to before parsing."""

    name: str
    prompt: str
    prefill: str = ""


def probe_set(family: str) -> list[Probe]:
    """The fixed probes: plain chat, tool prompts, a call cut short (prefilled), after a tool result."""
    fmt = get_format(family)

    def render(messages: list[Message], tools: Sequence[ToolSpec] = PROBE_TOOLS) -> str:
        return fmt.render(messages, tools, add_generation_prompt=True)

    user = [Message(role="user", content="What's the weather in Paris right now?")]
    convert = [Message(role="user", content="How many euros is 120 US dollars?")]
    after_result = [
        *user,
        Message(role="assistant", tool_calls=[ToolCall(name="get_weather", arguments={"city": "Paris"})]),
        Message(role="tool", name="get_weather", content='{"temp_c": 18, "sky": "cloudy"}'),
    ]
    call = fmt.render_assistant(
        Message(role="assistant", tool_calls=[ToolCall(name="get_weather", arguments={"city": "Paris"})])
    )
    # Cut inside the argument value, so the model must finish the call itself.
    cut = call[: call.index("Paris")]
    convert_call = fmt.render_assistant(
        Message(
            role="assistant",
            tool_calls=[ToolCall(name="convert_currency", arguments={"amount": 120, "source": "USD", "target": "EUR"})],
        )
    )
    return [
        Probe("chat", render([Message(role="user", content="Write one sentence about the sea.")], [])),
        Probe("tool_weather", render(user)),
        Probe("tool_convert", render(convert)),
        Probe("call_prefill_weather", render(user) + cut, prefill=cut),
        Probe(
            "call_prefill_convert",
            render(convert) + convert_call[: convert_call.index("120")],
            prefill=convert_call[: convert_call.index("120")],
        ),
        Probe("after_result", render(after_result)),
    ]


@dataclass
class ProbeResult:
    name: str
    reference_tokens: list[int]
    tokens: list[int]
    agreement: float  # matching tokens at the same position / reference length
    prefix: int  # tokens before the first difference
    calls_identical: bool
    reference_calls: list[dict[str, Any]]
    calls: list[dict[str, Any]]
    prompt_tokens_match: bool | None = None  # the backend's own tokenizer vs the HF tokenizer


@dataclass
class ExportParity:
    target: str  # e.g. "gguf q8_0"
    quant: str
    probes: list[ProbeResult] = field(default_factory=list)

    @property
    def token_agreement(self) -> float:
        return sum(p.agreement for p in self.probes) / max(1, len(self.probes))

    @property
    def call_agreement(self) -> float:
        return sum(p.calls_identical for p in self.probes) / max(1, len(self.probes))

    @property
    def must_be_exact(self) -> bool:
        return self.quant in EXACT_TYPES

    @property
    def passed(self) -> bool:
        return self.call_agreement == 1.0 if self.must_be_exact else True

    def summary(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "quant": self.quant,
            "token_agreement": round(self.token_agreement, 4),
            "tool_call_agreement": round(self.call_agreement, 4),
            "must_be_exact": self.must_be_exact,
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
            "max_new_tokens": self.max_new_tokens,
            "passed": self.passed,
            "summary": [e.summary() for e in self.exports],
            "exports": [{**e.summary(), "probes": [asdict(p) for p in e.probes]} for e in self.exports],
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")


Generator = Callable[[list[int], int], list[int]]


def _calls(family: str, text: str) -> list[dict[str, Any]]:
    return [call.model_dump(exclude={"id"}) for call in get_format(family).parse(text).tool_calls]


def hf_generator(folder: Path, family: str) -> tuple[Generator, Any]:
    """Greedy generation with transformers (float32), the reference."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    stops = _stop_ids(tokenizer, family)

    def generate(ids: list[int], n: int) -> list[int]:
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

    return generate, tokenizer


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


def gguf_generator(path: Path, stops: set[int], n_ctx: int = 2048) -> tuple[Generator, Any]:
    from llama_cpp import Llama

    from edgefabric.runtime.threads import thread_plan

    plan = thread_plan()
    llm = Llama(
        str(path), n_ctx=n_ctx, n_threads=plan.generation, n_threads_batch=plan.batch, verbose=False, logits_all=False
    )

    def generate(ids: list[int], n: int) -> list[int]:
        llm.reset()
        out: list[int] = []
        for token in llm.generate(ids, temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0, reset=True):
            out.append(int(token))
            if token in stops or len(out) >= n:
                break
        return out

    return generate, llm


def onnx_generator(folder: Path, stops: set[int]) -> Generator:
    import onnxruntime_genai as og

    from edgefabric.export.onnx import generation_max_length

    model = og.Model(str(folder))

    def generate(ids: list[int], n: int) -> list[int]:
        params = og.GeneratorParams(model)
        params.set_search_options(do_sample=False, max_length=generation_max_length(folder, len(ids) + n))
        generator = og.Generator(model, params)
        generator.append_tokens(ids)
        out: list[int] = []
        while len(out) < n and not generator.is_done():
            generator.generate_next_token()
            token = int(generator.get_next_tokens()[0])
            out.append(token)
            if token in stops:
                break
        return out

    return generate


def compare(
    family: str,
    reference: list[list[int]],
    generated: list[list[int]],
    probes: list[Probe],
    decode: Callable[[list[int]], str],
) -> list[ProbeResult]:
    results = []
    for probe, ref, got in zip(probes, reference, generated, strict=True):
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
            )
        )
    return results


def check_parity(
    hf_folder: Path,
    family: str,
    *,
    gguf: Sequence[tuple[str, Path]] = (),
    onnx: Sequence[tuple[str, Path]] = (),
    max_new_tokens: int = 24,
    on_event: EventSink = ignore_events,
) -> ParityReport:
    """Compare every export with the HF model on the probe set."""
    probes = probe_set(family)
    reference_generate, tokenizer = hf_generator(hf_folder, family)
    prompts = [tokenizer.encode(p.prompt, add_special_tokens=False) for p in probes]
    stops = _stop_ids(tokenizer, family)
    total = len(gguf) + len(onnx) + 1
    on_event(Progress("parity", 0, total))
    reference = [reference_generate(ids, max_new_tokens) for ids in prompts]
    on_event(Progress("parity", 1, total))

    def decode(tokens: list[int]) -> str:
        return str(tokenizer.decode(tokens, skip_special_tokens=False))

    report = ParityReport(family=family, max_new_tokens=max_new_tokens)
    for quant, path in gguf:
        generate, llm = gguf_generator(path, stops)
        results = compare(family, reference, [generate(ids, max_new_tokens) for ids in prompts], probes, decode)
        for result, probe, ids in zip(results, probes, prompts, strict=True):
            result.prompt_tokens_match = llm.tokenize(probe.prompt.encode(), add_bos=False, special=True) == ids
        del llm
        report.exports.append(ExportParity(target=f"gguf {quant}", quant=quant, probes=results))
        on_event(Note("parity", _line(report.exports[-1])))
        on_event(Progress("parity", len(report.exports) + 1, total))
    for precision, folder in onnx:
        generate = onnx_generator(folder, stops)
        results = compare(family, reference, [generate(ids, max_new_tokens) for ids in prompts], probes, decode)
        report.exports.append(ExportParity(target=f"onnx {precision}", quant=precision, probes=results))
        on_event(Note("parity", _line(report.exports[-1])))
        on_event(Progress("parity", len(report.exports) + 1, total))
    return report


def _line(export: ExportParity) -> str:
    verdict = "ok" if export.passed else "FAILED (must agree exactly)"
    return f"{export.target}: tokens {export.token_agreement:.0%}, tool calls {export.call_agreement:.0%} identical {verdict}"
