"""Config validation: every bad field becomes one line naming the field, the value and what is allowed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edgefabric.config import ProjectConfig, load_config, save_config
from edgefabric.errors import ConfigError

BAD_CONFIGS = {
    "unknown family": ("model:\n  family: llama\n", ["model.family: got 'llama'; allowed: 'functiongemma' or 'qwen3'"]),
    "typo in a field": ("training:\n  epocs: 3\n", ["training.epocs: unknown field; did you mean 'epochs'?"]),
    "negative rank": (
        "training:\n  lora:\n    r: -4\n",
        ["training.lora.r: got -4; Input should be greater than or equal to 1"],
    ),
    "wrong type": (
        "teacher:\n  concurrency: many\n",
        ["teacher.concurrency: got 'many'; Input should be a valid integer"],
    ),
    "splits": ("generation:\n  splits: {train: 0.9, val: 0.2, test: 0.1}\n", ["must add up to 1.0, not 1.2"]),
    "quant": (
        "export:\n  gguf: [q8_0, q3_xx]\n",
        ["export.gguf: got ['q8_0', 'q3_xx']; unknown GGUF type(s) q3_xx; allowed: f16"],
    ),
    "kinds": ("generation:\n  kinds: {single: 1, chit_chat: 1}\n", ["unknown sample kind(s) chit_chat"]),
    "several at once": (
        "name: 'bad name'\nmodel:\n  family: x\ntraining:\n  learning_rate: 5\n",
        ["name: got 'bad name'", "model.family: got 'x'", "training.learning_rate: got 5"],
    ),
    "not yaml": ("model: [unclosed\n", ["line 2, column 1: not valid YAML"]),
    "not a mapping": ("- a\n- b\n", ["must hold a mapping of sections, not list"]),
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config_lists_each_problem(name: str, tmp_path: Path) -> None:
    text, expected = BAD_CONFIGS[name]
    path = tmp_path / "edgefabric.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    joined = "\n".join(caught.value.problems)
    for fragment in expected:
        assert fragment in joined
    if name != "several at once":
        assert len(caught.value.problems) == 1


def test_defaults_round_trip_through_yaml(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    save_config(ProjectConfig(), path)
    assert load_config(path) == ProjectConfig()
    assert not (tmp_path / "p.yaml.tmp").exists()


def test_empty_file_means_all_defaults(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("")
    assert load_config(path) == ProjectConfig()


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgefabric.cli", *args], cwd=cwd, capture_output=True, text=True)


def test_cli_validate_explains_every_error_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  family: llama\ntraining:\n  epocs: 3\n")
    result = cli("config", "validate", str(path), cwd=tmp_path)
    assert result.returncode == 1
    assert "model.family: got 'llama'" in result.stdout
    assert "training.epocs: unknown field" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_cli_init_then_validate(tmp_path: Path) -> None:
    assert cli("config", "init", "p.yaml", cwd=tmp_path).returncode == 0
    result = cli("config", "validate", "p.yaml", cwd=tmp_path)
    assert result.returncode == 0 and "valid:" in result.stdout
    again = cli("config", "init", "p.yaml", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
