"""The package installs as `edgefabric.*` only, the stages stay Textual-free and light to import,
and both entry points answer --help."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ["textual", "torch", "transformers", "trl", "llama_cpp", "litellm", "onnxruntime_genai", "wasmtime"]


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize(
    "stage",
    ["edgefabric.runtime.formats", "edgefabric.pipeline", "edgefabric.export", "edgefabric.app", "edgefabric.cli"],
)
def test_stages_import_no_heavy_or_ui_module(stage: str) -> None:
    loaded = json.loads(run_python(f"import json, sys, {stage}; print(json.dumps(sorted(sys.modules)))"))
    assert [name for name in HEAVY if name in loaded] == []


def test_only_the_edgefabric_package_is_installed_at_top_level() -> None:
    for generic in ("pipeline", "runtime", "export", "tui", "core", "app", "cli"):
        code = f"import importlib.util as u; print(u.find_spec({generic!r}) is None)"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", check=True)
        assert result.stdout.strip() == "True", f"'{generic}' is importable as a top-level module"


@pytest.mark.parametrize("command", ["edgefabric", "fabric-tui"])
def test_entry_points_answer_help(command: str) -> None:
    executable = shutil.which(command) or str(Path(sys.executable).parent / command)
    result = subprocess.run([executable, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout.lower()


def test_import_contracts_hold() -> None:
    executable = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([executable], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_normal_wheel_holds_only_the_edgefabric_package(tmp_path: Path) -> None:
    import zipfile

    # Build from a copy: an in-place build would write build/lib beside the editable link tree.
    source = tmp_path / "src"
    for folder in ("core", "app", "cli", "tui", "pipeline", "export", "runtime"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("edgefabric-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"edgefabric", next(t for t in tops if t.endswith(".dist-info"))}
    for module in (
        "edgefabric/cli/__init__.py",
        "edgefabric/app/train.py",
        "edgefabric/runtime/formats/functiongemma/__init__.py",
        "edgefabric/runtime/formats/functiongemma/template.jinja",
        "edgefabric/runtime/formats/functiongemma/ollama.tmpl",
        "edgefabric/tui/app.py",
    ):
        assert module in names
    assert "edgefabric/py.typed" in names
