"""Evaluation after export, the real judge: each export of a bundle scored on held-out cases.

Used by `edgefabric export --eval TEST.jsonl` and by the demo. Each model is evaluated in
a fresh child process (its memory and speed are its own, not inflated by the training or
export that ran in this process). The figures land beside parity: `accuracy.json` in the
bundle, one row per export with its parity verdict and its accuracy.

It lives in the application layer because it composes sibling stages (export and
pipeline.evaluate may not import each other).
"""

from __future__ import annotations

import json
import multiprocessing
import queue
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgefabric.config import ProjectConfig, load_yaml
from edgefabric.errors import EdgeFabricError
from edgefabric.events import EventSink, Note, ignore_events

ACCURACY_FILE = "accuracy.json"


@dataclass(frozen=True)
class ExportAccuracy:
    """One export's verdicts: `parity` is "passed", "failed" or "not checked"."""

    target: str  # e.g. "gguf q8_0"
    path: Path
    parity: str
    report: Path


def export_label(entry: dict[str, Any]) -> str:
    """How an export is named in tables: "fine-tuned GGUF q8_0", plus "(parity FAILED)" when it failed."""
    label = f"fine-tuned {entry['format'].upper()} {entry['quant']}"
    return label + (" (parity FAILED)" if entry.get("parity") == "failed" else "")


def slug(label: str) -> str:
    """A file-name-safe form of a label: lower case, words joined by '-'."""
    return "-".join("".join(c if c.isalnum() else " " for c in label.lower()).split())


@dataclass(frozen=True)
class EvalJob:
    """One model to evaluate and where its report goes."""

    model: str
    out: Path


def evaluate_exports(
    bundle: Path,
    cases: Path,
    config: ProjectConfig,
    *,
    reports: Path | None = None,
    prefix: str = "eval-",
    also: Sequence[EvalJob] = (),
    parallel: int = 1,
    on_event: EventSink = ignore_events,
) -> list[ExportAccuracy]:
    """Evaluate every export listed in `bundle`/manifest.json on `cases` (Sample JSONL).

    Reports go to `reports` (default: `bundle`/eval) as `<prefix><label slug>.json`; one
    already there is kept (delete it to redo). `also` adds other models to the same run
    (the demo's untrained base). At most `parallel` evaluations run at once, each in its
    own process. Tools, chat format, device profile and step limit come from `config`.
    Writes `bundle`/accuracy.json and returns its rows.
    Raises EdgeFabricError when the bundle has no manifest or an evaluation fails.
    """
    rows = export_rows(bundle, reports or bundle / "eval", prefix)
    if not cases.is_file():
        raise EdgeFabricError(f"{cases} does not exist", "pass the project's held-out split, e.g. data/test.jsonl")
    jobs = [job for job in also if not job.out.exists()]
    jobs += [EvalJob(str(row.path), row.report) for row in rows if not row.report.exists()]
    evaluate_in_children(config, jobs, cases, on_event, parallel=parallel)
    _write_accuracy(bundle, cases, rows)
    return rows


def export_rows(bundle: Path, reports: Path, prefix: str) -> list[ExportAccuracy]:
    """One row per export in `bundle`/manifest.json, with the report path it gets under `reports`."""
    from edgefabric.export.bundle import MANIFEST_FILE, bundle_exports, read_bundle_file

    if not isinstance(read_bundle_file(bundle, MANIFEST_FILE), dict):
        raise EdgeFabricError(
            f"{bundle} has no readable {MANIFEST_FILE}", "export the model first; the manifest is written last"
        )
    reports.mkdir(parents=True, exist_ok=True)
    rows = []
    for entry in bundle_exports(bundle):
        report = reports / f"{prefix}{slug(export_label(entry))}.json"
        target = f"{entry['format']} {entry['quant']}"
        rows.append(ExportAccuracy(target, bundle / entry["path"], entry.get("parity", "not checked"), report))
    return rows


