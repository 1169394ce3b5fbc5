"""Runtime benchmark: generation speed through EdgeFabric's llama.cpp backend vs llama-cpp-python
called directly (same GGUF, prompt, context and threads; the overhead must stay under 5%), time to
first tool call and eval samples/s with constrained decoding off and on.

    .venv/bin/python -m bench.runtime [--model embedded:smollm2-135m] [--runs 5] [--tokens 64]
    .venv/bin/python -m bench.runtime --only contention --model embedded:gemma3-270m --tokens 32

The contention row (issue 18) measures tokens/s idle and with one core kept busy by a CPU-bound
helper process (it exits by itself after --helper-s seconds and the benchmark stops it as soon as
the phase ends), for EdgeFabric's runtime (the thread policy), llama-cpp-python at its own default
thread counts, and llama-cpp-python on every core (the collapse the policy avoids). Goal: with one
core busy, EdgeFabric keeps at least 50% of its idle tokens/s.

Prints a table and writes bench/results/runtime.json (`--only contention` updates just its row). Runs alternate between the two paths (so
load from other processes hits both alike) and the best run of each is compared (timeit's
convention); medians are recorded too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results" / "runtime.json"
PROMPT = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
    "Write a short story about a lighthouse keeper who finds a message in a bottle.<|im_end|>\n"
    "<|im_start|>assistant\n"
)
BFCL = Path(__file__).resolve().parents[1] / "tests" / "evaluate" / "data" / "BFCL_v3_mini.json"


def _direct(llm: Any, tokens: int) -> tuple[float, int]:
    start = time.perf_counter()
    out = llm.create_completion(PROMPT, max_tokens=tokens, temperature=0.0, stop=[])
    return time.perf_counter() - start, int(out["usage"]["completion_tokens"])


def _ours(backend: Any, tokens: int) -> tuple[float, int]:
    start = time.perf_counter()
    generation = backend.generate(PROMPT, [], tokens)
    generation.consume()
    return time.perf_counter() - start, generation.stats.completion_tokens


def busy_core(seconds: float) -> subprocess.Popen[bytes]:
    """Start a helper that keeps one core busy (a pure-Python spin) and exits by itself after `seconds`."""
    code = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"
    return subprocess.Popen([sys.executable, "-c", code])


def contention(
    model: str, profile_name: str, tokens: int, runs: int, helper_s: float, console: Console
) -> dict[str, Any]:
    """Tokens/s idle and with one core busy, per path; `busy_over_idle` is the fraction kept (median of runs)."""
    from llama_cpp import Llama

    from edgefabric.runtime.backends import load_backend
    from edgefabric.runtime.models import resolve_gguf
    from edgefabric.runtime.profiles import get_profile

    profile = get_profile(profile_name)
    gguf = str(resolve_gguf(model))
    ours = load_backend(model, profile=profile)  # contexts are made before the helper starts, as in real use
    default = Llama(model_path=gguf, n_ctx=profile.context, verbose=False)
    cores = os.cpu_count() or 1
    every = Llama(model_path=gguf, n_ctx=profile.context, n_threads=cores, n_threads_batch=cores, verbose=False)
    paths: dict[str, tuple[Callable[[], tuple[float, int]], int]] = {
        "edgefabric": (lambda: _ours(ours, tokens), runs),
        "llama_cpp_default": (lambda: _direct(default, tokens), runs),
        "llama_cpp_every_core": (lambda: _direct(every, tokens), 1),  # one run: it can take a minute when busy
    }
    threads = {
        "edgefabric": [ours.threads.generation, ours.threads.batch],
        "llama_cpp_default": [default.n_threads, default.n_threads_batch],
        "llama_cpp_every_core": [cores, cores],
    }
    for run, _ in paths.values():
        run()  # warm: page cache, first-call allocations, the prompt's KV prefix
    rows: dict[str, Any] = {name: {"threads": threads[name]} for name in paths}
    load: dict[str, Any] = {}
    for phase in ("idle", "one_core_busy"):
        load[f"{phase}_before"] = os.getloadavg()
        helper = busy_core(helper_s) if phase == "one_core_busy" else None
        try:
            if helper is not None:
                time.sleep(1.0)  # let the helper take its core
            for name, (run, count) in paths.items():
                rates = []
                for _ in range(count):
                    seconds, made = run()
                    rates.append(made / seconds)
                rows[name][phase] = rates
                console.log(f"{phase} {name}: " + ", ".join(f"{r:.1f}" for r in rates) + " tok/s")
        finally:
            if helper is not None:
                helper.terminate()
                helper.wait(timeout=10)
        load[f"{phase}_after"] = os.getloadavg()
    for row in rows.values():
        idle, busy = statistics.median(row["idle"]), statistics.median(row["one_core_busy"])
        row.update(idle_median=idle, busy_median=busy, busy_over_idle=busy / idle if idle else None)
    ours.close()
    return {
        "model": model,
        "profile": profile.name,
        "tokens": tokens,
        "runs": runs,
        "helper": f"one pure-Python spin process, at most {helper_s:.0f} s, stopped by the benchmark",
        "thread_plan": ours.threads.describe(),
        "load_average": load,
        "paths": rows,
        "goal": "edgefabric busy_over_idle >= 0.5",
        "goal_met": bool((rows["edgefabric"]["busy_over_idle"] or 0) >= 0.5),
    }


def _contention_table(row: dict[str, Any]) -> Table:
    table = Table(title=f"contention: {row['model']} ({row['profile']}; {row['thread_plan']}), {row['tokens']} tokens")
    for column in ("path", "threads (gen/batch)", "idle tok/s", "one core busy tok/s", "kept"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for name, path in row["paths"].items():
        kept = path["busy_over_idle"]
        table.add_row(
            name,
            "/".join(str(t) for t in path["threads"]),
            f"{path['idle_median']:.1f}",
            f"{path['busy_median']:.1f}",
            f"{kept:.0%}" if kept is not None else "n/a",
        )
    return table


def _write(update: dict[str, Any], replace: bool) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = {} if replace or not RESULTS.exists() else json.loads(RESULTS.read_text(encoding="utf-8"))
    data.update(update)
    RESULTS.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="embedded:smollm2-135m")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--profile", default="laptop")
    parser.add_argument("--eval-tokens", type=int, default=24)
    parser.add_argument(
        "--threads", type=int, default=None, help="Override the thread policy (EDGEFABRIC_THREADS) for our runtime."
    )
    parser.add_argument("--only", choices=["all", "contention"], default="all")
    parser.add_argument("--contention-runs", type=int, default=3)
    parser.add_argument("--helper-s", type=float, default=300, help="Upper bound on the busy helper's life.")
    args = parser.parse_args(argv)

    from edgefabric.runtime.threads import set_override

    set_override(args.threads)
    console = Console()
    if args.only == "contention":
        row = contention(args.model, args.profile, args.tokens, args.contention_runs, args.helper_s, console)
        console.print(_contention_table(row))
        _write({"contention": row}, replace=False)
        console.print(f"wrote the contention row to {RESULTS}")
        return

    from llama_cpp import Llama

    from edgefabric.pipeline.evaluate import Evaluator, load_bfcl_cases
    from edgefabric.runtime.agent import Agent
    from edgefabric.runtime.backends import guess_family, load_backend
    from edgefabric.runtime.models import resolve_gguf
    from edgefabric.runtime.profiles import get_profile
    from edgefabric.runtime.sandbox import load_toolbox
    from edgefabric.schemas import Message

    profile = get_profile(args.profile)
    ours = load_backend(args.model, profile=profile)
    direct = Llama(
        model_path=str(resolve_gguf(args.model)),
        n_ctx=profile.context,
        n_threads=ours.threads.generation,
        n_threads_batch=ours.threads.batch,
        n_batch=profile.batch,
        verbose=False,
    )
    _ours(ours, 8), _direct(direct, 8)  # warm both (page cache, first-call allocations)
    ours_tps, direct_tps = [], []
    for _ in range(args.runs):
        seconds, count = _direct(direct, args.tokens)
        direct_tps.append(count / seconds)
        seconds, count = _ours(ours, args.tokens)
        ours_tps.append(count / seconds)
        console.log(f"tok/s direct {direct_tps[-1]:.1f}, ours {ours_tps[-1]:.1f}")
    ours_med, direct_med = statistics.median(ours_tps), statistics.median(direct_tps)
    # Best of N, as timeit does: on a shared machine the fastest run is the one least disturbed by
    # other processes, so it measures the code rather than the neighbours; medians are kept too.
    ours_best, direct_best = max(ours_tps), max(direct_tps)
    overhead = (direct_best - ours_best) / direct_best * 100
    del direct

    family = guess_family(args.model)
    box = load_toolbox(["kv"])
    ask = [Message(role="user", content="Remember that my favourite colour is blue.")]
    first_call: dict[str, Any] = {}
    for mode in ("off", "required"):
        agent = Agent(ours, family, box.specs, max_steps=1, max_tokens=48, constrain=mode, max_calls=1)  # type: ignore[arg-type]
        with box.session() as session:
            result = agent.run(ask, session)
        first_call[mode] = {
            "time_to_first_call_s": result.time_to_first_call_s,
            "time_to_first_token_s": result.time_to_first_token_s,
            "calls": len(result.first_calls),
            "executed_ok": sum(1 for ex in result.executed if ex.ok),
        }
        console.log(f"first call, constrained={mode}: {first_call[mode]}")

    cases = load_bfcl_cases(BFCL)
    evals: dict[str, Any] = {}
    for mode in ("off", "required"):
        report = Evaluator(ours, family, max_steps=1, max_tokens=args.eval_tokens, constrain=mode).run(
            cases, model=args.model
        )  # type: ignore[arg-type]
        evals[mode] = {
            "cases": report.n,
            "samples_per_s": report.performance["samples_per_s"],
            "tool_selection_accuracy": report.metrics["tool_selection_accuracy"],
            "parameter_accuracy": report.metrics["parameter_accuracy"],
            "schema_validity_rate": report.metrics["schema_validity_rate"],
            "irrelevance_accuracy": report.metrics["irrelevance_accuracy"],
            "overall": report.overall,
            "no_call_baseline": report.baseline.get("overall"),
            "counts": report.counts,
        }
        console.log(f"eval, constrained={mode}: {evals[mode]}")
    ours.close()
    row = contention(args.model, args.profile, min(args.tokens, 32), args.contention_runs, args.helper_s, console)

    table = Table(title=f"runtime bench: {args.model} ({profile.name}, {ours.threads.describe()})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("llama-cpp-python direct, tok/s (best / median)", f"{direct_best:.1f} / {direct_med:.1f}")
    table.add_row("EdgeFabric runtime, tok/s (best / median)", f"{ours_best:.1f} / {ours_med:.1f}")
    table.add_row("ratio ours/direct (best; median)", f"{ours_best / direct_best:.3f}; {ours_med / direct_med:.3f}")
    table.add_row("overhead, best of runs (must be < 5%)", f"{overhead:+.1f}%")
    for mode, row in first_call.items():
        ttfc = row["time_to_first_call_s"]
        table.add_row(f"time to first tool call, constrained={mode}", f"{ttfc:.2f} s" if ttfc else "no call")
    for mode, row in evals.items():
        table.add_row(f"eval samples/s, constrained={mode}", f"{row['samples_per_s']:.3f}")
        table.add_row(f"eval overall, constrained={mode}", f"{(row['overall'] or 0) * 100:.1f}%")
    console.print(table)
    console.print(_contention_table(row))
    _write(
        {
            "model": args.model,
            "profile": profile.name,
            "threads": [ours.threads.generation, ours.threads.batch],
            "cpu_count": os.cpu_count(),
            "machine": platform.platform(),
            "load_average_at_end": os.getloadavg(),
            "runs": args.runs,
            "tokens": args.tokens,
            "direct_tokens_per_s": direct_tps,
            "ours_tokens_per_s": ours_tps,
            "direct_median": direct_med,
            "ours_median": ours_med,
            "direct_best": direct_best,
            "ours_best": ours_best,
            "ratio_best": ours_best / direct_best,
            "ratio_median": ours_med / direct_med,
            "overhead_percent": overhead,
            "time_to_first_call": first_call,
            "eval": evals,
            "contention": row,
        },
        replace=True,
    )
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
