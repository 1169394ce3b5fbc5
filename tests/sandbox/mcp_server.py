"""A small MCP server the tests start over stdio (the real SDK, the real protocol)."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("edgefabric-test-server")
COUNTER = {"value": 0}


@server.tool()
def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


@server.tool()
def shout(text: str) -> str:
    """Return the text in upper case."""
    return text.upper()


@server.tool()
def bump() -> int:
    """Increase the server's counter by one and return it (state lives in the server process)."""
    COUNTER["value"] += 1
    return COUNTER["value"]


@server.tool()
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    if b == 0:
        raise ToolError("cannot divide by zero")
    return a / b


LONG_NAME = "summarise_the_quarterly_revenue_report_for_every_region_and_product"  # 67 characters


@server.tool(name=LONG_NAME)
def long_named() -> str:
    """A tool whose name breaks the 64-character limit (issue 14, item 8)."""
    return "never imported"


@server.tool()
def crash() -> int:
    """Fail with an unexpected exception."""
    raise RuntimeError("boom")


if __name__ == "__main__":
    server.run("stdio")
