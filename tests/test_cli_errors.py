"""The CLI answers a careless user with `error: ...` naming the problem and the fix, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.reliability


def _cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "edgefabric.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )


def _no_traceback(done: subprocess.CompletedProcess[str]) -> str:
    out = done.stdout + done.stderr
    assert "Traceback" not in out, out[-2000:]
    assert done.returncode in (1, 2), out[-2000:]
    return " ".join(out.split())


@pytest.mark.parametrize(
    "args",
    [
        ("config", "validate", "{dir}"),
        ("data", "check", "{dir}"),
        ("topics", "show", "{dir}"),
        ("eval", "run", "embedded:smollm2-135m", "--samples", "{dir}"),
    ],
)
def test_a_folder_where_a_file_is_expected(tmp_path: Path, args: tuple[str, ...]) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    text = _no_traceback(_cli(*(a.format(dir=folder) for a in args), cwd=tmp_path))
    assert "folder" in text and str(folder) in text


def test_config_init_on_a_folder_leaves_nothing_behind(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    text = _no_traceback(_cli("config", "init", folder, "--force", cwd=tmp_path))
    assert "is a folder" in text and "edgefabric.yaml" in text
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert list(folder.iterdir()) == []


def test_a_config_that_is_not_utf8(tmp_path: Path) -> None:
    config = tmp_path / "edgefabric.yaml"
    config.write_bytes(b"teacher:\n  model: caf\xe9\n")
    text = _no_traceback(_cli("config", "validate", config, cwd=tmp_path))
    assert "line 2" in text and "not UTF-8" in text


def test_a_binary_dataset(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_bytes(bytes(range(256)) * 8 + b"\n" + b"\x00\xff" * 100 + b"\n")
    text = _no_traceback(_cli("data", "check", data, cwd=tmp_path))
    assert "not UTF-8" in text and f"{data}:1" in text


def test_a_binary_topics_file(tmp_path: Path) -> None:
    topics = tmp_path / "topics.json"
    topics.write_bytes(b"\xff\xfe\x00\x01")
    text = _no_traceback(_cli("topics", "show", topics, cwd=tmp_path))
    assert "not UTF-8" in text


BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
teacher: {model: *h}
"""


def test_a_yaml_alias_bomb_is_refused_at_once_with_a_short_error(tmp_path: Path) -> None:
    import time

    config = tmp_path / "edgefabric.yaml"
    config.write_text(BOMB)
    started = time.monotonic()
    done = _cli("config", "validate", config, cwd=tmp_path)
    text = _no_traceback(done)
    assert time.monotonic() - started < 30
    assert "aliases" in text and "not allowed" in text and "line 2" in text
    assert len(done.stdout + done.stderr) < 2000


def test_errors_do_not_echo_huge_values(tmp_path: Path) -> None:
    config = tmp_path / "edgefabric.yaml"
    config.write_text("teacher:\n  temperature: [" + ", ".join(["1"] * 50_000) + "]\n")
    done = _cli("config", "validate", config, cwd=tmp_path)
    text = _no_traceback(done)
    assert "teacher.temperature" in text and "characters)" in text
    assert len(done.stdout + done.stderr) < 2000


def test_config_validate_resolves_tool_sets_and_module_paths(tmp_path: Path) -> None:
    (tmp_path / "mytools.py").write_text("def ping() -> str:\n    '''Pong.'''\n    return 'pong'\n")
    (tmp_path / "folder.py").mkdir()
    config = tmp_path / "edgefabric.yaml"
    config.write_text("tools:\n  builtin: [math, nosuchset]\n  modules: [mytools.py, missing.py, folder.py]\n")
    done = _cli("config", "validate", config, cwd=tmp_path)
    text = _no_traceback(done)
    assert "tools.builtin.1: got 'nosuchset'; not a built-in tool set" in text
    assert "tools.modules.1: missing.py does not exist" in text
    assert "tools.modules.2: folder.py is a folder" in text
    assert "tools.builtin.0" not in text and "tools.modules.0" not in text
    config.write_text("tools:\n  builtin: [math]\n  modules: [mytools.py]\n")
    ok = _cli("config", "validate", config, cwd=tmp_path)
    assert ok.returncode == 0 and "valid:" in ok.stdout, ok.stdout + ok.stderr
