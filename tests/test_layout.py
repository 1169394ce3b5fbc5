"""One project layout for the TUI, the demo and the CLI (issue 15): the CLI's generate and train read
and write a project's data/ and runs/NAME when given its edgefabric.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgefabric.cli import app
from edgefabric.config import ProjectConfig, save_config
from edgefabric.errors import EdgeFabricError
from edgefabric.layout import CONFIG_NAME, FOLDERS, ProjectLayout
from edgefabric.tui.project import Project


def test_a_project_is_the_folder_of_an_edgefabric_yaml(tmp_path: Path) -> None:
    layout = ProjectLayout.of_config(tmp_path / CONFIG_NAME)
    assert layout == ProjectLayout(tmp_path)
    assert ProjectLayout.of_config(tmp_path / "other.yaml") is None
    assert layout.test_cases == tmp_path / "data" / "test.jsonl"
    assert layout.run("demo") == tmp_path / "runs" / "demo" and layout.bundle("demo") == tmp_path / "exports" / "demo"
    with pytest.raises(ValueError, match="its folders are data, runs, exports, reports"):
        layout.folder("datasets")
    layout.make_folders()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FOLDERS)
    assert Project(tmp_path).layout == layout  # the TUI's project is this layout


def test_cli_train_reads_the_projects_data_folder_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "project"
    root.mkdir()
    save_config(ProjectConfig(name="p"), root / CONFIG_NAME)
    monkeypatch.chdir(tmp_path)  # elsewhere: the defaults follow the config file, not the current folder
    result = CliRunner().invoke(app, ["train", str(root / CONFIG_NAME)])
    assert isinstance(result.exception, EdgeFabricError), result.output
    assert str(root / "data" / "train.jsonl") in result.exception.problem
    assert not (tmp_path / "datasets").exists()


def test_cli_train_keeps_its_own_defaults_for_a_config_of_another_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_config(ProjectConfig(name="p"), tmp_path / "experiment.yaml")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["train", str(tmp_path / "experiment.yaml")])
    assert isinstance(result.exception, EdgeFabricError), result.output
    assert str(Path("datasets") / "p" / "train.jsonl") in result.exception.problem
