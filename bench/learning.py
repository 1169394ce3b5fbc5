"""The same learning: plain TRL and `edgefabric train` on a demo project's data, then the same export and eval.

Both sides train the embedded Gemma 3 270M in the `functiongemma` format on the
project's `data/train.jsonl` with the demo's settings (`app/journey.py`
`demo_config`: 1 sample x 4 accumulated a step, lr 5e-4 constant with 5% warmup, LoRA r16 q/k/v/o, the 7
added control tokens' rows trained, seed 42) for the same number of steps:

- plain TRL: `bench.training.side_plain` (fp32, padded batches, the model's own
  full-logits loss), then PEFT's `merge_and_unload` saved with the tokenizer;
- edgefabric: `bench.training.side_edgefabric` (`pipeline.train.train`, merged/).

Each merged model is exported to GGUF q8_0 by `edgefabric export` (no parity probe)
and evaluated by `edgefabric eval run` on the project's `data/test.jsonl` with the
demo's evaluation settings (tools `math`, profile `phone`, 3 steps). Each step runs
in its own process. Writes bench/results/learning.json after each side.

Run: `EDGEFABRIC_BENCH_PROJECT=demo-project .venv/bin/python -m bench.learning` (EDGEFABRIC_BENCH_STEPS, default 60:
the demo's steps; about 70 min on the 2-core VM, most of it the plain side)
(default project: demo-project/, which `make demo` fills; EDGEFABRIC_BENCH_SIDES="plain TRL,edgefabric" by default; EDGEFABRIC_BENCH_WORK keeps the
models in that folder, default a temporary one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "learning.json"
EDGEFABRIC = str(Path(sys.executable).with_name("edgefabric"))
PROJECT = Path(os.environ.get("EDGEFABRIC_BENCH_PROJECT", str(ROOT / "demo-project")))
STEPS = int(os.environ.get("EDGEFABRIC_BENCH_STEPS", "60"))  # the demo's (app/journey.py demo_config)
SIDES = tuple(os.environ.get("EDGEFABRIC_BENCH_SIDES", "plain TRL,edgefabric").split(","))


def settings() -> Any:
    from bench.training import Settings
    from edgefabric.app.journey import demo_config

    training = demo_config().training
    return Settings(
        steps=STEPS,
        batch=training.batch_size,
        grad_accum=training.grad_accum,
        learning_rate=training.learning_rate,
        scheduler=training.lr_scheduler,
        warmup_ratio=training.warmup_ratio,
        seed=training.seed,
    )


def child(name: str, work: Path, out: Path) -> None:
    """Train one side in this process; its merged model goes to work/<side>/merged."""
    import torch

    from bench.training import _model_dir, side_edgefabric, side_plain
    from edgefabric.dataset import read_samples
    from edgefabric.runtime.memory import peak_rss_mb

    torch.set_num_threads(int(os.environ["EDGEFABRIC_BENCH_THREADS"]))
    samples = read_samples(PROJECT / "data" / "train.jsonl").samples
    side = work / name.replace(" ", "_")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if name == "plain TRL":
            row = side_plain(_model_dir(Path(tmp)), samples, Path(tmp), settings(), merged=side / "merged")
        else:
            row = side_edgefabric(_model_dir(Path(tmp)), samples, Path(tmp), settings(), run_dir=side / "run")
    row["total_s"] = time.perf_counter() - started
    row["peak_rss_mb"] = peak_rss_mb()
    out.write_text(json.dumps(row))


def _run(command: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    with log.open("a") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        return subprocess.run(
            command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, check=False
        ).returncode


def side(name: str, work: Path, threads: int) -> dict[str, Any]:
    folder = work / name.replace(" ", "_")
    folder.mkdir(parents=True, exist_ok=True)
    log, row_file = folder / "log.txt", folder / "train.json"
    env = {**os.environ, "EDGEFABRIC_BENCH_THREADS": str(threads)}
    if _run([sys.executable, "-m", "bench.learning", "--child", name, str(work), str(row_file)], log, env):
        return {"error": "training failed: " + log.read_text(errors="replace").strip().splitlines()[-1]}
    row: dict[str, Any] = json.loads(row_file.read_text())
    merged = folder / "merged" if name == "plain TRL" else folder / "run"
    bundle = folder / "export"
    started = time.perf_counter()
    export = [EDGEFABRIC, "export", str(merged), "--gguf", "q8_0", "--onnx", "", "--no-parity", "--out", str(bundle)]
    if _run([*export, "--format", "functiongemma"], log):
        return {**row, "error": "export failed (see " + str(log) + ")"}
    row["export_s"] = time.perf_counter() - started
    gguf = next(bundle.rglob("*.gguf"))
    report = folder / "eval.json"
    started = time.perf_counter()
    evaluate = [EDGEFABRIC, "eval", "run", str(gguf), "-s", str(PROJECT / "data" / "test.jsonl"), "-t", "math"]
    evaluate += ["--family", "functiongemma", "--profile", "phone", "--max-steps", "3", "-o", str(report), "-q"]
    if _run(evaluate, log):
        return {**row, "error": "eval failed (see " + str(log) + ")"}
    row["eval_s"] = time.perf_counter() - started
    result = json.loads(report.read_text())
    row["eval"] = {k: result[k] for k in ("n", "overall", "summary", "metrics", "counts")}
    return row


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(argv[1], Path(argv[2]), Path(argv[3]))
        return
    from bench.training import _threads

    if not (PROJECT / "data" / "train.jsonl").exists():
        raise RuntimeError(
            f"{PROJECT}/data/train.jsonl does not exist: run `make demo`, or set EDGEFABRIC_BENCH_PROJECT to a "
            "folder `edgefabric demo` filled"
        )
    keep = os.environ.get("EDGEFABRIC_BENCH_WORK")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(keep) if keep else Path(tmp)
        threads = _threads()
        rows: list[dict[str, Any]] = []
        for name in SIDES:
            load_before = os.getloadavg()
            rows.append({"trainer": name, **side(name, work, threads), "load_average_before": load_before})
            _write(rows, threads)
            print(f"{name}: " + json.dumps({k: v for k, v in rows[-1].items() if k != "losses"}), flush=True)
    _print(rows)
    print(f"wrote {RESULTS}")


def _print(rows: list[dict[str, Any]]) -> None:
    print(f"{PROJECT}: {STEPS} steps a side, demo settings, GGUF q8_0, eval on data/test.jsonl")
    curves = [r for r in rows if r.get("losses")]
    if curves:  # both loss curves side by side, at every step the logs hold
        print("step  " + "  ".join(f"{r['trainer']:>12}" for r in curves))
        for step in range(max(len(r["losses"]) for r in curves)):
            cells = [f"{r['losses'][step]:>12.4f}" if step < len(r["losses"]) else " " * 12 for r in curves]
            print(f"{step + 1:>4}  " + "  ".join(cells))
    for r in rows:
        if "eval" not in r:
            print(f"{r['trainer']:<12} did not finish: {r.get('error')}")
            continue
        losses = r["losses"]
        print(
            f"{r['trainer']:<12} loss {losses[0]:.3f} -> {losses[-1]:.3f}  train {r['train_s']:.0f} s  "
            f"RSS {r['peak_rss_mb']:.0f} MiB  overall {100 * r['eval']['overall']:.1f}%  {r['eval']['summary']}"
        )


def _write(rows: list[dict[str, Any]], threads: int) -> None:
    payload = {
        "project": str(PROJECT),
        "steps": STEPS,
        "settings": settings().__dict__,
        "torch_threads": threads,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_average": os.getloadavg(),
        "rows": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_name(RESULTS.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(RESULTS)


if __name__ == "__main__":
    main()
