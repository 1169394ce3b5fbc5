"""MCP import and execution against a real server the test starts over stdio."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.sandbox import load_toolbox
from edgefabric.runtime.sandbox.mcp_tools import import_mcp, load_mcp, save_mcp

SERVER = Path(__file__).resolve().parent / "mcp_server.py"
LONG_NAME = "summarise_the_quarterly_revenue_report_for_every_region_and_product"
COMMAND = shlex.join([sys.executable, str(SERVER)])


@pytest.fixture(scope="module")
def mcp_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    toolset = import_mcp(COMMAND, name="demo")
    return save_mcp(toolset, tmp_path_factory.mktemp("mcp") / "demo.mcp.json")


def test_import_lists_the_servers_tools(mcp_file: Path) -> None:
    toolset = load_mcp(mcp_file)
    assert toolset.name == "demo" and toolset.server.startswith("edgefabric-test-server")
    assert {spec.name for spec in toolset.tools} == {"add", "shout", "bump", "divide", "crash"}
    # Issue 14, item 8: one tool over the 64-character name limit is left out and reported, not fatal.
    assert [(r.name, r.rule) for r in toolset.rejected] == [
        (LONG_NAME, "its name is 67 characters; tool names are at most 64 (as OpenAI's function names)")
    ]
    add = next(spec for spec in toolset.tools if spec.name == "add")
    assert add.description == "Add two whole numbers."
    assert add.parameters["required"] == ["a", "b"] and add.parameters["properties"]["a"]["type"] == "integer"


def test_calls_run_against_the_real_server(mcp_file: Path) -> None:
    box = load_toolbox([str(mcp_file)])
    with box.session() as session:
        assert json.loads(session.call("add", {"a": 2, "b": 40}).content) == 42
        assert json.loads(session.call("shout", {"text": "hi"}).content) == "HI"
        # One server process per session: its state carries across the session's calls.
        assert [json.loads(session.call("bump", {}).content) for _ in range(3)] == [1, 2, 3]
        failed = session.call("divide", {"a": 1, "b": 0})
        assert failed.error_kind == "tool_error" and "cannot divide by zero" in failed.content
        crashed = session.call("crash", {})
        assert crashed.error_kind == "tool_error" and "crash" in crashed.content
        assert "RuntimeError: boom" in (session.root / "logs" / "mcp-demo.log").read_text()  # not on our stderr
        schema = session.call("add", {"a": "two", "b": 1})
        assert schema.error_kind == "schema"
    with box.session() as fresh:
        assert json.loads(fresh.call("bump", {}).content) == 1


def test_mcp_and_sandboxed_sets_mix(mcp_file: Path, sandbox_cache: Path) -> None:
    box = load_toolbox(["math", str(mcp_file)], cache_dir=sandbox_cache)
    assert box.set_names == ["math", "demo"]
    with box.session() as session:
        assert session.call("calculate", {"expression": "1 + 1"}).ok
        assert session.call("add", {"a": 1, "b": 1}).content == "2"


def test_cli_import_writes_a_tool_set(tmp_path: Path) -> None:
    output = tmp_path / "server.json"
    command = [
        sys.executable,
        "-m",
        "edgefabric.cli",
        "tools",
        "import",
        "--mcp",
        COMMAND,
        "--name",
        "srv",
        "-o",
        str(output),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "OUTSIDE the WebAssembly sandbox" in result.stderr
    assert f"left out: {LONG_NAME}: its name is 67 characters" in result.stderr
    assert json.loads(output.read_text())["format"] == "edgefabric.mcp-toolset"
    called = subprocess.run(
        [sys.executable, "-m", "edgefabric.cli", "tools", "call", str(output), "add", '{"a": 3, "b": 4}'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert called.returncode == 0, called.stderr
    assert called.stdout.strip() == "7"


def test_bad_server_command_is_a_clear_error() -> None:
    with pytest.raises(EdgeFabricError, match="could not list the tools"):
        import_mcp(f"{shlex.quote(sys.executable)} -c 'import sys; sys.exit(3)'", timeout_s=20)


def test_a_file_that_is_not_a_tool_set_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(EdgeFabricError, match="not an EdgeFabric MCP tool set"):
        load_toolbox([str(path)])
