"""Real tool execution: tool sets compiled to one WebAssembly component, run with wasmtime.

    from edgefabric.runtime.sandbox import load_toolbox
    box = load_toolbox(["math", "kv"])
    with box.session() as session:
        result = session.call("calculate", {"expression": "2 + 3"})

wasmtime and mcp are imported only when a box is loaded or a session calls a tool.
"""

from edgefabric.runtime.sandbox.limits import SandboxLimits
from edgefabric.runtime.sandbox.toolbox import ToolBox, ToolResult, ToolSession, load_toolbox

__all__ = ["SandboxLimits", "ToolBox", "ToolResult", "ToolSession", "load_toolbox"]
