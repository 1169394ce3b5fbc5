"""An async teacher over litellm: any model litellm reaches, or any OpenAI-compatible api_base.

One `Teacher` is shared by every task of a run, so its semaphore is the single
global concurrency limit (topic expansion and samples alike). Transient failures
(429, 5xx, timeouts, refused connections) are retried with exponential backoff and
full jitter, waiting at least what Retry-After asks; other failures raise at once
with the fix named.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import random
import time
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from edgefabric.config import TeacherConfig
from edgefabric.errors import EdgeFabricError
from edgefabric.pipeline.generate.structured import StructuredReplyError, grammar_safe, validate_reply
from edgefabric.pipeline.generate.usage import Usage

ModelT = TypeVar("ModelT", bound=BaseModel)
StructuredStyle = Literal["json_object_schema", "json_schema", "json_object"]
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
MAX_RETRY_AFTER_S = 120.0


class TeacherError(EdgeFabricError):
    """A teacher call that failed for good (not retryable, or out of retries)."""


@dataclass(frozen=True)
class Endpoint:
    """Where the teacher is reached: a litellm model name, and optionally a base URL and key."""

    model: str
    api_base: str | None = None
    api_key: str | None = None
    label: str = ""  # what the dataset card names as the teacher
    # A local llama.cpp server answers one request at a time and keeps generating for a
    # client that gave up, so a short client timeout only piles up abandoned work there.
    min_timeout_s: float = 0.0
    # More base URLs serving the same model (the embedded teacher runs one single-threaded
    # server per free core); each request goes to the base with the fewest requests in flight.
    replicas: tuple[str, ...] = ()

    @property
    def api_bases(self) -> tuple[str, ...]:
        return ((self.api_base,) if self.api_base else ()) + self.replicas

    @property
    def is_openai_compatible_server(self) -> bool:
        return self.api_base is not None and self.model.startswith("openai/")


def endpoint_for(config: TeacherConfig) -> Endpoint:
    """The endpoint of a non-embedded teacher (the embedded one comes from `local_server`)."""
    key = None
    if config.api_key_env:
        key = os.environ.get(config.api_key_env)
        if not key:
            raise TeacherError(
                f"teacher.api_key_env names {config.api_key_env}, which is not set",
                f"export {config.api_key_env}=<your key>, or remove api_key_env for a server without keys",
            )
    model = config.model
    if config.api_base and "/" not in model:
        # A bare name with a base URL means "an OpenAI-compatible server serving this model".
        model = f"openai/{model}"
    if config.api_base and key is None:
        key = "none"  # the OpenAI client insists on some key; local servers ignore it
    return Endpoint(model=model, api_base=config.api_base, api_key=key, label=config.model)


def _import_litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # else the import reaches for the network
    import litellm

    litellm.suppress_debug_info = True
    logging.getLogger("LiteLLM").setLevel(logging.ERROR)
    return litellm


def retry_after_seconds(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (Retry-After as seconds or an HTTP date), if it did."""
    headers: Any = None
    response = getattr(exc, "response", None)
    if response is not None:
        headers = getattr(response, "headers", None)
    if not headers:
        headers = getattr(exc, "litellm_response_headers", None)
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed is None:
            return None
        seconds = parsed.timestamp() - time.time()
    return max(0.0, min(seconds, MAX_RETRY_AFTER_S))


def is_transient(exc: BaseException, litellm: Any) -> bool:
    transient_types = tuple(
        getattr(litellm, name)
        for name in (
            "Timeout",
            "APIConnectionError",
            "RateLimitError",
            "ServiceUnavailableError",
            "InternalServerError",
            "BadGatewayError",
        )
        if hasattr(litellm, name)
    )
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, *transient_types)):
        return True
    return getattr(exc, "status_code", None) in RETRY_STATUSES


