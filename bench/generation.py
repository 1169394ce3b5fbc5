"""Accepted samples per minute against the local teacher server, EdgeFabric vs deepfabric 4.13.0.

    .venv/bin/python -m bench.generation [--samples N] [--concurrency 1,4,16] [--skip-deepfabric]

The default (16 samples, concurrency 1, 4 and 16) took 20 minutes on the shared 2-core machine;
--samples 4 gives a rough look in about 5.

One llama-cpp-python server (`python -m llama_cpp.server`, the embedded SmolLM2-135M
teacher) serves both tools in the same run, with the same topic prompt, depth and degree,
the same number of samples, temperature and max_tokens per call, and concurrency (EdgeFabric
teacher.concurrency, deepfabric output.batch_size capped at the sample count, since deepfabric
always fills whole batches). Each row also records the completion tokens the teacher spent,
which the machine's load does not change. What each side makes differs:

- EdgeFabric generates tool-calling samples (single / no_call mix, semantic judge off) and
  executes every call in its WebAssembly sandbox before a sample is accepted.
- deepfabric generates its basic conversations (conversation.type=basic), no tools, nothing
  executed (its tool mode needs a Spin server, which cannot be installed offline); a sample
  counts as accepted when deepfabric writes it to its dataset. `usable` also counts those with
  a non-empty user and assistant message, since the 135M teacher often leaves them empty.

deepfabric against this server, offline: its "openai" provider ignores `base_url` and checks
the key against api.openai.com; its "ollama" provider takes `base_url` (and OLLAMA_HOST for its
connection check) and speaks the OpenAI API, so that is the one used. But every deepfabric
call is structured output through outlines' OpenAI adapter, which always sends
`response_format={"type": "json_schema", "json_schema": {"name": "default", "strict": true,
"schema": ...}}` (outlines/models/openai.py, format_json_output_type); no deepfabric setting
changes that, and no other provider it has speaks the OpenAI API without it (anthropic and
gemini use their own APIs). llama-cpp-python 0.3.36's server rejects that form before
generating: HTTP 500, "1 validation error: {'type': 'literal_error', 'loc': ('body',
'response_format', 'type'), 'msg': "Input should be 'text' or 'json_object'"}"; it takes the
same schema as `{"type": "json_object", "schema": ...}`. So, as the one adaptation, deepfabric
talks to the server through `SchemaEnvelopeAdapter` below, a pass-through on 127.0.0.1 that
rewrites only that envelope (the schema itself is untouched) and forwards everything else as
is. EdgeFabric's own client sends the json_object form to this server already, so it talks to
the server directly. deepfabric's code is not patched; it lives in its own venv
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
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
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
MAX_TOKENS = 160  # per teacher call, both sides
# One decode thread: on this shared 2-core machine two llama.cpp threads stall each other as soon as
# another job holds a core (seen at 1-3 s per token instead of ~10 ms); the server is the same for both.
SERVER_THREADS = 1
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "te", "upgrade", "trailer"}


def ensure_deepfabric() -> Path:
    executable = DEEPFABRIC_VENV / "bin" / "deepfabric"
    if executable.exists():
        return executable
    subprocess.run([sys.executable, "-m", "venv", str(DEEPFABRIC_VENV)], check=True)
    pip = [str(DEEPFABRIC_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, f"deepfabric=={DEEPFABRIC_VERSION}"], check=True)
    return executable


class SchemaEnvelopeAdapter:
    """A pass-through on 127.0.0.1 in front of the teacher server, used by deepfabric only.

    It forwards every request and response unchanged (streamed), except one field: a
    chat request's `response_format={"type": "json_schema", "json_schema": {"schema": S, ...}}`
    (the only form deepfabric can send, via outlines) becomes `{"type": "json_object",
    "schema": S}`, the form llama-cpp-python's server takes for the same schema-constrained
    decoding. EdgeFabric's own client makes the same choice for this server (teacher.py,
    "json_object_schema"). It also counts the chat calls and the completion tokens the server
    reports, and keeps the first chat body it saw.
    """

    def __init__(self, upstream: str) -> None:
        parsed = urlsplit(upstream)
        self.upstream_root = f"{parsed.scheme}://{parsed.netloc}"
        self.url_path = parsed.path
        self.chat_calls = 0
        self.rewritten = 0
        self.completion_tokens = 0
        self.statuses: dict[int, int] = {}
        self.first_request: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=httpx.Timeout(None))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.url_path}"

    def rewrite(self, body: bytes) -> bytes:
        try:
            payload = json.loads(body)
        except ValueError:
            return body
        if not isinstance(payload, dict):
            return body
        with self._lock:
            self.chat_calls += 1
            if self.first_request is None:
                self.first_request = json.loads(body)  # as deepfabric sent it
        fmt = payload.get("response_format")
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            payload["response_format"] = {"type": "json_object", "schema": fmt.get("json_schema", {}).get("schema", {})}
            with self._lock:
                self.rewritten += 1
            return json.dumps(payload).encode()
        return body

    def count_tokens(self, reply: bytes) -> None:
        try:
            tokens = int(json.loads(reply)["usage"]["completion_tokens"])
        except (ValueError, KeyError, TypeError):
            return  # a streamed, compressed or error reply: nothing counted
        with self._lock:
            self.completion_tokens += tokens

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        adapter = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the response ends when the connection closes

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                chat = self.command == "POST" and self.path.endswith("/chat/completions")
                if chat:
                    body = adapter.rewrite(body)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                request = adapter._client.build_request(
                    self.command, adapter.upstream_root + self.path, headers=headers, content=body
                )
                response = adapter._client.send(request, stream=True)
                try:
                    with adapter._lock:
                        adapter.statuses[response.status_code] = adapter.statuses.get(response.status_code, 0) + 1
                    self.send_response(response.status_code)
                    for key, value in response.headers.items():
                        if key.lower() not in _HOP_HEADERS:
                            self.send_header(key, value)
                    self.end_headers()
                    reply = bytearray()
                    for chunk in response.iter_raw():
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        reply += chunk if chat else b""
                finally:
                    response.close()
                if chat:
                    adapter.count_tokens(bytes(reply))

            do_GET = do_POST = _forward

        return Handler

    def __enter__(self) -> SchemaEnvelopeAdapter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()


def run_edgefabric(server: LocalTeacherServer, samples: int, concurrency: int) -> dict[str, Any]:
    config = ProjectConfig.model_validate(
        {
            "teacher": {"concurrency": concurrency, "max_tokens": MAX_TOKENS, "temperature": 0.7},
            "tools": {"builtin": ["math"]},
            "topics": {"prompt": PROMPT, "depth": DEPTH, "degree": DEGREE},
            "generation": {"num_samples": samples, "kinds": {"single": 1, "no_call": 1}, "semantic_check": False},
        }
    )
    with tempfile.TemporaryDirectory(prefix="bench-edgefabric-") as out:
        started = time.perf_counter()
        summary = generate(config, Path(out), endpoint=server.endpoint("embedded:smollm2-135m"))
        elapsed = time.perf_counter() - started
        records = [json.loads(line) for line in (Path(out) / "samples.jsonl").read_text().splitlines() if line.strip()]
    grounded = grounded_counts([r.get("messages") or [] for r in records])
    return {
        "accepted": summary.accepted,
        **grounded,
        "grounded_per_min": round(grounded["grounded"] / elapsed * 60, 3),
        "attempts": summary.attempts,
        "seconds": round(elapsed, 1),
        "per_min": round(summary.accepted / elapsed * 60, 3),
        "teacher_calls": summary.card["usage"]["calls"],
        "completion_tokens": summary.card["usage"]["completion_tokens"],
    }


def grounded_counts(conversations: list[list[dict[str, Any]]]) -> dict[str, int]:
    """How many conversations (OpenAI message dicts) pass EdgeFabric's grounding stage: "grounded" counts
    every such sample, "grounded_calling" those among them that make at least one call."""
    from edgefabric.pipeline.generate.grounding import Grounder
    from edgefabric.runtime.sandbox import load_toolbox
    from edgefabric.schemas import Message

    tools = list(load_toolbox(["math"]).specs)
    grounder = Grounder()
    grounded = calling = 0
    for raw in conversations:
        try:
            messages = [Message.model_validate(m) for m in raw]
        except ValueError:
            continue
        if not messages or not grounder.check_messages(messages, tools).passed:
            continue
        grounded += 1
        calling += any(m.tool_calls for m in messages)
    return {"grounded": grounded, "grounded_calling": calling}


def usable(line: str) -> bool:
    """A deepfabric sample with a non-empty user message and a non-empty assistant message."""
    try:
        messages = json.loads(line).get("messages") or []
    except ValueError:
        return False
    roles = {m.get("role") for m in messages if isinstance(m, dict) and str(m.get("content") or "").strip()}
    return {"user", "assistant"} <= roles


def run_deepfabric(executable: Path, adapter: SchemaEnvelopeAdapter, samples: int, concurrency: int) -> dict[str, Any]:
    calls_before, rewritten_before, tokens_before = adapter.chat_calls, adapter.rewritten, adapter.completion_tokens
    # deepfabric makes ceil(num_samples / batch_size) full batches, so a batch larger than the
    # sample count would make it generate more samples than EdgeFabric does.
    batch_size = min(concurrency, samples)
    with tempfile.TemporaryDirectory(prefix="bench-deepfabric-") as out:
        dataset = Path(out) / "dataset.jsonl"
        config = {
            # "ollama": deepfabric's OpenAI-API provider that honours base_url (see the module doc).
            "llm": {"provider": "ollama", "model": "teacher", "base_url": adapter.url, "temperature": 0.7},
            "topics": {
                "prompt": PROMPT,
                "mode": "tree",
                "depth": DEPTH,
                "degree": DEGREE,
                "max_tokens": MAX_TOKENS,
                "save_as": f"{out}/topics.jsonl",
            },
            "generation": {
                "system_prompt": "Write a realistic request and a helpful answer.",
                "instructions": "Create diverse, practical scenarios.",
                "conversation": {"type": "basic"},
                "max_retries": 2,
                "max_tokens": MAX_TOKENS,
            },
            "output": {"num_samples": samples, "batch_size": batch_size, "save_as": str(dataset)},
        }
        path = Path(out) / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        # deepfabric's telemetry is off only for ANONYMIZED_TELEMETRY == "False" (deepfabric/metrics.py).
        env = {**os.environ, "OLLAMA_HOST": adapter.url, "ANONYMIZED_TELEMETRY": "False"}
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
        lines = dataset.read_text().splitlines() if dataset.exists() else []
        failed = [line for p in Path(out).glob("dataset_failures_*.jsonl") for line in p.read_text().splitlines()]
    conversations = []
    for line in lines:
        try:
            conversations.append(json.loads(line).get("messages") or [])
        except ValueError:
            conversations.append([])
    grounded = grounded_counts(conversations)
    row: dict[str, Any] = {
        "accepted": len(lines),
        **grounded,
        "grounded_per_min": round(grounded["grounded"] / elapsed * 60, 3),
        "usable": sum(usable(line) for line in lines),
        "failed": len(failed),
        "seconds": round(elapsed, 1),
        "per_min": round(len(lines) / elapsed * 60, 3),
        "teacher_calls": adapter.chat_calls - calls_before,
        "calls_rewritten": adapter.rewritten - rewritten_before,
        "completion_tokens": adapter.completion_tokens - tokens_before,
        "batch_size": batch_size,
    }
    if failed:
        row["first_failure"] = failed[0][:300]
    if result.returncode != 0 or not lines:
        row["error"] = (result.stderr or result.stdout)[-600:]
    return row


def direct_reply(server: LocalTeacherServer, request: dict[str, Any]) -> dict[str, Any]:
    """What the server answers to deepfabric's request as deepfabric sent it (no adapter)."""
    reply = httpx.post(f"{server.url}/chat/completions", json=request, timeout=600)
    fmt = request.get("response_format") or {}
    return {
        "request_response_format": {
            "type": fmt.get("type"),
            "json_schema": {k: v for k, v in fmt.get("json_schema", {}).items() if k != "schema"} | {"schema": "..."},
        },
        "status": reply.status_code,
        "reply": reply.text[:400],
    }


