"""The main job end to end: generate -> train -> export -> evaluate base vs fine-tuned.

It works in a project folder with the TUI's layout (edgefabric.yaml, data/, runs/,
exports/, reports/), so `fabric-tui DEMO` shows every artifact it made. Each step is
skipped when its output is complete, and the steps that can continue (generation,
training) resume from what a killed run left, so running the demo again picks up
where it stopped. Nothing here is a stage of its own: each step calls the entry
function the CLI and the TUI call.

It lives in the application layer (it composes sibling stages: pipeline and export
may not import each other) and, like the CLI and the TUI, runs each step as a request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from edgefabric.app.export_eval import (
    EvalJob,
    ExportAccuracy,
    evaluate_exports,
    export_label,
    export_rows,
    slug,
)
from edgefabric.config import ProjectConfig, load_config, save_config
from edgefabric.errors import EdgeFabricError
from edgefabric.events import EventSink, Note, Progress, StageDone, StageStarted, ignore_events
from edgefabric.layout import CONFIG_NAME, ProjectLayout

if TYPE_CHECKING:
    from edgefabric.pipeline.evaluate.runner import EvalReport

STAGE = "demo"


def demo_config(name: str = "demo") -> ProjectConfig:
    """The embedded, offline setup sized to finish on 2 CPU cores in under 30 minutes.

    - Tools: `math` (calculate, convert_units). Its two declarations take about 360
      tokens in the FunctionGemma prompt, against about 1,050 for `mobile`'s six, so
      training sees three times the samples in the same minutes.
    - Generation is call-first (the default for the embedded teacher): calls are drawn
      and run, the teacher writes the request for exactly them, grounding checks every
      value. Semantic and cycle checks are off: the embedded SmolLM2-135M fails them on
      most grounded samples (README, "Grounded data").
    - The test split holds at least 30 cases, so the base-vs-fine-tuned table rests on
      enough cases to mean something.
    - Training recomputes activations (gradient checkpointing), so it fits in 2.5 GB of RAM.
    """
    return ProjectConfig.model_validate(
        {
            "name": name,
            "tools": {"builtin": ["math"]},
            "topics": {
                "prompt": "Everyday arithmetic and unit conversions: shopping, cooking, travel and fitness",
                "depth": 1,
                "degree": 6,
            },
            # A 135M teacher on 2 shared cores answers slowly but does answer: wait for it.
            "teacher": {"max_tokens": 160, "concurrency": 2, "timeout_s": 900},
            "generation": {
                "num_samples": 128,
                "kinds": {"single": 0.5, "parallel": 0.15, "multi_step": 0.1, "no_call": 0.2, "error_recovery": 0.05},
                "max_steps": 3,
                "semantic_check": False,
                "splits": {"train": 0.7, "val": 0.05, "test": 0.25},
            },
            "training": {
                "max_steps": 60,
                # 4 samples a step, one at a time: a step of 4 at once keeps ~1.9 GB of activations for the
                # backward. Measured side by side on the demo's data (1 thread, 6 steps): 1 x 4 accumulated
                # ran at 105 tokens/s with a 2485 MiB peak; 4 at once with gradient checkpointing (the other
                # way to stay within 2.5 GB) at 60 tokens/s, 2315 MiB (README, Train). Since session 7's speed work:
                # ~250 tokens/s on 2 threads, 20 steps peaking at 2,237 MiB (README, Speed on CPU).
                "batch_size": 1,
                "grad_accum": 4,
                "learning_rate": 5e-4,
                "lr_scheduler": "constant_with_warmup",
                "save_every": 20,
            },
            # q8_0: the export the demo's base-vs-fine-tuned figure is measured on (issue 12); the default
            # GGUF type elsewhere is the smallest that passes parity (README, "Parity thresholds").
            "export": {"gguf": ["q8_0"]},
            # The phone profile (256 tokens a step): an untrained base rambles to the limit.
            "eval": {"max_steps": 3, "device_profile": "phone"},
        }
    )


@dataclass
class JourneyResult:
    project: Path
    dataset: Path
    run: Path
    bundle: Path
    reports: list[tuple[str, Path]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def artifacts(self) -> list[tuple[str, Path]]:
        """(what, where) for every file a user would open next."""
        items = [
            ("project config", self.project / CONFIG_NAME),
            ("dataset card", self.dataset / "card.md"),
            ("held-out split", self.dataset / "test.jsonl"),
            ("training report", self.run / "train_report.json"),
            ("LoRA adapter", self.run / "adapter"),
            ("merged model", self.run / "merged"),
        ]
        from edgefabric.export.bundle import PARITY_FILE, bundle_exports

        for entry in bundle_exports(self.bundle):
            items.append((f"{entry['format'].upper()} {entry['quant']}", self.bundle / entry["path"]))
        items += [("Ollama Modelfile", self.bundle / "Modelfile"), ("parity report", self.bundle / PARITY_FILE)]
        items += [(f"eval report: {label}", path) for label, path in self.reports]
        return [(what, path) for what, path in items if path.exists()]


def prepare_project(root: Path) -> ProjectConfig:
    """Write the demo config on first use; later runs keep the one on disk (the user may have edited it)."""
    layout = ProjectLayout(root)
    if layout.config.exists():
        return load_config(layout.config)
    config = demo_config()
    layout.make_folders()
    save_config(config, layout.config)
    return config


def run_journey(root: Path, *, on_event: EventSink = ignore_events) -> JourneyResult:
    """Run (or finish) the whole journey in the project folder `root`."""
    root = root.expanduser().resolve()
    config = prepare_project(root)
    layout = ProjectLayout(root)
    result = JourneyResult(
        project=root,
        dataset=layout.data,
        run=layout.run(config.name),
        bundle=layout.bundle(config.name),
    )
    steps: list[tuple[str, Callable[[], bool]]] = [
        ("generate", lambda: _generate(config, result, on_event)),
        ("train", lambda: _train(config, result, on_event)),
        ("export", lambda: _export(config, result, on_event)),
        ("evaluate", lambda: _evaluate(config, result, on_event)),
    ]
    on_event(StageStarted(STAGE, total=len(steps), detail=str(root)))
    for done, (name, step) in enumerate(steps):
        on_event(Progress(STAGE, done, len(steps)))
        started = time.perf_counter()
        ran = step()
        result.seconds[name] = round(time.perf_counter() - started, 1)
        if not ran:
            result.skipped.append(name)
            on_event(Note(STAGE, f"{name}: already done, kept (delete its folder to redo it)"))
    on_event(Progress(STAGE, len(steps), len(steps)))
    on_event(StageDone(STAGE, {"seconds": result.seconds, "skipped": result.skipped}))
    return result


def _generate(config: ProjectConfig, result: JourneyResult, on_event: EventSink) -> bool:
    from edgefabric.app.generate import GenerateRequest, run_generate

    data = result.dataset
    if (data / "card.json").exists() and (data / "train.jsonl").exists():
        return False
    summary = run_generate(GenerateRequest.for_project(ProjectLayout(result.project)), on_event=on_event)
    if summary.splits.get("train", 0) == 0 or summary.splits.get("test", 0) == 0:
        raise EdgeFabricError(
            f"generation accepted {summary.accepted} sample(s), too few for a train and a test split "
            f"(splits: {summary.splits})",
            f"raise generation.num_samples in {result.project / CONFIG_NAME} and run the demo again "
            "(accepted samples are kept)",
        )
    return True


def _train(config: ProjectConfig, result: JourneyResult, on_event: EventSink) -> bool:
    from edgefabric.app.train import TrainRequest, run_train

    if (result.run / "train_report.json").exists() and (result.run / "merged").is_dir():
        return False
    # merge: export needs the merged folder, whatever the config says
    run_train(TrainRequest.for_project(ProjectLayout(result.project), config.name, merge=True), on_event=on_event)
    return True


def _export(config: ProjectConfig, result: JourneyResult, on_event: EventSink) -> bool:
    from edgefabric.app.export import ExportRequest, run_export

    if (result.bundle / "manifest.json").exists():  # written last, then the folder is renamed into place
        return False
    request = ExportRequest(
        source=str(result.run),
        gguf=tuple(config.export.gguf),
        onnx=tuple(config.export.onnx),
        out=result.bundle,
        family=config.model.family,
        onnx_quantization=config.export.onnx_quantization,
    )
    run_export(request, on_event=on_event)
    return True


def _evaluate(config: ProjectConfig, result: JourneyResult, on_event: EventSink) -> bool:
    """The untrained base and every export through `export_eval` (the path of `edgefabric export
    --eval`), each on the held-out split in its own process, two at a time on two or more cores."""
    from edgefabric.runtime.threads import machine_cores

    cases = result.dataset / "test.jsonl"
    reports = ProjectLayout(result.project).reports
    base_label = f"base {config.model.base}"
    base = EvalJob(config.model.base, reports / f"eval-demo-{slug(base_label)}.json")
    rows = export_rows(result.bundle, reports, "eval-demo-")
    missing = [path for path in (base.out, *(row.report for row in rows)) if not path.exists()]
    evaluate_exports(
        result.bundle,
        cases,
        config,
        reports=reports,
        prefix="eval-demo-",
        also=[base],
        parallel=2 if machine_cores() >= 2 else 1,
        on_event=on_event,
    )
    result.reports.append((base_label, base.out))
    result.reports += [(export_label_of(row), row.report) for row in rows]
    return bool(missing)


def export_label_of(row: ExportAccuracy) -> str:
    """The table label of an evaluated export: "fine-tuned GGUF q8_0", "(parity FAILED)" added when so."""
    runtime, quant = row.target.split(" ", 1)
    return export_label({"format": runtime, "quant": quant, "parity": row.parity})


def load_reports(result: JourneyResult) -> list[tuple[str, EvalReport]]:
    from edgefabric.pipeline.evaluate.report import load_report

    return [(label, load_report(path)) for label, path in result.reports]
