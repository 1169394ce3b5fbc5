"""Runs sandbox calls off the event loop, on one dedicated thread.

The sandbox API is synchronous, and a WebAssembly store must not be entered from
two threads at once, so every session is opened, called and closed on the same
single worker thread. A call takes milliseconds; the teacher takes seconds, so
one thread is never the bottleneck.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class AsyncToolSession:
    def __init__(self, runner: ToolRunner, session: Any) -> None:
        self._runner = runner
        self._session = session

    async def call(self, name: str, arguments: dict[str, Any]) -> Any:
        """A `ToolResult`; the sandbox reports every failure as ok=False rather than raising."""
        return await self._runner.run(self._session.call, name, arguments)

    async def state(self) -> dict[str, Any]:
        return dict(await self._runner.run(self._session.state))


class ToolRunner:
    def __init__(self, box: Any) -> None:
        self.box = box
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgefabric-sandbox")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args))

    @contextlib.asynccontextmanager
    async def session(self, scenario: dict[str, Any] | None) -> AsyncIterator[AsyncToolSession]:
        manager = await self.run(functools.partial(self.box.session, scenario=scenario))
        session = await self.run(manager.__enter__)
        try:
            yield AsyncToolSession(self, session)
        finally:
            await self.run(manager.__exit__, None, None, None)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
