"""Export benchmark: per target, export wall time and peak memory, file size, generation tokens/s,
teacher-forced parity (top-1 agreement, mean KL, perplexity ratio, verdict) and, with --eval, the
accuracy on held-out cases; transformers (float32, the model the exports come from) is the
baseline in the same run.

    .venv/bin/python -m bench.export [--model embedded:gemma3-270m | RUN_DIR] [--gguf f16,q8_0,q4_k_m]
        [--onnx "int4;int4:algo=rtn,lm_head=same;int8"] [--tokens 64]
        [--eval demo-project/data/test.jsonl]

ONNX targets are separated by ';'; `int4:KEY=VALUE,...` sets the weight quantization options
(`--onnx-quant` of `edgefabric export`), so int4 settings can be compared in one run. Each
export runs in its own child process, so its peak RSS (the child and the converter/quantizer/
builder processes it starts) is measured alone. Quantized GGUFs are timed from the f16 GGUF
(the f16 conversion is its own row). Prints a table, writes bench/results/export.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
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
    from edgefabric.config import OnnxQuantization
    from edgefabric.export.onnx import build
    options = dict(kv.split("=", 1) for kv in sys.argv[5].split(",") if kv) if len(sys.argv) > 5 else {}
    quantization = OnnxQuantization.model_validate({k: int(v) if v.isdigit() else v for k, v in options.items()})
    build(source, Path(target), quant, quantization=quantization)
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


def _parity(folder: Path, runtime: str, quant: str, path: Path) -> dict[str, Any]:
    """Teacher-forced parity figures and the verdict, as `edgefabric export` computes them."""
    from edgefabric.export.parity import check_parity
    from edgefabric.export.source import inspect_source

    family = inspect_source(folder).family
    targets = {"gguf": [(quant, path)]} if runtime == "gguf" else {"onnx": [(quant, path)]}
    (summary,) = check_parity(folder, family, **targets).to_dict()["summary"]  # type: ignore[arg-type]
    return dict(summary)


def _accuracy(model: Path, cases: Path, config_path: Path, out: Path) -> dict[str, Any]:
    from edgefabric.app.export_eval import evaluate_in_child
    from edgefabric.config import load_config
    from edgefabric.pipeline.evaluate.report import load_report

    evaluate_in_child(load_config(config_path), str(model), cases, out, lambda event: None)
    report = load_report(out)
    return {
        "parameter_accuracy": report.metrics.get("parameter_accuracy"),
        "overall": report.overall,
        "cases": report.n,
    }


def _onnx_targets(text: str) -> list[tuple[str, str]]:
    """ "int4;int4:algo=rtn" -> [("int4", ""), ("int4", "algo=rtn")]."""
    out = []
    for part in [p.strip() for p in text.split(";") if p.strip()]:
        precision, _, options = part.partition(":")
        out.append((precision, options))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded:gemma3-270m", help="embedded model, HF folder or training run")
    parser.add_argument("--gguf", default="f16,q8_0,q4_k_m,q4_0")
    parser.add_argument("--onnx", default="int4;int4:algo=default,lm_head=same;fp32")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--eval", type=Path, default=None, help="held-out Sample JSONL to score each export on")
    parser.add_argument("--config", type=Path, default=None, help="project config for --eval (default: beside it)")
    args = parser.parse_args(argv)

    from edgefabric.export.run import resolve_source

    folder = resolve_source(args.model).folder
    ids = _ids(folder)
    config_path = args.config or (args.eval.parent / "run-config.yaml" if args.eval else None)
    rows: list[dict[str, Any]] = []
    baseline = _tps_hf(folder, ids, args.tokens)
    rows.append({"target": "transformers fp32 (baseline)", "tokens_per_s": baseline})
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        out = Path(tmp)

        def measure(target: str, runtime: str, quant: str, path: Path, exported: dict[str, float]) -> None:
            size = (
                _size(path)
                if runtime == "gguf"
                else sum(p.stat().st_size for p in path.iterdir() if p.name.startswith("model.onnx"))
            )
            speed = _tps_gguf(path, ids, args.tokens) if runtime == "gguf" else _tps_onnx(path, ids, args.tokens)
            row: dict[str, Any] = {
                "target": target,
                "export_s": exported["seconds"],
                "peak_mb": exported["peak_mb"],
                "size_mb": size / 1e6,
                "tokens_per_s": speed,
                "parity": _parity(folder, runtime, quant, path),
            }
            if args.eval and config_path:
                row["accuracy"] = _accuracy(path, args.eval, config_path, out / f"eval-{len(rows)}.json")
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items()}, default=str), flush=True)

        f16 = out / "model-f16.gguf"
        measure("gguf f16", "gguf", "f16", f16, _export("convert", folder, f16, "f16"))
        for quant in [q for q in args.gguf.split(",") if q and q != "f16"]:
            target = out / f"model-{quant}.gguf"
            measure(
                f"gguf {quant} (from f16)", "gguf", quant, target, _export("quantize", folder, target, quant, str(f16))
            )
            target.unlink()
        for number, (precision, options) in enumerate(_onnx_targets(args.onnx)):
            target = out / f"onnx-{precision}-{number}"
            exported = _export("onnx", folder, target, precision, options)
            label = f"onnx {precision}" + (f" [{options}]" if options else " [defaults]")
            measure(label, "onnx", precision, target, exported)
            shutil.rmtree(target)
    for row in rows:
        row["speed_vs_transformers"] = row["tokens_per_s"] / baseline

    table = Table(title=f"Export of {args.model} on this CPU ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    columns = (
        "target",
        "export s",
        "peak RSS MB",
        "size MB",
        "gen tok/s",
        "x transformers",
        "top-1",
        "mean KL",
        "ppl ratio",
        "parity",
        "param. acc.",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("target", "parity") else "right")
    for row in rows:
        parity = row.get("parity") or {}
        accuracy = (row.get("accuracy") or {}).get("parameter_accuracy")
        table.add_row(
            row["target"],
            f"{row['export_s']:.1f}" if row.get("export_s") is not None else "-",
            f"{row['peak_mb']:.0f}" if row.get("peak_mb") is not None else "-",
            f"{row['size_mb']:.1f}" if row.get("size_mb") is not None else "-",
            f"{row['tokens_per_s']:.1f}",
            f"{row['speed_vs_transformers']:.2f}",
            f"{parity['top1_agreement']:.1%}" if parity else "-",
            f"{parity['mean_kl']:.4f}" if parity else "-",
            f"{parity['ppl_ratio']:.3f}" if parity else "-",
            ("passed" if parity["passed"] else "FAILED") if parity else "-",
            f"{accuracy:.1%}" if accuracy is not None else "-",
        )
    Console().print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "model": args.model,
                "tokens": args.tokens,
                "eval": str(args.eval) if args.eval else None,
                "date": time.strftime("%Y-%m-%d"),
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