class Teacher:
    """Chat completions with a global concurrency limit, retries and usage accounting."""

    def __init__(
        self,
        config: TeacherConfig,
        endpoint: Endpoint,
        *,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        structured_style: StructuredStyle | None = None,
        schema_retries: int = 2,
    ) -> None:
        self.config = config
        self.endpoint = endpoint
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.schema_retries = schema_retries
        # llama.cpp's server takes a schema inside json_object and rejects json_schema;
        # hosted providers take json_schema, which litellm translates per provider.
        self.structured_style: StructuredStyle = structured_style or (
            "json_object_schema" if endpoint.is_openai_compatible_server else "json_schema"
        )
        self.timeout_s = max(config.timeout_s, endpoint.min_timeout_s)
        self.usage = Usage()
        self._semaphore: asyncio.Semaphore | None = None
        self._litellm: Any = None
        self._in_flight = dict.fromkeys(endpoint.api_bases, 0)

    @property
    def semaphore(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.config.concurrency)
        return self._semaphore

    def _least_busy(self) -> str | None:
        """The base URL with the fewest requests in flight (the first on ties), or None without one."""
        if not self._in_flight:
            return None
        return min(self._in_flight, key=lambda base: self._in_flight[base])

    def _backoff(self, attempt: int, exc: BaseException) -> float:
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * (2**attempt))
        delay = random.uniform(ceiling / 2, ceiling)  # jitter spreads the herd after a shared 429
        asked = retry_after_seconds(exc)
        return max(delay, asked) if asked is not None else delay

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        response_format: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        usage: Usage | None = None,
    ) -> str:
        """The reply text of one chat completion, retried on transient failures."""
        if self._litellm is None:
            self._litellm = _import_litellm()
        litellm = self._litellm
        kwargs: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": messages,
            "temperature": self.config.temperature,
            "max_tokens": max_tokens or self.config.max_tokens,
            "timeout": self.timeout_s,
            "max_retries": 0,  # retries are ours, so Retry-After and the global limit are honoured
        }
        if self.endpoint.api_base:
            kwargs["api_base"] = self.endpoint.api_base
        if self.endpoint.api_key:
            kwargs["api_key"] = self.endpoint.api_key
        if response_format is not None:
            kwargs["response_format"] = response_format
        local = Usage()
        attempt = 0
        try:
            while True:
                try:
                    async with self.semaphore:
                        local.calls += 1
                        base = self._least_busy()
                        if base is not None:
                            kwargs["api_base"] = base
                            self._in_flight[base] += 1
                        try:
                            response = await asyncio.wait_for(litellm.acompletion(**kwargs), timeout=self.timeout_s + 5)
                        finally:
                            if base is not None:
                                self._in_flight[base] -= 1
                    break
                except Exception as exc:
                    if not is_transient(exc, litellm):
                        raise TeacherError(
                            f"the teacher {self.endpoint.label or self.endpoint.model} failed: {_short(exc)}",
                            "check teacher.model, teacher.api_base and the API key",
                        ) from None
                    if attempt >= self.config.max_retries:
                        raise TeacherError(
                            f"the teacher kept failing after {attempt + 1} tries: {_short(exc)}",
                            "check the server, or raise teacher.max_retries / teacher.timeout_s",
                        ) from None
                    local.retries += 1
                    await asyncio.sleep(self._backoff(attempt, exc))  # the semaphore is free while we wait
                    attempt += 1
            reported = getattr(response, "usage", None)
            if reported is not None:
                local.prompt_tokens += int(getattr(reported, "prompt_tokens", 0) or 0)
                local.completion_tokens += int(getattr(reported, "completion_tokens", 0) or 0)
            hidden = getattr(response, "_hidden_params", None) or {}
            local.add_cost(hidden.get("response_cost"))
            content = response.choices[0].message.content
            return content or ""
        finally:
            self.usage.add(local)
            if usage is not None:
                usage.add(local)

    def _response_format(self, schema: dict[str, Any], name: str) -> dict[str, Any]:
        if self.structured_style == "json_object_schema":
            return {"type": "json_object", "schema": grammar_safe(schema)}
        if self.structured_style == "json_schema":
            return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": False}}
        return {"type": "json_object"}

    async def structured(
        self,
        messages: list[dict[str, Any]],
        schema: dict[str, Any],
        model: type[ModelT],
        *,
        name: str = "reply",
        max_tokens: int | None = None,
        usage: Usage | None = None,
    ) -> ModelT:
        """A reply validated against `schema` and `model`; an invalid reply is asked for again."""
        convo = list(messages)
        if self.structured_style == "json_object":
            convo = [*convo[:-1], _with_schema(convo[-1], schema)]
        problem = ""
        reply = ""
        for _ in range(self.schema_retries + 1):
            reply = await self.complete(
                convo, response_format=self._response_format(schema, name), max_tokens=max_tokens, usage=usage
            )
            try:
                return validate_reply(reply, schema, model)
            except ValueError as exc:
                problem = str(exc)
                self.usage.invalid_replies += 1
                if usage is not None:
                    usage.invalid_replies += 1
                convo = [
                    *convo,
                    {"role": "assistant", "content": reply[:2000]},
                    {"role": "user", "content": f"That reply was not usable: {problem}. Reply again with JSON only."},
                ]
        raise StructuredReplyError(
            f"the teacher's {name} was not valid after {self.schema_retries + 1} tries: {problem}", reply
        )


def _with_schema(message: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    text = f"{message['content']}\n\nReply with one JSON object matching this JSON Schema:\n{json.dumps(schema)}"
    return {**message, "content": text}


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"
