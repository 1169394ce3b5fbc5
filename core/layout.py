"""The one project layout: where a project's config, data, runs, exports and reports live.

    edgefabric.yaml   the config (ProjectConfig)
    data/             generated datasets (samples.jsonl, train/val/test.jsonl, rejects, card)
    runs/NAME/        training runs (checkpoints, adapter, merged model, events.jsonl)
    exports/NAME/     GGUF and ONNX bundles
    reports/          evaluation reports, improve rounds

The TUI, the demo journey and the CLI (for a config file named edgefabric.yaml) all
use it, so a project made by one is read by the others. Before, the CLI defaulted to
`datasets/NAME` and `runs/NAME` beside the current folder, the TUI used this layout,
and the journey repeated both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CONFIG_NAME = "edgefabric.yaml"
FOLDERS = ("data", "runs", "exports", "reports")


@dataclass(frozen=True)
class ProjectLayout:
    """The paths of the project in folder `root` (nothing is created until `make_folders`)."""

    root: Path

    @classmethod
    def of_config(cls, config_path: Path) -> ProjectLayout | None:
        """The project whose config file is `config_path`, or None for a config file of another name
        (a config kept elsewhere is not a project folder, and the CLI then keeps its own defaults)."""
        return cls(config_path.parent) if config_path.name == CONFIG_NAME else None

    @property
    def config(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def data(self) -> Path:
        """Where generation writes and training reads (samples.jsonl, the splits, card.md)."""
        return self.root / "data"

    @property
    def test_cases(self) -> Path:
        """The held-out split every evaluation of the project runs on."""
        return self.data / "test.jsonl"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def run(self, name: str) -> Path:
        """The training run folder of the project named `name` (ProjectConfig.name)."""
        return self.runs / name

    def bundle(self, name: str) -> Path:
        """The export bundle folder for `name` (a run's or a model's name)."""
        return self.exports / name

    def folder(self, name: str) -> Path:
        """One of FOLDERS by name; ValueError naming the known ones for any other."""
        if name not in FOLDERS:
            raise ValueError(f"a project has no folder {name!r}; its folders are {', '.join(FOLDERS)}")
        return self.root / name

    def make_folders(self) -> None:
        """Create the root and every folder of FOLDERS (existing ones are kept as they are)."""
        for name in FOLDERS:
            (self.root / name).mkdir(parents=True, exist_ok=True)
