"""Export benchmark on the embedded Gemma 3 270M: per target, export wall time and peak memory,
file size, and generation tokens/s of the export on this CPU, with transformers (float32, the
model the exports come from) as the baseline in the same run.

    .venv/bin/python -m bench.export [--model embedded:gemma3-270m] [--gguf f16,q8_0,q4_k_m,q4_0]
                                     [--onnx int4,fp32] [--tokens 64]

Each export runs in its own child process, so its peak RSS (the child and the converter/
quantizer/builder processes it starts) is measured alone. Quantized GGUFs are timed from the
f16 GGUF (the f16 conversion is its own row). Prints a table, writes bench/results/export.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results" / "export.json"
PROMPT = "<bos><start_of_turn>user\nWrite a short story about a lighthouse keeper.<end_of_turn>\n<start_of_turn>model\n"

_CHILD = """
import json, resource, sys, time
from pathlib import Path
from edgefabric.export.source import inspect_source
kind, folder, target, quant = sys.argv[1:5]
source = inspect_source(Path(folder))
started = time.perf_counter()
if kind == "convert":
    from edgefabric.export.gguf import convert
    convert(source, Path(target), quant)
elif kind == "quantize":
    from edgefabric.export.gguf import quantize
    quantize(Path(sys.argv[5]), Path(target), quant)
else:
    from edgefabric.export.onnx import build
    build(source, Path(target), quant)
seconds = time.perf_counter() - started
peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024}))
"""


def _export(kind: str, folder: Path, target: Path, quant: str, extra: str = "") -> dict[str, float]:
    command = [sys.executable, "-c", _CHILD, kind, str(folder), str(target), quant, extra]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{kind} {quant} failed:\n{result.stderr[-2000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def _ids(folder: Path) -> list[int]:
    from transformers import AutoTokenizer

    return list(AutoTokenizer.from_pretrained(folder).encode(PROMPT, add_special_tokens=False))


def _tps_gguf(path: Path, ids: list[int], tokens: int) -> float:
    from llama_cpp import Llama

    llm = Llama(str(path), n_ctx=1024, verbose=False)
    started = None
    count = 0
    llm.eval(ids)  # prompt processing is not part of the generation rate
    started = time.perf_counter()
    for _ in llm.generate(ids, temp=0.0, top_k=1, reset=False):
        count += 1
        if count >= tokens:
            break
    return count / (time.perf_counter() - started)


def _tps_onnx(folder: Path, ids: list[int], tokens: int) -> float:
    import onnxruntime_genai as og

    from edgefabric.export.onnx import generation_max_length

    model = og.Model(str(folder))
    params = og.GeneratorParams(model)
    params.set_search_options(do_sample=False, max_length=generation_max_length(folder, len(ids) + tokens))
    generator = og.Generator(model, params)
    generator.append_tokens(ids)
    started = time.perf_counter()
    count = 0
    while count < tokens and not generator.is_done():
        generator.generate_next_token()
        count += 1
    return count / (time.perf_counter() - started)


def _tps_hf(folder: Path, ids: list[int], tokens: int) -> float:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.inference_mode():
        prompt = torch.tensor([ids])
        model.generate(prompt, max_new_tokens=1, do_sample=False)  # warm-up and prompt cost
        started = time.perf_counter()
        out = model.generate(prompt, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
        seconds = time.perf_counter() - started
    return (out.shape[1] - len(ids)) / seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded:gemma3-270m")
    parser.add_argument("--gguf", default="f16,q8_0,q4_k_m,q4_0")
    parser.add_argument("--onnx", default="int4,fp32")
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args(argv)

    from edgefabric.export.run import resolve_source

    folder = resolve_source(args.model).folder
    ids = _ids(folder)
    rows: list[dict[str, Any]] = []
    baseline = _tps_hf(folder, ids, args.tokens)
    rows.append(
        {
            "target": "transformers fp32 (baseline)",
            "export_s": None,
            "peak_mb": None,
            "size_mb": None,
            "tokens_per_s": baseline,
        }
    )
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        out = Path(tmp)
        f16 = out / "model-f16.gguf"
        measured = _export("convert", folder, f16, "f16")
        rows.append(
            {
                "target": "gguf f16",
                "export_s": measured["seconds"],
                "peak_mb": measured["peak_mb"],
                "size_mb": _size(f16) / 1e6,
                "tokens_per_s": _tps_gguf(f16, ids, args.tokens),
            }
        )
        for quant in [q for q in args.gguf.split(",") if q and q != "f16"]:
            target = out / f"model-{quant}.gguf"
            measured = _export("quantize", folder, target, quant, str(f16))
            rows.append(
                {
                    "target": f"gguf {quant} (from f16)",
                    "export_s": measured["seconds"],
                    "peak_mb": measured["peak_mb"],
                    "size_mb": _size(target) / 1e6,
                    "tokens_per_s": _tps_gguf(target, ids, args.tokens),
                }
            )
            target.unlink()
        for precision in [p for p in args.onnx.split(",") if p]:
            target = out / f"onnx-{precision}"
            measured = _export("onnx", folder, target, precision)
            onnx_size = sum(p.stat().st_size for p in target.iterdir() if p.name.startswith("model.onnx"))
            rows.append(
                {
                    "target": f"onnx {precision}",
                    "export_s": measured["seconds"],
                    "peak_mb": measured["peak_mb"],
                    "size_mb": onnx_size / 1e6,
                    "tokens_per_s": _tps_onnx(target, ids, args.tokens),
                }
            )
    for row in rows:
        row["speed_vs_transformers"] = row["tokens_per_s"] / baseline

    table = Table(title=f"Export of {args.model} on this CPU ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    for column in ("target", "export s", "peak RSS MB", "size MB", "gen tok/s", "x transformers"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for row in rows:
        table.add_row(
            row["target"],
            f"{row['export_s']:.1f}" if row["export_s"] is not None else "-",
            f"{row['peak_mb']:.0f}" if row["peak_mb"] is not None else "-",
            f"{row['size_mb']:.1f}" if row["size_mb"] is not None else "-",
            f"{row['tokens_per_s']:.1f}",
            f"{row['speed_vs_transformers']:.2f}",
        )
    Console().print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "model": args.model,
                "tokens": args.tokens,
                "machine": platform.platform(),
                "cpus": os.cpu_count(),
                "load_average_at_end": os.getloadavg()[0],
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
