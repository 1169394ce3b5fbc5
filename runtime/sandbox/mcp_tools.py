"""Tool sets imported from MCP servers (stdio), and calls executed against the real server.

An imported set is a JSON file holding the server's command and its tools' schemas. Calls to it
go to the server process itself, which runs OUTSIDE the WebAssembly sandbox with the user's own
permissions: only import servers you trust.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import shlex
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.sandbox.engine import Outcome
from edgefabric.runtime.sandbox.modules import SET_NAME
from edgefabric.schemas import ToolSpec

FORMAT: Literal["edgefabric.mcp-toolset"] = "edgefabric.mcp-toolset"


class RejectedTool(BaseModel):
    """A server's tool that import left out, and the rule it broke."""

    model_config = ConfigDict(extra="forbid")

    name: str
    rule: str


def _broken_rule(tool: Any, error: ValidationError) -> str:
    """The rule a tool breaks, in words a user can act on (the first one pydantic found)."""
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    if field == "name":
        name = str(tool.name)
        if len(name) > 64:
            return f"its name is {len(name)} characters; tool names are at most 64 (as OpenAI's function names)"
        return "its name must start with a letter or '_' and hold only letters, digits, '_', '.' and '-'"
    if field == "parameters":
        return f"its input schema cannot be used: {first['msg']}"
    return f"{field or 'the tool'}: {first['msg']}"


