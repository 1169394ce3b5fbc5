"""HF folder -> ONNX for onnxruntime-genai (phones: the `cpu` provider), with its model builder.

The builder (`onnxruntime_genai.models.builder` 0.18.0) writes model.onnx,
model.onnx.data and genai_config.json. Two things it needs here, both handled by
`onnx_builder_main` in a child process: `onnx_ir` installed (it imports it without
declaring it), and Gemma 3's nested RoPE config flattened. It does not copy the
tokenizer, so tokenizer.json and tokenizer_config.json (with the chat template) are
copied in. At run time `max_length` must be at least Gemma 3's 512-token sliding
window (`generation_max_length`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from edgefabric.config import OnnxQuantization
from edgefabric.errors import EdgeFabricError
from edgefabric.events import ArtifactWritten, EventSink, PhaseStarted, ignore_events
from edgefabric.export.files import atomic_output, check_free_space, remove
from edgefabric.export.source import SourceModel, prepare_source
from edgefabric.runtime.formats.templates import chat_template

ONNX_PRECISIONS = ("int4", "int8", "fp32")
BYTES_PER_WEIGHT = {"int4": 0.56, "int8": 1.06, "fp32": 4.0}
_DISK_FULL_MARKERS = ("No space left on device", "Errno 28", "File too large", "Errno 27")


@dataclass(frozen=True)
class OnnxFolder:
    path: Path
    precision: str
    seconds: float


def check_onnx_precisions(precisions: list[str]) -> list[str]:
    bad = [p for p in precisions if p.lower() not in ONNX_PRECISIONS]
    if bad:
        raise EdgeFabricError(
            f"unknown ONNX precision(s): {', '.join(bad)}",
            f"use a comma-separated list of: {', '.join(ONNX_PRECISIONS)}",
        )
    return [p.lower() for p in precisions]


def generation_max_length(folder: Path, wanted: int) -> int:
    """A max_length the model accepts: at least its sliding window (shorter ones fail at run time)."""
    config = json.loads((folder / "genai_config.json").read_text(encoding="utf-8"))
    window = (config["model"]["decoder"].get("sliding_window") or {}).get("window_size", 0)
    return max(wanted, int(window))


# The builder's names for a decoder layer's MatMuls (attention q/k/v fused into qkv_proj).
_LAYER_MATMULS = ("attn/qkv_proj", "attn/o_proj", "mlp/gate_proj", "mlp/up_proj", "mlp/down_proj")


def builder_quantization(source: SourceModel, precision: str, quantization: OnnxQuantization) -> list[str]:
    """The builder's precision and quantization arguments for `precision`.

    int8 with `embedding="int8"` on a model that ties its embedding to the LM head is built
    as the builder's int4 with every MatMul overridden to int8 by name (`--target_options`):
    only on that path does the builder read the embedding from the LM head's quantized
    weights (GatherBlockQuantized at the LM head's 8 bits); its own int8 keeps a float32 copy.
    A name it does not emit fails the build, so a layout other than the fused-qkv one is not
    quantized silently at 4 bits.
    """
    if precision not in ("int4", "int8"):
        return ["-p", precision]
    options = quantization.builder_options(precision)
    tied = bool(source.text_config.get("tie_word_embeddings", source.config.get("tie_word_embeddings", False)))
    if precision == "int4" or quantization.embedding == "float" or not tied:
        return ["-p", precision, "--extra_options", *options]
    layers = int(source.text_config["num_hidden_layers"])
    names = [f"/model/layers.{i}/{matmul}/MatMul" for i in range(layers) for matmul in _LAYER_MATMULS]
    overrides = [{"match": {"name": name}, "type": "int8"} for name in [*names, "/lm_head/MatMul"]]
    # Gather named too: the structured config does not get the Gather that shared_embeddings adds.
    target = {"quant_config": {"weights": {"op_types": ["MatMul", "Gather"], "overrides": overrides}}}
    options = [option for option in options if not option.startswith("matmul_mixed_precision=")]
    return ["-p", "int4", "--extra_options", *options, "--target_options", json.dumps(target)]


def build(
    source: SourceModel,
    target: Path,
    precision: str,
    *,
    family: str | None = None,
    quantization: OnnxQuantization | None = None,
) -> Path:
    """Build one ONNX folder at `precision` for the CPU provider; int4/int8 use `quantization`."""
    (precision,) = check_onnx_precisions([precision])
    check_free_space(target, int(source.parameter_count() * BYTES_PER_WEIGHT[precision]))
    work = target.with_name(target.name + ".work")
    remove(work)
    template = chat_template(family or source.family)
    try:
        staging = prepare_source(source, work / "source", template)
        with atomic_output(target) as partial:
            command = [
                sys.executable,
                "-m",
                "edgefabric.export.onnx_builder_main",
                "-i",
                str(staging),
                "-o",
                str(partial),
                "-e",
                "cpu",
                "-c",
                str(work / "cache"),
                *builder_quantization(source, precision, quantization or OnnxQuantization()),
            ]
            log = work / "build.log"
            with log.open("w", encoding="utf-8") as handle:
                result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, check=False)
            output = log.read_text(encoding="utf-8", errors="replace")
            if any(marker in output for marker in _DISK_FULL_MARKERS):
                raise OSError(28, "No space left on device")
            if result.returncode != 0 or not (partial / "genai_config.json").is_file():
                tail = "\n".join(line[-300:] for line in output.strip().splitlines()[-6:])
                raise EdgeFabricError(
                    f"onnxruntime-genai's model builder failed at {precision} (exit {result.returncode}):\n{tail}",
                    "check that onnxruntime-genai 0.18.0 and onnx-ir are installed; export GGUF meanwhile",
                )
            for name in ("tokenizer.json", "special_tokens_map.json", "tokenizer_config.json"):
                if (staging / name).exists():
                    shutil.copyfile(staging / name, partial / name)
            (partial / "chat_template.jinja").write_text(template, encoding="utf-8")
    finally:
        remove(work)
    return target


def export_onnx(
    source: SourceModel,
    out_dir: Path,
    precisions: list[str],
    *,
    quantization: OnnxQuantization | None = None,
    on_event: EventSink = ignore_events,
) -> list[OnnxFolder]:
    written = []
    for precision in check_onnx_precisions(precisions):
        started = time.perf_counter()
        on_event(PhaseStarted("export", f"building ONNX {precision} with onnxruntime-genai's model builder"))
        target = build(source, out_dir / f"onnx-{precision}", precision, quantization=quantization)
        item = OnnxFolder(path=target, precision=precision, seconds=time.perf_counter() - started)
        on_event(
            ArtifactWritten("export", "onnx", str(target), {"quant": precision, "seconds": round(item.seconds, 2)})
        )
        written.append(item)
    return written