NOTE = (
    "Both tools generate against one llama-cpp-python server (embedded SmolLM2-135M-Instruct GGUF, 127.0.0.1) "
    "in the same run, with the same topic prompt, tree depth {depth} and degree {degree}, {samples} samples per run, "
    "temperature 0.7, max_tokens {max_tokens} per teacher call, one server decode thread, and the concurrency of "
    "the row (EdgeFabric "
    "teacher.concurrency, deepfabric output.batch_size capped at the sample count, as deepfabric always fills whole "
    "batches). They do not make the same thing: EdgeFabric makes "
    "tool-calling samples (single / no_call mix, semantic judge off) and executes every tool call in its "
    "WebAssembly sandbox before accepting a sample; deepfabric makes basic conversations (conversation.type=basic) "
    "without tools and executes nothing. 'grounded' counts the accepted samples that pass EdgeFabric's grounding "
    "stage (every call's values follow from the request, a result or the schema), 'grounded_calling' those among "
    "them that make a call: accepted-but-ungrounded samples are not a win. "
    "The ratio is EdgeFabric's accepted samples per minute over deepfabric's, "
    "each counted as the tool itself accepts them (written to its dataset); wall time includes each tool's topic "
    "generation and start-up. deepfabric's 'usable' counts its accepted samples with a non-empty user and "
    "assistant message (the 135M teacher often fills its schema with empty ones); ratio_usable uses that count. "
    "Adaptation: deepfabric (ollama provider, base_url at the server; its openai provider ignores base_url and "
    "checks the key against api.openai.com) always sends response_format type json_schema through outlines, which "
    "this server rejects (see deepfabric_direct_reply), so its requests went through a 127.0.0.1 pass-through "
    "that only rewrites that envelope to {{type: json_object, schema}} with the schema unchanged, the form "
    "EdgeFabric's own client sends this server; deepfabric's code is unpatched. The machine has {cpus} CPUs and "
    "was shared with other jobs (see load averages per row), so absolute rates are load-bound and vary a lot "
    "between rows; completion_tokens (teacher tokens spent per run, as the server reported them) does not depend "
    "on load. The first "
    "EdgeFabric row also pays the one-time sandbox compile of the math tool set."
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=16)
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
        "max_tokens_per_call": MAX_TOKENS,
        "server_threads": SERVER_THREADS,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "deepfabric_version": None if args.skip_deepfabric else DEEPFABRIC_VERSION,
        "started_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "rows": rows,
        "note": NOTE.format(
            depth=DEPTH, degree=DEGREE, samples=args.samples, max_tokens=MAX_TOKENS, cpus=os.cpu_count()
        ),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with (
        LocalTeacherServer(resolve_gguf("embedded:smollm2-135m"), n_threads=SERVER_THREADS) as server,
        SchemaEnvelopeAdapter(server.url) as adapter,
    ):
        for level in levels:
            load_before = os.getloadavg()
            ours = run_edgefabric(server, args.samples, level)
            theirs = run_deepfabric(deepfabric, adapter, args.samples, level) if deepfabric else None
            if deepfabric and "deepfabric_direct_reply" not in report and adapter.first_request is not None:
                report["deepfabric_direct_reply"] = direct_reply(server, adapter.first_request)
            ours_rate = ours["accepted"] / ours["seconds"]
            ratio = (
                round(ours_rate / (theirs["accepted"] / theirs["seconds"]), 3)
                if theirs and theirs["accepted"]
                else None
            )
            ratio_usable = (
                round(ours_rate / (theirs["usable"] / theirs["seconds"]), 3) if theirs and theirs["usable"] else None
            )
            load_after = os.getloadavg()
            rows.append(
                {
                    "concurrency": level,
                    "edgefabric": ours,
                    "deepfabric": theirs,
                    "ratio": ratio,
                    "ratio_usable": ratio_usable,
                    "load_avg_1_5_15_before": [round(x, 2) for x in load_before],
                    "load_avg_1_5_15_after": [round(x, 2) for x in load_after],
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            # Written after every row, so a long run that is stopped still leaves its figures.
            report["machine"]["load_avg_1m"] = round(load_after[0], 2)
            report["finished_utc"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
            RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\n{'concurrency':>11} | {'edgefabric/min':>14} | {'deepfabric/min':>14} | {'ratio':>6} | grounded/min ours, theirs"
    )
    for row in rows:
        other = "n/a" if row["deepfabric"] is None else f"{row['deepfabric']['per_min']:.2f}"
        ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f}"
        grounded = f"{row['edgefabric']['grounded_per_min']:.2f}, " + (
            "n/a" if row["deepfabric"] is None else f"{row['deepfabric']['grounded_per_min']:.2f}"
        )
        print(
            f"{row['concurrency']:>11} | {row['edgefabric']['per_min']:>14.2f} | {other:>14} | {ratio:>6} | {grounded}"
        )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main(sys.argv[1:])