class McpToolSet(BaseModel):
    """The file `edgefabric tools import --mcp` writes."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["edgefabric.mcp-toolset"] = FORMAT
    version: Literal[1] = 1
    name: str = Field(pattern=SET_NAME.pattern)
    command: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    server: str = ""
    imported_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    tools: list[ToolSpec]
    rejected: list[RejectedTool] = Field(default_factory=list)


def _server_parameters(command: list[str], env: dict[str, str]) -> Any:
    from mcp import StdioServerParameters

    return StdioServerParameters(command=command[0], args=command[1:], env=env or None)


async def _list_tools(command: list[str], env: dict[str, str]) -> tuple[str, list[Any]]:
    from mcp import ClientSession
    from mcp.client.stdio import stdio_client

    async with stdio_client(_server_parameters(command, env)) as (read, write):
        async with ClientSession(read, write) as session:
            info = await session.initialize()
            from mcp.types import PaginatedRequestParams

            tools: list[Any] = []
            cursor = None
            while True:
                params = PaginatedRequestParams(cursor=cursor) if cursor else None
                page = await session.list_tools(params=params)
                tools.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
            server = f"{info.server_info.name} {info.server_info.version}" if info.server_info else ""
            return server, tools


def import_mcp(command: str, name: str | None = None, timeout_s: float = 60.0) -> McpToolSet:
    """Start the server, list its tools and return them as a tool set (the server is then stopped).

    A tool EdgeFabric cannot use (a name over 64 characters, an input schema that is not an object schema)
    is left out and listed in `rejected` with the rule it broke; the others are kept. Raises
    EdgeFabricError when the server cannot be listed or has no usable tool.
    """
    argv = shlex.split(command)
    if not argv:
        raise EdgeFabricError("the MCP server command is empty", 'pass it quoted, e.g. --mcp "npx -y some-server"')
    set_name = name or Path(argv[-1]).stem.replace("-", "_").replace(".", "_")
    if not SET_NAME.match(set_name):
        set_name = "mcp"
    try:
        server, tools = asyncio.run(asyncio.wait_for(_list_tools(argv, {}), timeout_s))
    except TimeoutError:
        raise EdgeFabricError(
            f"the MCP server `{command}` did not answer within {timeout_s:g} s",
            "check that the command starts an MCP server speaking stdio",
        ) from None
    except Exception as exc:  # the SDK raises many types (OSError, McpError, ExceptionGroup)
        raise EdgeFabricError(
            f"could not list the tools of the MCP server `{command}`: {type(exc).__name__}: {exc}",
            "check the command runs on its own and speaks MCP over stdio",
        ) from None
    specs, rejected = [], []
    for tool in tools:
        try:
            specs.append(ToolSpec(name=tool.name, description=tool.description or "", parameters=tool.input_schema))
        except ValidationError as exc:
            rejected.append(RejectedTool(name=str(tool.name), rule=_broken_rule(tool, exc)))
    if not specs:
        reasons = "; ".join(f"{r.name!r}: {r.rule}" for r in rejected)
        raise EdgeFabricError(
            f"the MCP server `{command}` offers no usable tools" + (f" ({reasons})" if reasons else ""),
            "import a server that has tools EdgeFabric can use",
        )
    return McpToolSet(name=set_name, command=argv, server=server, tools=specs, rejected=rejected)


def save_mcp(toolset: McpToolSet, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".tmp")
    partial.write_text(toolset.model_dump_json(indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def load_mcp(path: Path) -> McpToolSet:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EdgeFabricError(
            f"cannot read MCP tool set {path}: {exc}", "run `edgefabric tools import --mcp ...`"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise EdgeFabricError(
            f'{path} is not an EdgeFabric MCP tool set (no "format": "{FORMAT}")',
            "create one with `edgefabric tools import --mcp COMMAND`",
        )
    try:
        return McpToolSet.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise EdgeFabricError(f"{path}: {where}: {first['msg']}", "re-import the server to rewrite the file") from None


def _result_text(result: Any) -> str:
    """The call's content as JSON text: its text blocks (what the server shows a model), else its
    structured content (servers may wrap plain values there as {"result": ...})."""
    texts = [block.text for block in result.content if getattr(block, "type", "") == "text"]
    if not texts and getattr(result, "structured_content", None) is not None:
        return json.dumps(result.structured_content, ensure_ascii=False)
    if len(texts) == 1:
        try:
            json.loads(texts[0])
            return texts[0]
        except ValueError:
            return json.dumps(texts[0], ensure_ascii=False)
    return json.dumps(texts, ensure_ascii=False)


class McpConnection:
    """A live client session with one server, owned by a task on a private event-loop thread.

    The SDK's transports are anyio task groups that must be entered and left by the same task,
    so one long-lived task holds the session and serves calls from a queue.
    """

    def __init__(self, toolset: McpToolSet, timeout_s: float, log_path: Path) -> None:
        self.toolset = toolset
        self.log_path = log_path  # the server's stderr: its tracebacks belong in a log, not on our console
        self.timeout_s = timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"mcp-{toolset.name}", daemon=True)
        self._thread.start()
        self._queue: asyncio.Queue[tuple[str, dict[str, Any], concurrent.futures.Future[Any]] | None] | None = None
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._task = asyncio.run_coroutine_threadsafe(self._serve(ready), self._loop)
        try:
            ready.result(timeout=max(30.0, timeout_s))
        except Exception as exc:
            self.close()
            raise EdgeFabricError(
                f"could not start the MCP server of tool set {toolset.name!r} (`{shlex.join(toolset.command)}`): "
                f"{type(exc).__name__}: {exc}",
                "check that the command still runs; re-import it with `edgefabric tools import --mcp`",
            ) from None

    async def _serve(self, ready: concurrent.futures.Future[None]) -> None:
        self._queue = asyncio.Queue()
        try:
            with open(self.log_path, "a", encoding="utf-8") as errlog:
                await self._session(errlog, ready)
        except BaseException as exc:  # handed to the caller
            if not ready.done():
                ready.set_exception(exc)

    async def _session(self, errlog: Any, ready: concurrent.futures.Future[None]) -> None:
        from mcp import ClientSession
        from mcp.client.stdio import stdio_client

        assert self._queue is not None
        async with stdio_client(_server_parameters(self.toolset.command, self.toolset.env), errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                ready.set_result(None)
                while (item := await self._queue.get()) is not None:
                    name, arguments, future = item
                    try:
                        future.set_result(await session.call_tool(name, arguments, self.timeout_s))
                    except BaseException as exc:  # handed to the caller
                        future.set_exception(exc)

    def call(self, name: str, arguments: dict[str, Any]) -> Outcome:
        if self._queue is None or self._task.done():
            return Outcome(False, f"the MCP server of tool set {self.toolset.name!r} has stopped", "trap")
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (name, arguments, future))
        try:
            result = future.result(timeout=self.timeout_s + 1)
        except concurrent.futures.TimeoutError:
            return Outcome(False, f"the MCP server did not answer within {self.timeout_s:g} s", "timeout")
        except Exception as exc:
            return Outcome(False, f"the MCP server failed the call: {exc}", "tool_error")
        text = _result_text(result)
        if result.is_error:
            message = json.loads(text) if text.startswith('"') else text
            return Outcome(False, str(message), "tool_error")
        return Outcome(True, text)

    def close(self) -> None:
        if self._queue is not None and not self._task.done():
            self._loop.call_soon_threadsafe(self._queue.put_nowait, None)
            try:
                self._task.result(timeout=10)
            except Exception:  # closing; the server may already be gone
                pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
