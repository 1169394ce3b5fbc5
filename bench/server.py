"""Server load benchmark: `edgefabric serve` vs llama-cpp-python's own server on the same GGUF.

    .venv/bin/python -m bench.server [--model embedded:gemma3-270m] [--levels 1 4 16] [--requests 2]
                                     [--tokens 24] [--threads 1] [--llama-chat-format gemma]

Both servers run as their own processes on 127.0.0.1 with the same GGUF, context and threads. At each
concurrency level C, C clients send `--requests` x C chat completions in all (the same long-story prompt,
no tools, greedy, `max_tokens` = --tokens, so both sides generate to the cap) and the benchmark records
requests/s, p50/p95 latency and each server's peak resident memory (VmHWM, read from /proc). Levels
alternate between the servers so load from other processes hits both alike. Prints a table and writes
bench/results/server.json with the machine and its load average; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results" / "server.json"
PROMPT = "Write a long story about a lighthouse keeper who finds a message in a bottle."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _start(
    name: str, model: str, gguf: Path, threads: int, context: int, chat_format: str, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    if name == "edgefabric":
        command = [
            sys.executable,
            "-m",
            "edgefabric.cli",
            "serve",
            model,
            "--port",
            str(port),
            "--threads",
            str(threads),
        ]
        command += ["--tools", "math"]  # offered only to requests without tools; these send tool_choice none
    else:
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--port", str(port)]
        command += ["--n_ctx", str(context), "--n_threads", str(threads), "--n_threads_batch", str(threads)]
        # Under the GGUF's own template the Gemma 3 270M base answers with nothing at all (0 tokens,
        # "stop", logit_bias or not); llama-cpp-python's "gemma" format writes the same turn markup
        # EdgeFabric renders for a request without tools.
        command += ["--chat_format", chat_format]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    with log.open("wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} server exited at start: {log.read_text()[-1500:]}")
        try:
            if httpx.get(url + "/v1/models", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"{name} server did not answer within 300 s")


def _end_token_bias(gguf: Path) -> dict[str, float]:
    """OpenAI `logit_bias` that forbids the model's end tokens, so a reply runs to `max_tokens`.

    llama-cpp-python's server honours it; EdgeFabric ignores it (its reply lengths are reported beside).
    """
    from llama_cpp import Llama

    vocab = Llama(model_path=str(gguf), vocab_only=True, verbose=False)
    ends = {vocab.token_eos()}
    for text in (b"<end_of_turn>", b"<eos>"):
        ids = vocab.tokenize(text, add_bos=False, special=True)
        if len(ids) == 1:
            ends.add(ids[0])
    return {str(token): -100.0 for token in sorted(ends)}


async def _level(url: str, concurrency: int, total: int, tokens: int, bias: dict[str, float]) -> dict[str, Any]:
    import httpx

    body = {
        "model": "bench",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": tokens,
        "temperature": 0.0,
        "tool_choice": "none",
        "logit_bias": bias,
    }
    latencies: list[float] = []
    completion_tokens: list[int] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(total):
        queue.put_nowait(index)

    async def client(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            queue.get_nowait()
            began = time.perf_counter()
            reply = await http.post(url + "/v1/chat/completions", json=body)
            latencies.append(time.perf_counter() - began)
            reply.raise_for_status()
            completion_tokens.append(int(reply.json()["usage"]["completion_tokens"]))

    async with httpx.AsyncClient(timeout=httpx.Timeout(900)) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "concurrency": concurrency,
        "requests": total,
        "requests_per_s": total / wall,
        "p50_s": statistics.median(ordered),
        "p95_s": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "completion_tokens_mean": statistics.fmean(completion_tokens),
        "tokens_per_s": sum(completion_tokens) / wall,
        "wall_s": wall,
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded:gemma3-270m")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=2, help="requests per client at each level")
    parser.add_argument("--tokens", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--llama-chat-format", default="gemma", help="llama-cpp-python's chat_format for the model")
    args = parser.parse_args(argv)

    from edgefabric.runtime.models import resolve_gguf
    from edgefabric.runtime.profiles import get_profile

    console = Console()
    gguf = resolve_gguf(args.model)
    context = get_profile("laptop").context  # `serve`'s default profile
    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    bias = _end_token_bias(gguf)
    load_before = os.getloadavg()
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    rows: dict[str, list[dict[str, Any]]] = {"edgefabric": [], "llama_cpp_server": []}
    try:
        for name in rows:
            log = logs / f"bench-server-{name}.log"
            servers[name] = _start(name, args.model, gguf, args.threads, context, args.llama_chat_format, log)
            console.log(f"{name} up at {servers[name][1]}")
        for _, url in servers.values():
            asyncio.run(_level(url, 1, 1, args.tokens, bias))  # warm: page cache, first allocations
        for index, level in enumerate(args.levels):
            order = list(servers) if index % 2 == 0 else list(reversed(servers))
            for name in order:
                process, url = servers[name]
                row = asyncio.run(_level(url, level, level * args.requests, args.tokens, bias))
                row["peak_rss_mb"] = _peak_rss_mb(process.pid)
                rows[name].append(row)
                console.log(
                    f"{name} c={level}: {row['requests_per_s']:.2f} req/s, p50 {row['p50_s']:.2f} s, "
                    f"p95 {row['p95_s']:.2f} s, peak RSS {row['peak_rss_mb']:.0f} MiB"
                )
    finally:
        for process, _ in servers.values():
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    table = Table(title=f"server load: {args.model}, {args.tokens} tokens a request, {args.threads} thread(s)")
    columns = ("concurrency", "server", "req/s", "p50 (s)", "p95 (s)", "tokens/reply", "peak RSS (MiB)", "req/s ratio")
    for column in columns:
        table.add_column(column, justify="right")
    for position, level in enumerate(args.levels):
        ours, theirs = rows["edgefabric"][position], rows["llama_cpp_server"][position]
        for name, row in (("edgefabric", ours), ("llama_cpp_server", theirs)):
            ratio = f"{ours['requests_per_s'] / theirs['requests_per_s']:.2f}" if name == "edgefabric" else ""
            table.add_row(
                str(level), name, f"{row['requests_per_s']:.2f}", f"{row['p50_s']:.2f}", f"{row['p95_s']:.2f}",
                f"{row['completion_tokens_mean']:.1f}", f"{row['peak_rss_mb']:.0f}", ratio,
            )  # fmt: skip
    console.print(table)
    import llama_cpp

    result = {
        "model": args.model,
        "gguf": str(gguf),
        "tokens": args.tokens,
        "threads": args.threads,
        "context": context,
        "llama_cpp_python": llama_cpp.__version__,
        "prompt": PROMPT,
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "load_average_before": load_before,
        "load_average_at_end": os.getloadavg(),
        "logit_bias": bias,
        "llama_chat_format": args.llama_chat_format,
        "note": "req/s ratio = EdgeFabric / llama-cpp-python's server at the same concurrency",
        "levels": rows,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main(sys.argv[1:])
