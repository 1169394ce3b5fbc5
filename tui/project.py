"""The project folder the TUI works in, laid out as edgefabric.layout says; the CLI and the demo
read and write the same files.

Nothing here is TUI-only state, so quitting and reopening (or switching to the CLI) resumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from edgefabric.config import ProjectConfig, load_config, load_yaml, parse_config, save_config
from edgefabric.errors import ConfigError
from edgefabric.layout import CONFIG_NAME, ProjectLayout
from edgefabric.runtime.formats.registry import units


@dataclass(frozen=True)
class Target:
    """A student model the Project screen offers: its label, chat format and base model."""

    key: str
    label: str
    family: str
    base: str


def targets() -> list[Target]:
    """The student models on offer: each registered chat format's `model_choices`, in registration order
    (runtime/formats/registry.py), so a new format's models appear here with no change to the TUI."""
    return [
        Target(choice.key, choice.label, unit.name, choice.base) for unit in units() for choice in unit.model_choices
    ]


def target_for(config: ProjectConfig) -> Target | None:
    """The offered target that `config`'s model section is (base and family both match), else None."""
    for target in targets():
        if target.base == config.model.base and target.family == config.model.family:
            return target
    return None


@dataclass(frozen=True)
class Project:
    """The project in folder `root`: its layout (edgefabric.layout) plus reading and writing its config."""

    root: Path

    @property
    def layout(self) -> ProjectLayout:
        return ProjectLayout(self.root)

    @property
    def config_path(self) -> Path:
        return self.layout.config

    @property
    def exists(self) -> bool:
        return self.config_path.exists()

    @property
    def data_dir(self) -> Path:
        """Where generation writes (samples.jsonl, splits, rejects, topics.json, card)."""
        return self.layout.data

    def folder(self, name: str) -> Path:
        """data, runs, exports or reports (ValueError for another name)."""
        return self.layout.folder(name)

    def create(self, config: ProjectConfig | None = None) -> ProjectConfig:
        """Write a default config (the embedded, offline setup) and the data folders."""
        config = config or ProjectConfig(name=safe_project_name(self.root.name))
        self.layout.make_folders()
        if not self.exists:
            save_config(config, self.config_path)
        return config

    def load(self) -> ProjectConfig:
        return load_config(self.config_path)

    def save(self, config: ProjectConfig) -> None:
        self.layout.make_folders()
        save_config(config, self.config_path)

    def read_text(self) -> str:
        return self.config_path.read_text(encoding="utf-8") if self.exists else ""

    def save_text(self, text: str) -> ProjectConfig:
        """Validate YAML text, then write it as typed (comments kept) through a temporary file."""
        config = validate_text(text, str(self.config_path))
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.config_path.with_name(CONFIG_NAME + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.config_path)
        self.layout.make_folders()
        return config

    def files(self, folder: str, pattern: str) -> list[Path]:
        base = self.folder(folder)
        return sorted(base.rglob(pattern)) if base.exists() else []


def validate_text(text: str, source: str = CONFIG_NAME) -> ProjectConfig:
    """The config in `text`, or a ConfigError listing each problem (same messages as the CLI)."""
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, [f"{where}not valid YAML ({problem})"]) from None
    return parse_config(data, source)


def safe_project_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "-" for c in name).lstrip("_.-")
    return cleaned or "edgefabric-project"


EMBEDDED_MODELS = ("embedded:smollm2-135m", "embedded:gemma3-270m")


def model_choices(project: Project) -> list[tuple[str, str]]:
    """(label, model) for Chat and Evaluate: the project's exports first, then the embedded models.

    An export that failed its parity check (named `-FAILED` by the exporter) comes last, labelled
    so, and is therefore never the preselected first choice.
    """
    from edgefabric.export.files import FAILED_MARK

    exports: list[tuple[str, str]] = []
    for path in project.files("exports", "*.gguf"):
        exports.append((str(path.relative_to(project.root)), str(path)))
    for path in project.files("exports", "genai_config.json"):
        exports.append((str(path.parent.relative_to(project.root)) + " (ONNX)", str(path.parent)))
    failed = [(label + " (parity FAILED)", model) for label, model in exports if FAILED_MARK in Path(model).name]
    passed = [choice for choice in exports if FAILED_MARK not in Path(choice[1]).name]
    return passed + [(name, name) for name in EMBEDDED_MODELS] + failed


def family_for(project: Project, config: ProjectConfig, model: str) -> str:
    """The chat format of `model`: the project's own exports speak the project's format."""
    if model.startswith(str(project.root)):
        return config.model.family
    from edgefabric.runtime.backends import guess_family

    return guess_family(model)
