"""A scripted OpenAI-compatible server on 127.0.0.1 for fault injection.

Replies are built from the JSON Schema in the request's response_format (so every
pipeline step gets a well-formed answer without a model), and queued faults
replace the next replies: 429 with Retry-After, 5xx, 400, a slow reply (timeout),
truncated JSON, or JSON of the wrong shape. Real teachers are tested elsewhere
(the llama.cpp server); this one exists to make failures happen on demand.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

WORDS = (
    "apple river candle orbit maple quartz violet harbor pepper lantern meadow copper falcon ember willow "
    "saddle tunnel velvet cobalt prairie thistle beacon marble juniper glacier cactus ripple summit "
    "pebble cinder hazel lotus mosaic nectar oyster parrot quill raven sierra tundra umber walnut yarrow "
    "zephyr anchor bramble cedar dune fjord grove heron iris jade kelp lagoon"
).split()


@dataclass
class Fault:
    status: int | None = None  # reply with this HTTP status
    retry_after: float | None = None  # with a Retry-After header (seconds)
    delay_s: float = 0.0  # wait this long before replying (a timeout when longer than the client's)
    truncate: bool = False  # cut the JSON reply in half
    wrong_schema: bool = False  # reply with JSON of the wrong shape


Responder = Callable[[dict[str, Any], dict[str, Any]], Any]  # (schema, request body) -> value or None


@dataclass
class ScriptedTeacher:
    """Builds schema-valid replies; `tool_arguments` pins the arguments per tool name."""

    seed: int = 0
    tool_arguments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    responder: Responder | None = None
    verdict: str = "yes"

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._counter = 0
        self._lock = threading.Lock()

    def words(self, count: int = 7) -> str:
        with self._lock:
            self._counter += 1
            return " ".join(self._rng.choice(WORDS) for _ in range(count))

    def reply(self, schema: dict[str, Any] | None, body: dict[str, Any]) -> str:
        if self.responder is not None:
            value = self.responder(schema or {}, body)
            if value is not None:
                return value if isinstance(value, str) else json.dumps(value)
        if not schema:
            return self.words()
        prompt = str(body["messages"][-1].get("content") or "")
        results = " ".join(line for line in prompt.splitlines() if line.startswith("Result of "))
        # A multi-step sample's first call: the pinned call whose result a later pinned call reuses
        # (add(2, 3) = 5 feeds add(5, 1)), as a teacher that plans the chain would choose.
        first_of_chain = "Make only the FIRST tool call" in prompt
        return json.dumps(self.instance(schema, key="", results=results, first_of_chain=first_of_chain))

    def _call(self, item: dict[str, Any], results: str, first_of_chain: bool = False) -> dict[str, Any]:
        """One call: a tool from the schema with pinned arguments, preferring arguments that reuse a result."""
        branches = item.get("anyOf") or [item]
        names = [b["properties"]["name"].get("const") for b in branches if "const" in b["properties"]["name"]]
        if not names:  # the free-form mistake step: a known name, no arguments at all
            return {"name": item["properties"]["name"]["enum"][0], "arguments": {}}
        options = [(n, a) for n in names for a in self.tool_arguments.get(n, [])]
        if results:
            chained = [(n, a) for n, a in options if any(str(v) in results for v in a.values())]
            options = chained or options
        elif first_of_chain and options:
            options = options[:1]
        if not options:
            with self._lock:
                branch = self._rng.choice(branches)
            return {
                "name": branch["properties"]["name"]["const"],
                "arguments": self.instance(branch["properties"]["arguments"], "arguments"),
            }
        with self._lock:
            name, arguments = self._rng.choice(options)
        return {"name": name, "arguments": arguments}

    def instance(self, schema: dict[str, Any], key: str, results: str = "", first_of_chain: bool = False) -> Any:
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self.verdict if key == "verdict" else schema["enum"][0]
        for union in ("anyOf", "oneOf"):
            if union in schema:
                with self._lock:
                    branch = self._rng.choice(schema[union])
                return self.instance(branch, key)
        kind = schema.get("type", "object")
        if kind == "object":
            properties = schema.get("properties", {})
            return {name: self.instance(sub, name, results, first_of_chain) for name, sub in properties.items()}
        if kind == "array":
            count = max(1, schema.get("minItems", 1))
            if key == "calls":
                return [self._call(schema["items"], results, first_of_chain) for _ in range(count)]
            return [self.instance(schema.get("items", {}), key) for _ in range(count)]
        if kind == "string" and key == "request":
            # A request that states every pinned value, so the calls it is paired with are grounded.
            values = [str(v) for options in self.tool_arguments.values() for a in options for v in a.values()]
            return f"{self.words()} with {' '.join(values)}".strip()
        if kind == "string":
            return self.words()[: schema.get("maxLength", 400)]
        if kind == "integer":
            return int(schema.get("minimum", 3))
        if kind == "number":
            return float(schema.get("minimum", 2.5))
        if kind == "boolean":
            return True
        return None


class TeacherServer:
    """`with TeacherServer() as server:` serves on server.url until the block ends."""

    def __init__(self, script: ScriptedTeacher | None = None, *, delay_s: float = 0.0) -> None:
        self.script = script or ScriptedTeacher()
        self.delay_s = delay_s
        self.faults: deque[Fault] = deque()
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "scripted", "object": "model"}]})

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        fault = self.faults.popleft() if self.faults else Fault()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s + fault.delay_s)
            if fault.status is not None:
                headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                error = {"error": {"message": f"injected {fault.status}", "type": "injected", "code": fault.status}}
                return web.json_response(error, status=fault.status, headers=headers)
            response_format = body.get("response_format") or {}
            schema = response_format.get("schema") or (response_format.get("json_schema") or {}).get("schema")
            content = self.script.reply(schema, body)
            if fault.truncate:
                content = content[: max(1, len(content) // 2)]
            if fault.wrong_schema:
                content = json.dumps({"unexpected": 1})
            return web.json_response(
                {
                    "id": f"chatcmpl-{len(self.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "scripted"),
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
                }
            )
        finally:
            self.in_flight -= 1

    def _serve(self) -> None:
        async def main() -> None:
            self._stop = asyncio.Event()
            app = web.Application()
            app.router.add_get("/v1/models", self._models)
            app.router.add_post("/v1/chat/completions", self._chat)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._ready.set()
            await self._stop.wait()
            await runner.cleanup()

        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(main())
        self._loop.close()

    def __enter__(self) -> TeacherServer:
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the scripted teacher server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
