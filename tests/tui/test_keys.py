"""Keys and focus: typing never fires a screen's single-letter keys, the stop key works from any focus,
Tab leaves the YAML editor, and Chat echoes every message at once (issue 15, problems 1, 2, 4 and 7).

The Chat tests run real turns of the embedded SmolLM2-135M through llama.cpp and the sandbox.
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, RichLog, Static, TextArea

from edgefabric.config import ProjectConfig
from edgefabric.tui.app import FabricApp
from edgefabric.tui.project import Project
from edgefabric.tui.screens.chat import ChatScreen
from edgefabric.tui.screens.help import HelpScreen
from edgefabric.tui.screens.project import ProjectScreen
from edgefabric.tui.settings import TuiSettings
from tests.tui.conftest import make_app, settle, wait_until

QUESTION = "what is 12 times 7?"  # 1 and 2 switch screens, s starts a stage, ? opens help


def chat_project(folder: Path) -> FabricApp:
    """A project whose chat is quick: one tool set, one agent step, the phone's 256-token cap."""
    config = ProjectConfig(name="keys")
    config.tools.builtin = ["math"]
    config.eval.device_profile = "phone"
    config.eval.max_steps = 1
    Project(folder).create(config)
    return FabricApp(folder, settings=TuiSettings())


def transcript(app: FabricApp) -> str:
    return "\n".join(strip.text for strip in app.screen.query_one("#transcript", RichLog).lines)


def flat(text: str) -> str:
    return "".join(text.split())


def status(app: FabricApp) -> str:
    return str(app.screen.query_one("#status", Static).render())


async def test_typing_in_the_chat_transcript_goes_to_the_message_box(project_dir: Path) -> None:
    app = make_app(project_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        screen.query_one("#transcript").focus()  # where the focus landed after choosing a model
        await pilot.pause()
        await pilot.press(*QUESTION)
        await pilot.pause()
        assert app.screen is screen, f"a key switched to {type(app.screen).__name__}"
        assert not screen.running and not app.jobs.running()
        prompt = screen.query_one("#prompt", Input)
        assert prompt.value == QUESTION and app.focused is prompt
        # Nothing started anywhere: the Generate screen's s never fired.
        assert not (project_dir / "data" / "run-config.yaml").exists()


async def test_choosing_a_chat_model_puts_the_keyboard_in_the_message_box(project_dir: Path) -> None:
    app = make_app(project_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        await pilot.click("#chat-model")
        await pilot.pause()
        await pilot.press("down", "enter")  # the overlay: the second model
        await pilot.pause()
        assert app.focused is app.screen.query_one("#prompt", Input)
        await pilot.press(*QUESTION)
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen) and not isinstance(app.screen, HelpScreen)


async def test_tab_leaves_the_yaml_editor_and_letters_stay_text(project_dir: Path) -> None:
    app = make_app(project_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        editor = app.screen.query_one("#yaml", TextArea)
        before = editor.text
        editor.focus()
        editor.move_cursor((0, 0))
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is not editor, "tab stayed in the YAML editor"
        assert editor.text == before, "tab changed the config text"
        editor.focus()
        await pilot.press("#", " ", "2", "s", "?", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ProjectScreen)
        assert editor.text.startswith("# 2s?\n")


async def test_the_stop_key_stops_a_reply_from_the_message_box(project_dir: Path, shared_home: Path) -> None:
    app = chat_project(project_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        assert app.focused is screen.query_one("#prompt", Input)
        await pilot.press(*"hello", "enter")
        assert screen.running
        assert "ctrl+x stops" in status(app)  # the key that really stops it
        assert f"you {'hello'}" in transcript(app)
        await pilot.press("ctrl+x")  # the focus is still in the message box
        await settle(app, pilot, timeout=300)
        assert "Chat cancelled" in status(app), status(app)
        assert app.focused is screen.query_one("#prompt", Input)


async def test_a_message_sent_while_a_reply_runs_is_echoed_at_once_and_sent_after_the_stop(
    project_dir: Path, shared_home: Path
) -> None:
    app = chat_project(project_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await pilot.press(*"hello", "enter")
        assert screen.sink is not None
        screen.sink.pause()  # the bridge's own pause: the turn waits at its next unit, so it is still running
        await pilot.press(*QUESTION, "enter")
        text = transcript(app)
        assert f"you {QUESTION}" in text, "the message was not echoed at once"
        assert "queued: sent when the current reply ends (ctrl+x stops it)" in text
        assert screen.running and screen.queued == [QUESTION]
        await pilot.press("ctrl+x")  # from the message box; the stop wakes the paused turn
        await wait_until(pilot, lambda: "stop:" in transcript(app), timeout=300, what="the queued turn's reply")
        await settle(app, pilot, timeout=300)
        assert "Chat done" in status(app), status(app)
        assert screen.history and screen.history[0].content == QUESTION  # the stopped turn left no trace


async def test_a_reply_cut_by_the_token_cap_says_so(project_dir: Path) -> None:
    """The Agent's own result for a reply that ran to the cap, as the Chat worker delivers it."""
    from edgefabric.runtime.agent import AgentResult, Failure, Step
    from edgefabric.runtime.backends.base import GenerationStats
    from edgefabric.schemas import Message
    from edgefabric.tui.bridge import StageFinished

    cut = "The answer is that twelve times seven is eighty"
    result = AgentResult(
        messages=[Message(role="user", content=QUESTION)],
        steps=[Step(cut, [], [], GenerationStats(prompt_tokens=40, completion_tokens=256, finish_reason="length"))],
        final_text=cut,
        stop_reason="length",
        failures=[Failure("length", "the step stopped at the token cap after 256 tokens (max_tokens 256)")],
    )
    app = make_app(project_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        app.screen.post_message(StageFinished("chat", {}, result))
        await pilot.pause()
        text = flat(transcript(app))  # the transcript wraps lines; compare without the breaks
        assert flat("The reply stopped at the token cap (256 tokens") in text
        assert flat("cut off, not finished") in text
        assert flat("stop: length") in text and flat("stop: answer") not in text
