"""An OpenAI-compatible `/v1/chat/completions` (with `tools`, plain and streaming) for a local model.

As in OpenAI's API the client runs the tools: a reply carries `tool_calls`, the client
sends their results back as `tool` messages. Output the format parser cannot read
comes back as plain content with `edgefabric.malformed: true` and the parse errors,
never as a server error. One generation runs at a time (llama.cpp contexts are not
thread-safe); it runs in a worker thread so the event loop keeps serving, and it is stopped at the
next token when its client disconnects. A streaming reply starts only once its generation has begun,
so what fails before the first token (a prompt over the context) is an HTTP error as in OpenAI's API,
never a 200 stream with the error in its last chunk.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.agent import Agent, AgentResult, Constrain
from edgefabric.runtime.backends.base import Backend, StopScanner
from edgefabric.schemas import Message, ToolSpec, messages_from_openai

DEFAULT_MAX_TOKENS = 512
MAX_BODY_BYTES = 4 * 1024 * 1024  # far above any context these models have; bigger bodies get 413
MAX_NESTING = 64  # JSON nested deeper than this is refused before anything recurses into it


DISCONNECT_POLL_S = 0.25  # how often a non-streaming request checks that its client is still there


class Cancelled(Exception):
    """The client disconnected: its generation was stopped to free the model."""


class BadRequest(ValueError):
    """Input the client must change: answered with a 4xx and this message, never a 500."""

    def __init__(self, message: str, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _nesting(raw: bytes) -> int:
    """How deep the brackets of a JSON text nest (strings skipped), without recursing."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def parse_body(raw: bytes, limit: int = MAX_BODY_BYTES) -> Any:
    """The JSON body of a request, or BadRequest (413 when over `limit` bytes)."""
    if len(raw) > limit:
        raise BadRequest(f"the request body is {len(raw)} bytes, over the {limit}-byte limit", 413)
    if _nesting(raw) > MAX_NESTING:
        raise BadRequest(f"the request body nests deeper than {MAX_NESTING} levels")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise BadRequest("the request body is not JSON") from None


def _max_tokens(body: dict[str, Any]) -> int:
    """`max_tokens` (or `max_completion_tokens`): a whole number of at least 1, else BadRequest."""
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadRequest(f"{key} must be an integer, not {type(value).__name__}")
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            raise BadRequest(f"{key} must be a whole number, not {str(value)[:40]}")
        if value < 1:
            raise BadRequest(f"{key} must be at least 1, not {int(value)}")
        return int(min(value, 1 << 31))
    return DEFAULT_MAX_TOKENS


def _error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": code or status}}, status_code=status)


async def _wait_watching(request: Request, work: Iterable[asyncio.Future[Any]], cancel: threading.Event) -> None:
    """Wait until one of `work` is done, setting `cancel` if the client disconnects meanwhile.

    The client is checked every DISCONNECT_POLL_S seconds; nothing in `work` is cancelled here.
    """
    pending = set(work)
    while not (await asyncio.wait(pending, timeout=DISCONNECT_POLL_S, return_when=asyncio.FIRST_COMPLETED))[0]:
        if await request.is_disconnected():
            cancel.set()


class _GenerationStream(StreamingResponse):
    """An SSE response that stops its generation however the response ends: finished, client gone, error."""

    def __init__(self, content: AsyncIterator[str], cancel: threading.Event) -> None:
        super().__init__(content, media_type="text/event-stream")
        self.cancel = cancel

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.cancel.set()  # a no-op once the generation is done


def _failed_before_generating(job: asyncio.Future[AgentResult]) -> Response | None:
    """The error response for a finished run that never generated, else None.

    A prompt over the context is the caller's error in OpenAI's API (400 `context_length_exceeded`,
    https://platform.openai.com/docs/guides/error-codes), not an empty reply; a client that left gets 499.
    """
    try:
        result = job.result()
    except Cancelled:
        return Response(status_code=499)  # nobody reads it: the client has gone
    except EdgeFabricError as exc:
        return _error(400, exc.message)
    overflow = next((f.reason for f in result.failures if f.kind == "context"), None)
    if overflow is not None and not result.steps:
        return _error(400, overflow, code="context_length_exceeded")
    return None