def _write_accuracy(bundle: Path, cases: Path, rows: list[ExportAccuracy]) -> None:
    from edgefabric.export.bundle import PARITY_FILE, read_bundle_file
    from edgefabric.pipeline.evaluate.report import load_report

    report_file = read_bundle_file(bundle, PARITY_FILE)
    parity = {r["target"]: r for r in report_file["summary"]} if isinstance(report_file, dict) else {}
    table = []
    for row in rows:
        report = load_report(row.report)
        figures = parity.get(row.target, {})
        table.append(
            {
                "target": row.target,
                "path": row.path.name,
                "parity": row.parity,
                "top1_agreement": figures.get("top1_agreement"),
                "mean_kl": figures.get("mean_kl"),
                "metrics": report.metrics,
                "overall": report.overall,
                "cases": report.n,
                "report": str(row.report),
            }
        )
    out = bundle / ACCURACY_FILE
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps({"cases": str(cases), "exports": table}, indent=2), encoding="utf-8")
    tmp.replace(out)


def evaluate_in_child(config: ProjectConfig, model: str, cases: Path, out: Path, on_event: EventSink) -> None:
    """Evaluate `model` on `cases` in a fresh process and write its report to `out`.

    Raises EdgeFabricError if the child fails or dies.
    """
    evaluate_in_children(config, [EvalJob(model, out)], cases, on_event)


def evaluate_in_children(
    config: ProjectConfig, jobs: Sequence[EvalJob], cases: Path, on_event: EventSink, *, parallel: int = 1
) -> None:
    """Evaluate each job in its own fresh process, at most `parallel` at once.

    With several at once, each child gets an equal share of the cores (`EDGEFABRIC_THREADS`), and
    only the oldest running job's events are passed on (one progress bar at a time); the others
    report when they start. Raises EdgeFabricError if a child fails or dies (the others are stopped).
    """
    from edgefabric.runtime.threads import env_override, machine_cores

    context = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited torch state
    width = max(1, min(parallel, len(jobs)))
    threads = env_override() or (max(1, machine_cores() // width) if width > 1 else None)
    waiting = list(jobs)
    running: list[tuple[EvalJob, Any, Any]] = []  # (job, process, its event queue)
    try:
        while waiting or running:
            while waiting and len(running) < width:
                job = waiting.pop(0)
                events: Any = context.Queue()
                child = context.Process(
                    target=evaluate_model, args=(config.to_yaml(), job.model, cases, job.out, events, threads)
                )
                child.start()
                if running:
                    on_event(Note("evaluate", f"evaluating {job.model} beside {running[0][0].model}"))
                running.append((job, child, events))
            finished = [entry for index, entry in enumerate(running) if _drain(entry, on_event if index == 0 else None)]
            running = [entry for entry in running if entry not in finished]
    finally:
        for _, child, _ in running:
            child.terminate()


def _drain(entry: tuple[EvalJob, Any, Any], on_event: EventSink | None) -> bool:
    """Pass on one child's events for up to 0.2 s; True once it has finished. Raises on failure."""
    job, child, events = entry
    try:
        item = events.get(timeout=0.2)
    except queue.Empty:
        if child.is_alive():
            return False
        raise EdgeFabricError(
            f"the evaluation of {job.model} stopped without a report (exit code {child.exitcode})",
            "run it again (finished reports are kept); if it recurs, run `edgefabric eval` on that model",
        ) from None
    if isinstance(item, tuple):  # ("done", None) or ("failed", (problem, fix))
        child.join()
        if item[0] == "failed":
            raise EdgeFabricError(*item[1])
        return True
    if on_event is not None:
        on_event(item)
    return False


def evaluate_model(
    config_yaml: str, model: str, cases_path: Path, out: Path, events: Any, threads: int | None = None
) -> None:
    """The child's side of `evaluate_in_children` (module level, so a spawned process can import it);
    `threads` overrides the thread policy for this child (a share of the cores)."""
    from edgefabric.app.evaluate import EvalRequest, run_eval
    from edgefabric.config import parse_config
    from edgefabric.runtime.threads import set_override

    set_override(threads)
    try:
        config = parse_config(load_yaml(config_yaml))
        request = EvalRequest.for_project(config, model, cases=cases_path, out=out, family=config.model.family)
        run_eval(request, on_event=events.put)
    except EdgeFabricError as exc:
        events.put(("failed", (exc.problem, exc.fix)))
        return
    events.put(("done", None))
