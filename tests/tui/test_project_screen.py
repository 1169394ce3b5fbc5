"""The Project screen and the shell, driven by key presses as a user would."""

from __future__ import annotations

from pathlib import Path

import yaml
from textual.widgets import Select, SelectionList, Static, TextArea

from edgefabric.config import load_config
from edgefabric.tui.app import FabricApp
from edgefabric.tui.screens.conflict import ConflictScreen
from edgefabric.tui.screens.help import HelpScreen
from edgefabric.tui.screens.project import ProjectScreen
from edgefabric.tui.settings import load_settings
from edgefabric.tui.widgets import ErrorPanel
from tests.tui.conftest import make_app, wait_until


def text_of(app: FabricApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_ctrl_n_creates_a_project_the_cli_can_read(project_dir: Path) -> None:
    app = make_app(project_dir, create=False)
    async with app.run_test(size=(100, 32)) as pilot:
        assert "No project" in text_of(app, "#project-state")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert "edgefabric.yaml" in text_of(app, "#project-state")
    config = load_config(project_dir / "edgefabric.yaml")
    assert config.name == "demo-project"
    assert config.model.base == "embedded:gemma3-270m"
    for folder in ("data", "runs", "exports", "reports"):
        assert (project_dir / folder).is_dir()


async def test_invalid_yaml_shows_each_problem_inline_and_is_not_saved(project_dir: Path) -> None:
    app = make_app(project_dir)
    before = (project_dir / "edgefabric.yaml").read_text()
    async with app.run_test(size=(100, 32)) as pilot:
        editor = app.screen.query_one("#yaml", TextArea)
        editor.load_text(
            before.replace("temperature: 0.7", "temperature: 9").replace("family: functiongemma", "family: llama")
        )
        await pilot.pause()
        problems = text_of(app, "#problems")
        assert "teacher.temperature: got 9" in problems
        assert "model.family" in problems and "functiongemma" in problems
        await pilot.press("ctrl+s")
        await pilot.pause()
        editor.load_text("model: [unclosed")
        await pilot.pause()
        assert "not valid YAML" in text_of(app, "#problems")
    assert (project_dir / "edgefabric.yaml").read_text() == before


async def test_choosing_a_target_edits_the_yaml_and_ctrl_s_saves_it(project_dir: Path) -> None:
    app = make_app(project_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        app.screen.query_one("#target", Select).value = "qwen3"
        await pilot.pause()
        text = app.screen.query_one("#yaml", TextArea).text
        assert yaml.safe_load(text)["model"] == {"family": "qwen3", "base": "Qwen/Qwen3-4B"}
        tools = app.screen.query_one("#toolsets", SelectionList)
        tools.deselect("kv")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
    config = load_config(project_dir / "edgefabric.yaml")
    assert config.model.family == "qwen3" and config.model.base == "Qwen/Qwen3-4B"
    assert config.tools.builtin == ["math"]


async def test_reopening_shows_what_was_saved(project_dir: Path) -> None:
    app = make_app(project_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        editor = app.screen.query_one("#yaml", TextArea)
        editor.load_text(editor.text.replace("num_samples: 50", "num_samples: 7"))
        await pilot.press("ctrl+s")
        await pilot.pause()
    again = make_app(project_dir, create=False)
    async with again.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        assert "num_samples: 7" in again.screen.query_one("#yaml", TextArea).text


async def test_open_a_folder_that_is_a_file_shows_the_error_panel(project_dir: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    app = make_app(project_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.click("#folder")
        app.screen.query_one("#folder").value = str(a_file)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        panel = app.screen.query_one(ErrorPanel)
        assert panel.shown
        await pilot.press("escape", "x")
        await pilot.pause()
        assert not panel.shown
        assert app.project.root == project_dir.resolve() or app.project.root == project_dir


async def test_digit_keys_walk_every_screen_and_back(project_dir: Path) -> None:
    app = make_app(project_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        seen = []
        for key in "234561":
            # Chat focuses its prompt so typing starts at once; escape hands the keys back.
            await pilot.press("escape", key)
            await pilot.pause()
            seen.append(type(app.screen).__name__)
    assert seen == ["GenerateScreen", "TrainScreen", "ExportScreen", "ChatScreen", "EvaluateScreen", "ProjectScreen"]


async def test_help_lists_every_binding_with_its_id(project_dir: Path) -> None:
    app = make_app(project_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        ids = {row[2] for _, rows in app.screen.groups for row in rows}
        assert {"screen.train", "project.save", "generate.pause", "train.start", "chat.copy", "evaluate.improve"} <= ids
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ProjectScreen)


async def test_theme_toggle_is_saved_for_next_time(project_dir: Path) -> None:
    app = make_app(project_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme == "textual-light"
    assert load_settings().theme == "textual-light"
    again = FabricApp(project_dir)
    async with again.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        assert again.theme == "textual-light"


async def test_palette_offers_every_screen_and_the_screen_actions(project_dir: Path) -> None:
    app = make_app(project_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert [t for t in titles if t.startswith("Go to")] == [
            "Go to Project",
            "Go to Generate",
            "Go to Train",
            "Go to Export",
            "Go to Chat",
            "Go to Evaluate",
        ]
        assert "Save config (Project)" in titles and "Help" in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"go to train")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert type(app.screen).__name__ == "TrainScreen"


async def test_copy_config_uses_the_clipboard(project_dir: Path) -> None:
    app = make_app(project_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert "embedded:gemma3-270m" in app.clipboard


async def test_the_config_reloads_when_the_cli_changes_it(project_dir: Path) -> None:
    app = make_app(project_dir)
    path = project_dir / "edgefabric.yaml"
    async with app.run_test(size=(100, 32)) as pilot:
        editor = app.screen.query_one("#yaml", TextArea)
        assert "num_samples: 50" in editor.text
        path.write_text(path.read_text().replace("num_samples: 50", "num_samples: 9"))
        await wait_until(pilot, lambda: "num_samples: 9" in editor.text, timeout=30, what="the reload")
        assert "(ctrl+s saves)" in text_of(app, "#project-state")


async def test_ctrl_s_asks_before_overwriting_a_config_changed_meanwhile(project_dir: Path) -> None:
    app = make_app(project_dir)
    path = project_dir / "edgefabric.yaml"
    async with app.run_test(size=(100, 32)) as pilot:
        editor = app.screen.query_one("#yaml", TextArea)
        editor.load_text(editor.text.replace("num_samples: 50", "num_samples: 7"))  # an unsaved edit
        await pilot.pause()
        cli_text = path.read_text().replace("depth: 2", "depth: 3")
        path.write_text(cli_text)  # meanwhile, the CLI (or another editor) writes the file
        await wait_until(
            pilot, lambda: "changed on disk" in text_of(app, "#project-state"), timeout=30, what="the warning"
        )
        assert "num_samples: 7" in editor.text  # the edit is kept, not reloaded over
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ConflictScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ProjectScreen)
        assert path.read_text() == cli_text
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("o")
        await pilot.pause()
    saved = load_config(path)
    assert saved.generation.num_samples == 7 and saved.topics.depth == 2  # overwritten, as chosen


async def test_the_conflict_can_reload_and_drop_the_edits(project_dir: Path) -> None:
    app = make_app(project_dir)
    path = project_dir / "edgefabric.yaml"
    async with app.run_test(size=(100, 32)) as pilot:
        editor = app.screen.query_one("#yaml", TextArea)
        editor.load_text(editor.text.replace("num_samples: 50", "num_samples: 7"))
        path.write_text(path.read_text().replace("depth: 2", "depth: 3"))
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert "depth: 3" in editor.text and "num_samples: 50" in editor.text
    assert load_config(path).generation.num_samples == 50
