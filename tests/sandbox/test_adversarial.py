"""Hostile tools and hostile arguments: each is stopped with a clear message, the host process is
unharmed, and other sessions (and later calls of the same session) carry on."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from edgefabric.runtime.sandbox import ToolBox, ToolResult, ToolSession, load_toolbox
from edgefabric.runtime.sandbox.engine import Outcome
from tests.sandbox.conftest import HOSTILE, TEST_LIMITS

pytestmark = pytest.mark.reliability


def still_works(session: ToolSession) -> None:
    result = session.call("calculate", {"expression": "6 * 7"})
    assert result.ok and json.loads(result.content)["result"] == 42


def test_infinite_loop_runs_out_of_fuel(session: ToolSession) -> None:
    result = session.call("spin", {})
    assert result.error_kind == "fuel"
    assert "ran out of fuel" in result.content and "500,000,000 instructions" in result.content
    still_works(session)


def test_long_sleep_hits_the_wall_clock_deadline(session: ToolSession) -> None:
    started = time.monotonic()
    result = session.call("nap", {"seconds": 60})
    assert result.error_kind == "timeout" and "timed out after 2 s" in result.content
    assert time.monotonic() - started < TEST_LIMITS.timeout_s + 1.5
    still_works(session)


def test_reloading_time_does_not_bring_back_an_endless_sleep(session: ToolSession) -> None:
    started = time.monotonic()
    result = session.call("nap_raw", {"seconds": 8})
    assert result.error_kind == "timeout"
    assert time.monotonic() - started < TEST_LIMITS.timeout_s + 1.5
    still_works(session)


def test_the_host_abandons_a_call_stuck_outside_wasm(session: ToolSession, monkeypatch: pytest.MonkeyPatch) -> None:
    """If a call ever blocks in a host function (where no deadline is checked), the host stops
    waiting at deadline + grace, and the session goes on with a fresh engine. The stall is
    simulated on the host side: the sandbox offers the guest no such blocking call to use."""
    still_works(session)
    engine = session._engine
    assert engine is not None
    real_call = engine._call
    stalls = [True]

    def stalled(name: str, arguments: str) -> Outcome:
        if stalls and stalls.pop():
            time.sleep(6)
            return Outcome(True, '"too late"')
        return real_call(name, arguments)

    monkeypatch.setattr(engine, "_call", stalled)
    started = time.monotonic()
    result = session.call("calculate", {"expression": "1"})
    assert result.error_kind == "timeout" and "abandoned" in result.content
    assert time.monotonic() - started < TEST_LIMITS.timeout_s + 2.0
    still_works(session)


@pytest.mark.parametrize("tool", ["bomb", "grow"])
def test_memory_bomb_is_stopped(session: ToolSession, tool: str) -> None:
    result = session.call(tool, {})
    assert result.error_kind == "memory" and "128 MiB" in result.content
    still_works(session)


@pytest.mark.parametrize("path", ["/etc/passwd", "/scratch/../../etc/passwd", "../etc/passwd", "/proc/self/environ"])
def test_host_files_are_out_of_reach(session: ToolSession, path: str) -> None:
    result = session.call("read_host", {"path": path})
    assert not result.ok and result.error_kind == "tool_error"
    assert "root:" not in result.content
    assert "No such file" in result.content or "not permitted" in result.content


def test_only_scratch_is_visible(session: ToolSession) -> None:
    assert "No such file" in session.call("list_dir", {"path": "/"}).content
    assert json.loads(session.call("list_dir", {"path": "/scratch"}).content) == [".state"]


def test_builtin_files_tool_refuses_escapes(session: ToolSession) -> None:
    for path in ["../x", "notes/../../x", "/scratch/../x"]:
        result = session.call("write_file", {"path": path, "content": "x"})
        assert result.error_kind == "tool_error" and "leaves the scratch folder" in result.content


def test_writing_a_gigabyte_is_stopped_and_rolled_back(session: ToolSession) -> None:
    assert session.call("write_file", {"path": "keep.txt", "content": "earlier work"}).ok
    result = session.call("fill_disk", {"megabytes": 1024})
    assert result.error_kind == "trap"
    assert "grew past its quota" in result.content and "big.bin" in result.content
    assert not (session.scratch / "big.bin").exists()
    assert session.state()["files"] == {"keep.txt": "earlier work"}
    still_works(session)


def test_too_many_files_are_stopped(toolbox: ToolBox, sandbox_cache: Path) -> None:
    limits = TEST_LIMITS.model_copy(update={"scratch_files": 200, "timeout_s": 20.0})
    box = load_toolbox(["math", str(HOSTILE)], cache_dir=sandbox_cache, limits=limits)
    with box.session() as session:
        result = session.call("many_files", {"count": 50_000})
        assert result.error_kind == "trap" and "the limit is 8 MiB and 200 entries" in result.content
        assert os.listdir(session.scratch) == [".state"]
        still_works(session)


def test_network_is_unreachable(session: ToolSession) -> None:
    # A real listener on the loopback: the guest must not reach it.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        result = session.call("connect", {"host": "127.0.0.1", "port": port})
        assert result.error_kind == "tool_error" and result.content == "Permission denied"
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()
    outside = session.call("connect", {"host": "93.184.216.34", "port": 80})
    assert outside.content == "Permission denied"
    fetched = session.call("fetch", {"url": "http://example.com/"})  # name lookup is off as well
    assert fetched.error_kind == "tool_error" and "URLError" in fetched.content


@pytest.mark.parametrize("host", ["example.com", "localhost", "bücher.example"])
def test_a_name_lookup_is_a_clear_network_error(session: ToolSession, host: str) -> None:
    result = session.call("lookup", {"host": host})
    assert result.error_kind == "tool_error", result.content
    assert "looking up a host name failed" in result.content and "no network access" in result.content
    assert "idna" not in result.content
    fetched = session.call("fetch", {"url": f"http://{host}/"})
    assert fetched.error_kind == "tool_error" and "URLError" in fetched.content
    assert "looking up a host name failed" in fetched.content


@pytest.mark.parametrize("code", [3, 1, 255])
def test_exit_reports_the_status_the_tool_gave(session: ToolSession, code: int) -> None:
    exited = session.call("exit_now", {"code": code})
    assert exited.error_kind == "trap" and f"it exited with status {code} (os._exit)" in exited.content
    assert session.call("echo", {"value": 1}).ok  # the next call runs in a fresh instance


def test_guest_sees_no_host_environment(session: ToolSession, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEFABRIC_SECRET", "hunter2")
    assert json.loads(session.call("environment", {}).content) == {}


def test_exit_and_recursion_come_back_as_errors(session: ToolSession) -> None:
    exited = session.call("exit_now", {"code": 3})
    assert exited.error_kind == "trap" and "crashed inside the sandbox" in exited.content
    recursed = session.call("recurse", {"depth": 1_000_000})
    assert recursed.error_kind == "tool_error" and "RecursionError" in recursed.content
    still_works(session)


def test_huge_arguments_are_rejected_before_running(session: ToolSession) -> None:
    result = session.call("echo", {"value": "x" * (TEST_LIMITS.max_argument_bytes + 1)})
    assert result.error_kind == "schema" and "the sandbox accepts at most" in result.content
    as_text = session.call("echo", json.dumps({"value": "y" * 10_000_000}))
    assert as_text.error_kind == "schema"


def test_huge_results_are_refused(session: ToolSession) -> None:
    result = session.call("huge_result", {"size": 5_000_000})
    assert result.error_kind == "tool_error" and "results are limited to" in result.content


def test_deeply_nested_arguments_are_rejected(session: ToolSession) -> None:
    nested: object = 1
    for _ in range(100_000):
        nested = [nested]
    result = session.call("echo", {"value": nested})
    assert result.error_kind == "schema" and "nested more than 32 levels" in result.content
    text = "[" * 200_000 + "]" * 200_000
    assert session.call("echo", '{"value": ' + text + "}").error_kind == "schema"
    shallow = session.call("echo", {"value": {"a": [1, {"b": 2}]}})
    assert shallow.ok and json.loads(shallow.content) == {"a": [1, {"b": 2}]}


def test_bad_argument_shapes(session: ToolSession) -> None:
    assert session.call("calculate", "not json").error_kind == "schema"
    assert session.call("calculate", "[1, 2]").error_kind == "schema"
    extra = session.call("calculate", {"expression": "1", "mode": "fast"})
    assert extra.error_kind == "schema" and "'mode' was unexpected" in extra.content
    wrong = session.call("calculate", {"expression": 5})
    assert wrong.error_kind == "schema" and "is not of type 'string'" in wrong.content
    unknown = session.call("rm_rf", {})
    assert unknown.error_kind == "unknown_tool" and "calculate" in unknown.content


def test_stdout_goes_to_files_not_the_host(session: ToolSession, capfd: pytest.CaptureFixture[str]) -> None:
    assert session.call("shout", {"lines": 3}).ok
    captured = capfd.readouterr()
    assert "line 0" not in captured.out and "error line" not in captured.err
    assert "line 2" in (session.root / "logs" / "stdout.txt").read_text()


def test_sessions_are_isolated(toolbox: ToolBox) -> None:
    with toolbox.session() as first, toolbox.session() as second:
        assert first.call("write_note", {"text": "mine"}).ok
        assert first.call("set", {"key": "k", "value": 1}).ok
        assert second.call("read_note", {}).error_kind == "tool_error"
        assert second.call("get", {"key": "k"}).error_kind == "tool_error"
        assert first.scratch != second.scratch
        assert first.call("read_note", {}).content == '"mine"'


def test_a_runaway_session_does_not_stall_another(toolbox: ToolBox) -> None:
    """One session spins until its deadline while another keeps answering on another thread."""
    with toolbox.session() as runaway, toolbox.session() as healthy:
        outcome: dict[str, ToolResult] = {}
        thread = threading.Thread(target=lambda: outcome.update(result=runaway.call("nap", {"seconds": 30})))
        thread.start()
        time.sleep(0.2)
        for _ in range(5):
            still_works(healthy)
        thread.join(timeout=10)
        assert outcome["result"].error_kind == "timeout"
        still_works(runaway)


def test_scratch_dirs_are_removed_when_sessions_end(toolbox: ToolBox) -> None:
    with toolbox.session() as session:
        assert session.call("write_note", {"text": "bye"}).ok
        root = Path(session.root)
    assert not root.exists()