class ChatServer:
    def __init__(
        self,
        backend: Backend,
        family: str,
        tools: Sequence[ToolSpec],
        model_name: str,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.backend = backend
        self.max_body_bytes = max_body_bytes
        self.family = family
        self.tools = list(tools)
        self.model_name = model_name
        self._lock = threading.Lock()
        self.cancelled = 0  # generations stopped because their client disconnected

    def _request(self, body: Any) -> tuple[list[Message], list[ToolSpec], int, Constrain, bool]:
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            raise ValueError("the body needs a non-empty 'messages' list")
        messages = messages_from_openai(body["messages"])
        tools = [ToolSpec.model_validate(t) for t in body["tools"]] if body.get("tools") else self.tools
        if body.get("tool_choice") == "none":
            tools = []
        max_tokens = _max_tokens(body)
        constrain: Constrain = "off"
        if body.get("tool_choice") == "required" and tools and self.backend.name == "llama.cpp":
            constrain = "required"  # a grammar makes the call well-formed, as the client demanded one
        return messages, tools, max_tokens, constrain, bool(body.get("stream"))

    def _run(
        self,
        messages: list[Message],
        tools: list[ToolSpec],
        max_tokens: int,
        constrain: Constrain,
        on_text: Any = None,
        cancel: threading.Event | None = None,
    ) -> AgentResult:
        def guarded(piece: str) -> None:
            # Checked at every piece: a client that left frees the model within a token.
            if cancel is not None and cancel.is_set():
                raise Cancelled
            if on_text is not None:
                on_text(piece)

        agent = Agent(
            self.backend, self.family, tools, max_steps=1, max_tokens=max_tokens, constrain=constrain, on_text=guarded
        )
        with self._lock:
            try:
                if cancel is not None and cancel.is_set():
                    raise Cancelled  # the client left while waiting for the lock
                return agent.run(messages)
            except Cancelled:
                self.cancelled += 1
                raise

    def _choice_message(self, result: AgentResult) -> tuple[dict[str, Any], str, dict[str, Any]]:
        step = result.steps[-1] if result.steps else None
        calls = result.first_calls
        parse_errors = [f.reason for f in result.failures if f.kind == "parse"]
        malformed = bool(parse_errors) and not calls
        if calls:
            content = next((m.content for m in reversed(result.messages) if m.role == "assistant"), None)
            message = {"role": "assistant", "content": content, "tool_calls": [c.to_openai() for c in calls]}
            finish = "tool_calls"
        else:
            # Malformed output: the raw text, so the client sees what the model wrote.
            text = (step.output if malformed and step else result.final_text) or ""
            message = {"role": "assistant", "content": text}
            # OpenAI's finish_reason: "length" when the max_tokens cap cut the reply, else "stop".
            finish = "length" if result.stop_reason == "length" else "stop"
        flags = {
            "malformed": malformed,
            "errors": parse_errors or [f.reason for f in result.failures],
            "stop_reason": result.stop_reason,  # finer than finish_reason: answer, tool_call, length, stop_sequence, ...
        }
        return message, finish, flags

    def _usage(self, result: AgentResult) -> dict[str, int]:
        return {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "total_tokens": result.prompt_tokens + result.completion_tokens,
        }

    async def chat(self, request: Request) -> Response:
        try:
            declared = int(request.headers.get("content-length") or 0)
        except ValueError:
            declared = 0
        if declared > self.max_body_bytes:
            return _error(413, f"the request body is {declared} bytes, over the {self.max_body_bytes}-byte limit")
        try:
            raw = bytearray()
            async for part in request.stream():
                raw += part
                if len(raw) > self.max_body_bytes:
                    break
            body = parse_body(bytes(raw), self.max_body_bytes)
            messages, tools, max_tokens, constrain, stream = self._request(body)
        except BadRequest as exc:
            return _error(exc.status, str(exc))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(top level)"
            return _error(400, f"bad request: {where}: {first['msg']}"[:2000])
        except (ValueError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
            # Parsing touches no server state: whatever it raises, the input was bad.
            return _error(400, f"bad request: {str(exc)[:2000]}")
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if stream:
            return await self._stream_response(request, messages, tools, max_tokens, constrain, completion_id, created)
        cancel = threading.Event()
        job = asyncio.ensure_future(asyncio.to_thread(self._run, messages, tools, max_tokens, constrain, None, cancel))
        try:
            await _wait_watching(request, {job}, cancel)
        finally:
            cancel.set()  # also when this handler itself is cancelled (server shutdown)
        early = _failed_before_generating(job)
        if early is not None:
            return early
        result = job.result()
        message, finish, flags = self._choice_message(result)
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": self.model_name,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": self._usage(result),
                "edgefabric": flags,
            }
        )

    async def _stream_response(
        self,
        request: Request,
        messages: list[Message],
        tools: list[ToolSpec],
        max_tokens: int,
        constrain: Constrain,
        completion_id: str,
        created: int,
    ) -> Response:
        """Start the generation; answer with an error if it fails before its first token, else stream it."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        began = asyncio.Event()
        from edgefabric.runtime.formats.registry import get_format

        # Text is streamed as it comes until something that may open a call appears; from
        # there it is held back and sent as tool_calls (or as content) once parsed.
        marker = getattr(get_format(self.family), "CALL_START", None)
        scanner = StopScanner([marker] if marker else [])

        def on_text(piece: str) -> None:
            if not began.is_set():
                loop.call_soon_threadsafe(began.set)
            if not scanner.stopped:
                out = scanner.feed(piece)
                if out:
                    loop.call_soon_threadsafe(queue.put_nowait, out)

        cancel = threading.Event()
        task = asyncio.ensure_future(
            asyncio.to_thread(self._run, messages, tools, max_tokens, constrain, on_text, cancel)
        )

        def finished(done: asyncio.Future[AgentResult]) -> None:
            if not done.cancelled():
                done.exception()  # retrieved here: a cancelled stream never reads it
            loop.call_soon_threadsafe(queue.put_nowait, None)

        task.add_done_callback(finished)
        first = asyncio.ensure_future(began.wait())
        try:
            await _wait_watching(request, {task, first}, cancel)
        except BaseException:
            cancel.set()  # the handler itself was cancelled (server shutdown)
            raise
        finally:
            first.cancel()
        if task.done():
            early = _failed_before_generating(task)
            if early is not None:
                return early
        return _GenerationStream(self._stream(task, queue, completion_id, created), cancel)

    async def _stream(
        self,
        task: asyncio.Future[AgentResult],
        queue: asyncio.Queue[str | None],
        completion_id: str,
        created: int,
    ) -> AsyncIterator[str]:
        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            data = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.model_name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

        sent = ""
        yield chunk({"role": "assistant", "content": ""})
        while True:
            piece = await queue.get()
            if piece is None:
                break
            sent += piece
            yield chunk({"content": piece})
        try:
            result = task.result()
        except EdgeFabricError as exc:
            yield chunk({}, "stop", edgefabric={"malformed": False, "errors": [exc.message]})
            yield "data: [DONE]\n\n"
            return
        message, finish, flags = self._choice_message(result)
        if message.get("tool_calls"):
            for index, call in enumerate(message["tool_calls"]):
                yield chunk({"tool_calls": [{"index": index, **call}]})
        else:
            rest = message.get("content") or ""
            # Send whatever of the final content the live stream has not shown yet.
            if rest.startswith(sent):
                rest = rest[len(sent) :]
            elif sent:
                rest = ""
            if rest:
                yield chunk({"content": rest})
        yield chunk({}, finish, usage=self._usage(result), edgefabric=flags)
        yield "data: [DONE]\n\n"

    async def models(self, request: Request) -> Response:
        return JSONResponse(
            {"object": "list", "data": [{"id": self.model_name, "object": "model", "owned_by": "edgefabric"}]}
        )

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "model": self.model_name, "backend": self.backend.name})


def create_app(
    backend: Backend, family: str, tools: Sequence[ToolSpec], model_name: str, max_body_bytes: int = MAX_BODY_BYTES
) -> Starlette:
    """The Starlette app serving `backend`; bodies over `max_body_bytes` are answered 413."""
    server = ChatServer(backend, family, tools, model_name, max_body_bytes)
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", server.chat, methods=["POST"]),
            Route("/v1/models", server.models, methods=["GET"]),
            Route("/health", server.health, methods=["GET"]),
        ]
    )
    app.state.chat = server
    return app


def serve(app: Starlette, host: str = "127.0.0.1", port: int = 8080) -> None:
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning")
