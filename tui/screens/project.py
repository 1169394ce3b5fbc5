"""Project: open or create a project folder, edit its config with validation inline."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select, SelectionList, Static, TextArea

from edgefabric.config import ProjectConfig
from edgefabric.errors import ConfigError
from edgefabric.tui.project import Project, safe_project_name, target_for, targets, validate_text
from edgefabric.tui.screens.base import FabricScreen
from edgefabric.tui.screens.conflict import Choice, ConflictScreen

KNOWN_TOOL_SETS = ("math", "kv")
# How often the screen looks at edgefabric.yaml for changes made outside the app. One stat()
# of one file a second: a file-watching library (watchfiles) would add a dependency and a
# thread for no gain here, and polling behaves the same on every OS and file system.
DISK_CHECK_S = 1.0


def builtin_tool_sets() -> tuple[str, ...]:
    """The sandbox's built-in tool sets (edgefabric.runtime.sandbox), else the config's defaults."""
    try:
        modules = importlib.import_module("edgefabric.runtime.sandbox.modules")
    except ImportError:
        return KNOWN_TOOL_SETS
    names = getattr(modules, "BUILTIN_MODULES", None)
    return tuple(sorted(names)) if isinstance(names, dict) else KNOWN_TOOL_SETS


class ProjectScreen(FabricScreen):
    MODE = "project"
    TITLE_TEXT = "Project"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save config", id="project.save"),
        Binding("ctrl+o", "open", "Open folder", id="project.open"),
        Binding("ctrl+n", "create", "Create project", id="project.create"),
        Binding("ctrl+y", "copy_config", "Copy YAML", id="project.copy", show=False),
        Binding("ctrl+r", "reload", "Reload from disk", id="project.reload", show=False),
        Binding("x", "hide_error", "Hide error", id="hide_error", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="project-columns"):
            with VerticalScroll(id="project-form"):
                yield Label("Project folder")
                yield Input(id="folder", placeholder="/path/to/project")
                with Horizontal(classes="buttons"):
                    yield Button("Open", id="open", compact=True)
                    yield Button("Create", id="create", compact=True, variant="primary")
                yield Label("Target model")
                yield Select(((t.label, t.key) for t in targets()), id="target", allow_blank=True, compact=True)
                yield Label("Teacher model")
                yield Input(id="teacher", placeholder="embedded:smollm2-135m")
                yield Label("Built-in tool sets")
                yield SelectionList[str](*((name, name) for name in builtin_tool_sets()), id="toolsets")
            with Vertical(id="project-config"):
                yield Static(id="project-state")
                # Tab moves focus, as everywhere else; YAML is indented with spaces anyway.
                yield TextArea.code_editor("", language="yaml", id="yaml", soft_wrap=False, tab_behavior="focus")
                yield Static(id="problems")

    def __init__(self) -> None:
        super().__init__()
        self.disk_text: str | None = None  # edgefabric.yaml as last loaded or saved (None: no file)
        self.disk_stamp: tuple[int, int] | None = None  # its (mtime_ns, size) then
        self.shown_text = ""  # what the editor was loaded with: anything else is an unsaved edit

    def on_mount(self) -> None:
        self.load_project()
        self.set_interval(DISK_CHECK_S, self.check_disk)

    def on_screen_resume(self) -> None:
        self.check_disk()

    def load_project(self) -> None:
        """Show the app's current project: its folder, its config text and form values."""
        project = self.project
        self.query_one("#folder", Input).value = str(project.root)
        editor = self.query_one("#yaml", TextArea)
        self.disk_stamp = self._stamp()
        self.disk_text = project.read_text() if project.exists else None
        if self.disk_text is not None:
            self.shown_text = self.disk_text
        else:
            self.shown_text = ProjectConfig(name=_name_for(project.root)).to_yaml()
        editor.load_text(self.shown_text)
        self.show_state()
        self.validate()

    def show_state(self, changed_on_disk: bool = False) -> None:
        project = self.project
        state = self.query_one("#project-state", Static)
        if changed_on_disk:
            state.update(
                f"[b yellow]{escape(project.config_path.name)} changed on disk[/] since you began editing: "
                "ctrl+s asks before overwriting, ctrl+r reloads it"
            )
        elif project.exists:
            state.update(f"[b]{escape(str(project.config_path))}[/]  (ctrl+s saves)")
        else:
            state.update(f"[b yellow]No project in {escape(str(project.root))}[/]: press ctrl+n to create one here")

    # Changes made outside the app ------------------------------------------------

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.project.config_path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    @property
    def edited(self) -> bool:
        """The editor holds text that is not what was loaded (typed, or set through the form)."""
        return self.query_one("#yaml", TextArea).text != self.shown_text

    def check_disk(self) -> None:
        """Reload edgefabric.yaml if it changed on disk; with unsaved edits, say so and keep them."""
        stamp = self._stamp()
        if stamp == self.disk_stamp:
            return
        self.disk_stamp = stamp
        try:
            text = self.project.read_text() if self.project.exists else None
        except OSError:
            return  # mid-replace by another writer: the next check sees the new file
        if text == self.disk_text:
            return  # touched, not changed
        if not self.edited:
            self.load_project()
            self.notify(f"{self.project.config_path.name} changed on disk: reloaded")
            return
        self.show_state(changed_on_disk=True)

    def action_reload(self) -> None:
        self.load_project()
        self.notify(f"Reloaded {self.project.config_path}")

    # Validation -------------------------------------------------------------

    def validate(self) -> ProjectConfig | None:
        text = self.query_one("#yaml", TextArea).text
        problems = self.query_one("#problems", Static)
        try:
            config = validate_text(text)
        except ConfigError as exc:
            listed = "\n".join(f"• {escape(line)}" for line in exc.problems)
            problems.update(f"[b red]{len(exc.problems)} problem(s):[/]\n{listed}")
            problems.set_class(True, "-invalid")
            return None
        problems.update("[green]✓ valid config[/]")
        problems.set_class(False, "-invalid")
        self.fill_form(config)
        return config

    def fill_form(self, config: ProjectConfig) -> None:
        with self.prevent(Select.Changed, Input.Changed, SelectionList.SelectedChanged):
            target = target_for(config)
            select = self.query_one("#target", Select)
            if target is None:
                select.clear()
            elif select.value != target.key:
                select.value = target.key
            teacher = self.query_one("#teacher", Input)
            if teacher.value != config.teacher.model:
                teacher.value = config.teacher.model
            tools = self.query_one("#toolsets", SelectionList)
            if set(tools.selected) != set(config.tools.builtin):
                tools.deselect_all()
                for name in config.tools.builtin:
                    if name in builtin_tool_sets():
                        tools.select(name)

    @on(TextArea.Changed, "#yaml")
    def _yaml_changed(self) -> None:
        self.validate()

    # The form edits the YAML: one source of truth, the text the user sees --------

    def edit_config(self, change: str, value: object) -> None:
        editor = self.query_one("#yaml", TextArea)
        try:
            config = validate_text(editor.text)
        except ConfigError:
            self.notify("Fix the config's problems first; the form edits a valid config", severity="warning")
            return
        data = config.model_dump(mode="json")
        section, _, field = change.partition(".")
        data[section][field] = value
        try:
            updated = ProjectConfig.model_validate(data)
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        editor.load_text(updated.to_yaml())
        self.validate()

    @on(Select.Changed, "#target")
    def _target_changed(self, event: Select.Changed) -> None:
        target = next((t for t in targets() if t.key == event.value), None)
        if target is None:
            return
        editor = self.query_one("#yaml", TextArea)
        try:
            config = validate_text(editor.text)
        except ConfigError:
            self.notify("Fix the config's problems first; the form edits a valid config", severity="warning")
            return
        config.model.family = target.family
        config.model.base = target.base
        editor.load_text(config.to_yaml())
        self.validate()

    @on(Input.Submitted, "#teacher")
    @on(Input.Blurred, "#teacher")
    def _teacher_changed(self) -> None:
        value = self.query_one("#teacher", Input).value.strip()
        if value and value != self._current_teacher():
            self.edit_config("teacher.model", value)

    def _current_teacher(self) -> str | None:
        try:
            return validate_text(self.query_one("#yaml", TextArea).text).teacher.model
        except ConfigError:
            return None

    @on(SelectionList.SelectedChanged, "#toolsets")
    def _tools_changed(self) -> None:
        selected = list(self.query_one("#toolsets", SelectionList).selected)
        self.edit_config("tools.builtin", selected)

    # Actions ------------------------------------------------------------------

    @on(Input.Submitted, "#folder")
    @on(Button.Pressed, "#open")
    def action_open(self) -> None:
        folder = Path(self.query_one("#folder", Input).value.strip() or ".").expanduser().resolve()
        if folder.exists() and not folder.is_dir():
            self.show_error(
                "Project", f"{folder} is a file, not a folder", "type the folder that holds edgefabric.yaml"
            )
            return
        self.fabric.open_project(folder)
        self.load_project()

    @on(Button.Pressed, "#create")
    def action_create(self) -> None:
        folder = Path(self.query_one("#folder", Input).value.strip() or ".").expanduser().resolve()
        project = Project(folder)
        if project.exists:
            self.fabric.open_project(folder)
            self.load_project()
            self.notify(f"{project.config_path} already exists; opened it")
            return
        try:
            project.create()
        except OSError as exc:
            self.show_error("Project", f"cannot create {folder}: {exc.strerror}", "choose a folder you can write to")
            return
        self.fabric.open_project(folder)
        self.load_project()
        self.notify(f"Created {project.config_path}")

    def action_save(self) -> None:
        """Save the editor's text; if the file changed on disk since it was loaded, ask first."""
        try:
            on_disk = self.project.read_text() if self.project.exists else None
        except OSError as exc:
            self.show_error("Project", f"cannot read {self.project.config_path}: {exc.strerror}", "check permissions")
            return
        if on_disk != self.disk_text:
            self.app.push_screen(ConflictScreen(self.project.config_path), self._resolve_conflict)
            return
        self.write_config()

    def _resolve_conflict(self, choice: Choice | None) -> None:
        if choice == "overwrite":
            self.write_config()
        elif choice == "reload":
            self.action_reload()
        else:
            self.show_state(changed_on_disk=True)
            self.notify("Not saved: the file on disk is unchanged", severity="warning")

    def write_config(self) -> None:
        text = self.query_one("#yaml", TextArea).text
        try:
            self.project.save_text(text)
        except ConfigError as exc:
            self.validate()
            self.notify(f"Not saved: {len(exc.problems)} problem(s) in the config", severity="error")
            return
        except OSError as exc:
            self.show_error("Project", f"cannot write {self.project.config_path}: {exc.strerror}", "check permissions")
            return
        self.load_project()
        self.notify(f"Saved {self.project.config_path}")

    def action_copy_config(self) -> None:
        self.copy(self.query_one("#yaml", TextArea).text, "the config YAML")


def _name_for(folder: Path) -> str:
    return safe_project_name(folder.name)
