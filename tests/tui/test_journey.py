"""The journey through the real stages, keyboard-driven: data on disk -> train a tiny real model
-> export it -> chat with it -> evaluate it; plus each stage's refusal when its input is missing.

The tiny model is a random Gemma3ForCausalLM with a SentencePiece tokenizer trained in the test
(tests/train/conftest.py), so training takes seconds; generation with the embedded teacher takes
minutes on 2 shared cores, so its screen is tested on a run already on disk (and for real in
test_generate_real_run_cancels_cleanly, marked slow).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import DataTable, RichLog, Select, SelectionList, Static, Tree

from edgefabric.dataset import append_samples
from edgefabric.tui.app import FabricApp
from edgefabric.tui.project import Project
from edgefabric.tui.settings import TuiSettings
from edgefabric.tui.widgets import ErrorPanel
from tests.train.conftest import dataset, project, tiny_gemma  # noqa: F401  (tiny_gemma is a fixture)
from tests.tui.conftest import make_app, settle


def rendered(app: FabricApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def log_text(app: FabricApp, selector: str) -> str:
    return "\n".join(strip.text for strip in app.screen.query_one(selector, RichLog).lines)


def error_text(app: FabricApp) -> str:
    panel = app.screen.query_one(ErrorPanel)
    return str(panel.query_one("#error-body", Static).render()) if panel.shown else ""


async def test_generate_screen_resumes_a_run_on_disk(project_dir: Path) -> None:
    app = make_app(project_dir)
    samples = dataset(3)
    append_samples(Project(project_dir).data_dir / "samples.jsonl", samples)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        target = Project(project_dir).load().generation.num_samples
        assert f"3 of {target} samples in data/samples.jsonl" in rendered(app, "#gen-stats")
        assert "user" in log_text(app, "#samples")
        await pilot.press("y")
        await pilot.pause()
        assert json.loads(app.clipboard)["id"] == samples[-1].id
        await pilot.press("k")
        await pilot.pause()
        assert app.clipboard.endswith("edgefabric generate edgefabric.yaml --out data --resume")
        assert isinstance(app.screen.query_one("#topics"), Tree)


async def test_stages_refuse_missing_inputs_with_the_fix_and_stay_usable(project_dir: Path) -> None:
    app = make_app(project_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("3", "s")
        await pilot.pause()
        assert "train.jsonl does not exist" in error_text(app) and "generate data" in error_text(app)
        await pilot.press("6", "s")
        await pilot.pause()
        assert "test.jsonl does not exist" in error_text(app)
        await pilot.press("i")
        await pilot.pause()
        assert "no evaluation report for the selected model yet" in error_text(app)
        await pilot.press("1")
        await pilot.pause()
        assert type(app.screen).__name__ == "ProjectScreen"


@pytest.mark.slow
async def test_train_export_chat_evaluate_on_a_tiny_real_model(tmp_path: Path, tiny_gemma: Path) -> None:  # noqa: F811
    folder = tmp_path / "tiny"
    config = project(tiny_gemma, max_steps=2, merge=True, eval_every=1)
    config.eval.max_samples = 2
    config.eval.max_steps = 1
    config.tools.builtin = ["math"]
    proj = Project(folder)
    proj.create(config)
    data = proj.data_dir
    append_samples(data / "train.jsonl", dataset(8))
    append_samples(data / "val.jsonl", dataset(2))
    append_samples(data / "test.jsonl", dataset(2))
    app = FabricApp(folder, settings=TuiSettings())
    async with app.run_test(size=(120, 40)) as pilot:
        # Train: two steps, the loss plotted live, the run in runs/tiny.
        await pilot.press("3", "s")
        await settle(app, pilot, timeout=300)
        assert not app.screen.query_one(ErrorPanel).shown, error_text(app)
        assert "Train done" in rendered(app, "#status")
        assert "loss" in rendered(app, "#train-stats")
        assert (folder / "runs" / "tiny" / "adapter").is_dir()
        assert (folder / "runs" / "tiny" / "merged" / "config.json").is_file()

        # Export: the trained run is offered first; one GGUF, no ONNX.
        await pilot.press("4")
        await pilot.pause()
        source = app.screen.query_one("#export-source", Select)
        assert source.value == str(folder / "runs" / "tiny")
        app.screen.query_one("#gguf", SelectionList).deselect_all()
        app.screen.query_one("#gguf", SelectionList).select("f16")
        app.screen.query_one("#onnx", SelectionList).deselect_all()
        await pilot.press("s")
        await settle(app, pilot, timeout=300)
        assert not app.screen.query_one(ErrorPanel).shown, error_text(app)
        assert app.screen.query_one("#artifacts", DataTable).row_count >= 1
        assert "parity" in rendered(app, "#parity")
        gguf = next((folder / "exports").rglob("*.gguf"))

        # Chat: the export is offered first; one real turn through the agent loop and sandbox.
        await pilot.press("5")
        await pilot.pause()
        assert app.screen.query_one("#chat-model", Select).value == str(gguf)
        await pilot.click("#prompt")
        await pilot.press(*"add 2 and 3", "enter")
        await settle(app, pilot, timeout=300)
        assert not app.screen.query_one(ErrorPanel).shown, error_text(app)
        assert "stop:" in log_text(app, "#transcript")

        # Evaluate the export on data/test.jsonl; the report lands in reports/ and is compared.
        await pilot.press("escape", "6")
        await pilot.pause()
        app.screen.query_one("#eval-model", Select).value = str(gguf)
        await pilot.press("s")
        await settle(app, pilot, timeout=300)
        assert not app.screen.query_one(ErrorPanel).shown, error_text(app)
        reports = list((folder / "reports").glob("eval-*.json"))
        assert len(reports) == 1
        assert app.screen.query_one("#compare", DataTable).row_count == 1
        assert app.screen.query_one("#metrics", DataTable).row_count > 3
        await pilot.press("i")
        await settle(app, pilot)
        assert (folder / "reports" / "rounds.json").exists()
        assert app.screen.query_one("#rounds", DataTable).row_count == 1


@pytest.mark.slow
async def test_generate_real_run_cancels_cleanly(project_dir: Path) -> None:
    """The real generation stage with the embedded teacher: it starts, c stops it at the next
    unit, the app stays usable and what it wrote is intact."""
    from edgefabric.config import ProjectConfig

    config = ProjectConfig(name="gen")
    config.generation.num_samples = 2
    config.topics.depth = 1
    config.topics.degree = 2
    Project(project_dir).create(config)
    app = FabricApp(project_dir, settings=TuiSettings())
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("2", "s")
        for _ in range(600):  # the teacher server starts, then the topic graph begins
            await pilot.pause(0.2)
            if "topics" in log_text(app, "#samples") or not app.screen.running:  # type: ignore[attr-defined]
                break
        assert not app.screen.query_one(ErrorPanel).shown, error_text(app)
        await pilot.press("c")
        # A teacher call in flight finishes first: the stage stops at its next event.
        for _ in range(1500):
            status = rendered(app, "#status")
            if "cancelled" in status or "done" in status:
                break
            await pilot.pause(0.2)
        assert "cancelled" in status or "done" in status, status
        assert (project_dir / "data" / "run-config.yaml").exists()
        await pilot.press("1")
        await pilot.pause()
        assert type(app.screen).__name__ == "ProjectScreen"
