"""Accepted samples per minute against the local teacher server, EdgeFabric vs deepfabric 4.13.0.

    .venv/bin/python -m bench.generation [--samples N] [--concurrency 1,4,16] [--skip-deepfabric]

One llama.cpp server (the embedded SmolLM2-135M teacher) serves both tools in the same
run. EdgeFabric generates with real tool execution in the sandbox (single / no_call mix,
semantic judge off); deepfabric generates its basic conversations from the same topic
prompt, depth and degree against the same server (its tool mode needs a Spin server,
which cannot be installed offline). deepfabric lives in its own venv
(/tmp/edgefabric-deepfabric-venv, created here when missing) so it cannot disturb .venv.
Prints a table and writes bench/results/generation.json. Not a test: nothing is asserted.
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

import yaml

from edgefabric.config import ProjectConfig
from edgefabric.pipeline.generate.local_server import LocalTeacherServer
from edgefabric.pipeline.generate.run import generate
from edgefabric.runtime.models import resolve_gguf

RESULTS = Path(__file__).with_name("results") / "generation.json"
DEEPFABRIC_VENV = Path(os.environ.get("DEEPFABRIC_VENV", "/tmp/edgefabric-deepfabric-venv"))
DEEPFABRIC_VERSION = "4.13.0"
PROMPT = "Everyday tasks that need a calculator"
DEPTH, DEGREE = 1, 2


def ensure_deepfabric() -> Path:
    executable = DEEPFABRIC_VENV / "bin" / "deepfabric"
    if executable.exists():
        return executable
    subprocess.run([sys.executable, "-m", "venv", str(DEEPFABRIC_VENV)], check=True)
    pip = [str(DEEPFABRIC_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, f"deepfabric=={DEEPFABRIC_VERSION}"], check=True)
    return executable


def run_edgefabric(server: LocalTeacherServer, samples: int, concurrency: int) -> dict[str, Any]:
    config = ProjectConfig.model_validate(
        {
            "teacher": {"concurrency": concurrency, "max_tokens": 160},
            "tools": {"builtin": ["math"]},
            "topics": {"prompt": PROMPT, "depth": DEPTH, "degree": DEGREE},
            "generation": {"num_samples": samples, "kinds": {"single": 1, "no_call": 1}, "semantic_check": False},
        }
    )
    with tempfile.TemporaryDirectory(prefix="bench-edgefabric-") as out:
        started = time.perf_counter()
        summary = generate(config, Path(out), endpoint=server.endpoint("embedded:smollm2-135m"))
        elapsed = time.perf_counter() - started
    return {
        "accepted": summary.accepted,
        "attempts": summary.attempts,
        "seconds": round(elapsed, 1),
        "per_min": round(summary.accepted / elapsed * 60, 3),
        "teacher_calls": summary.card["usage"]["calls"],
    }


def run_deepfabric(executable: Path, server: LocalTeacherServer, samples: int, concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-deepfabric-") as out:
        dataset = Path(out) / "dataset.jsonl"
        config = {
            # deepfabric's "openai" provider first checks the key against the real OpenAI API
            # (impossible offline); its "ollama" provider speaks the same OpenAI-compatible API
            # to any base URL, and its connection check reads OLLAMA_HOST.
            "llm": {
                "provider": "ollama",
                "model": "teacher",
                "base_url": server.url,
                "temperature": 0.7,
            },
            "topics": {
                "prompt": PROMPT,
                "mode": "tree",
                "depth": DEPTH,
                "degree": DEGREE,
                "save_as": f"{out}/topics.jsonl",
            },
            "generation": {
                "system_prompt": "Write a realistic request and a helpful answer.",
                "instructions": "Create diverse, practical scenarios.",
                "conversation": {"type": "basic"},
                "max_retries": 2,
            },
            "output": {"num_samples": samples, "batch_size": concurrency, "save_as": str(dataset)},
        }
        path = Path(out) / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        env = {**os.environ, "OLLAMA_HOST": server.url, "DEEPFABRIC_TELEMETRY": "0", "ANONYMIZED_TELEMETRY": "false"}
        started = time.perf_counter()
        result = subprocess.run(
            [str(executable), "generate", str(path), "--tui", "simple"],
            capture_output=True,
            text=True,
            cwd=out,
            env=env,
            timeout=3600,
        )
        elapsed = time.perf_counter() - started
        accepted = len(dataset.read_text().splitlines()) if dataset.exists() else 0
        failures = (
            sum(len(p.read_text().splitlines()) for p in Path(out).glob("dataset_failures_*.jsonl"))
            if Path(out).exists()
            else 0
        )
    row: dict[str, Any] = {
        "accepted": accepted,
        "failed": failures,
        "seconds": round(elapsed, 1),
        "per_min": round(accepted / elapsed * 60, 3),
    }
    if result.returncode != 0 or accepted == 0:
        row["error"] = (result.stderr or result.stdout)[-600:]
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--skip-deepfabric", action="store_true")
    args = parser.parse_args(argv if argv is not None else [])
    levels = [int(x) for x in args.concurrency.split(",")]
    deepfabric = None if args.skip_deepfabric else ensure_deepfabric()
    rows: list[dict[str, Any]] = []
    report: dict[str, Any] = {
        "benchmark": "generation",
        "unit": "accepted samples per minute",
        "teacher": "embedded:smollm2-135m via llama-cpp-python's server on 127.0.0.1",
        "samples_per_run": args.samples,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "deepfabric_version": None if args.skip_deepfabric else DEEPFABRIC_VERSION,
        "rows": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with LocalTeacherServer(resolve_gguf("embedded:smollm2-135m")) as server:
        for level in levels:
            ours = run_edgefabric(server, args.samples, level)
            theirs = run_deepfabric(deepfabric, server, args.samples, level) if deepfabric else None
            ratio = round(ours["per_min"] / theirs["per_min"], 3) if theirs and theirs["per_min"] > 0 else None
            rows.append({"concurrency": level, "edgefabric": ours, "deepfabric": theirs, "ratio": ratio})
            print(json.dumps(rows[-1]), flush=True)
            # Written after every row, so a long run that is stopped still leaves its figures.
            report["machine"]["load_avg_1m"] = os.getloadavg()[0]
            RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{'concurrency':>11} | {'edgefabric/min':>14} | {'deepfabric/min':>14} | {'ratio':>6}")
    for row in rows:
        theirs = "n/a" if row["deepfabric"] is None else f"{row['deepfabric']['per_min']:.2f}"
        ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f}"
        print(f"{row['concurrency']:>11} | {row['edgefabric']['per_min']:>14.2f} | {theirs:>14} | {ratio:>6}")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main(sys.argv[1:])
