"""`edgefabric tools list|call` from a fresh process (the component comes from the test cache)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def edgefabric(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDGEFABRIC_HOME": str(home)}
    command = [sys.executable, "-m", "edgefabric.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


def test_tools_list_shows_every_builtin_set(tmp_path: Path) -> None:
    result = edgefabric(tmp_path, "tools", "list")
    assert result.returncode == 0, result.stderr
    for name in ("calculate", "read_file", "list_keys", "create_object", "search_contacts"):
        assert name in result.stdout
    assert not list(tmp_path.rglob("*.wasm"))  # listing reads signatures; it builds nothing


def test_tools_call_runs_in_the_sandbox(sandbox_home: Path) -> None:
    result = edgefabric(sandbox_home, "tools", "call", "math", "calculate", '{"expression": "2 + 3"}')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"expression": "2 + 3", "result": 5}


def test_tools_call_reports_errors_without_a_traceback(sandbox_home: Path) -> None:
    failed = edgefabric(sandbox_home, "tools", "call", "math", "calculate", '{"expression": "1/0"}')
    assert failed.returncode == 1 and "tool_error" in failed.stderr and "division by zero" in failed.stderr
    bad = edgefabric(sandbox_home, "tools", "call", "math", "calculate", '{"expression": ')
    assert bad.returncode == 1 and "schema" in bad.stderr and "Traceback" not in bad.stderr
    unknown = edgefabric(sandbox_home, "tools", "call", "maths", "calculate", "{}")
    assert unknown.returncode == 2 and "unknown tool set 'maths'" in unknown.stderr and "fix:" in unknown.stderr


def test_tools_call_with_a_scenario(sandbox_home: Path) -> None:
    result = edgefabric(sandbox_home, "tools", "call", "kv", "get", '{"key": "units"}', "--scenario", "kv-preferences")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["value"] == "metric"


def test_tools_list_reads_a_project_config(tmp_path: Path) -> None:
    module = tmp_path / "greet.py"
    module.write_text('def greet(name: str) -> str:\n    """Say hello."""\n    return "hi " + name\n')
    config = tmp_path / "project.yaml"
    assert edgefabric(tmp_path, "config", "init", str(config)).returncode == 0
    text = config.read_text()
    config.write_text(text.replace("modules: []", f"modules:\n  - {module}"))
    result = edgefabric(tmp_path, "tools", "list", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "greet" in result.stdout and "Say hello." in result.stdout and "calculate" in result.stdout
