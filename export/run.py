"""One export: resolve the model, write GGUF/ONNX, check parity, write the bundle.

The bundle is assembled in `<out>.partial` and renamed when complete, so a finished
bundle folder is never half written; an interrupted export leaves only the .partial.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgefabric.config import OnnxQuantization
from edgefabric.errors import EdgeFabricError
from edgefabric.events import (
    ArtifactWritten,
    Event,
    EventSink,
    PhaseStarted,
    Progress,
    StageDone,
    StageFailed,
    StageStarted,
    ignore_events,
)
from edgefabric.export.bundle import PARITY_FILE, modelfile, write_bundle_metadata
from edgefabric.export.files import FAILED_MARK, atomic_output
from edgefabric.export.gguf import check_gguf_types, export_gguf
from edgefabric.export.onnx import check_onnx_precisions, export_onnx
from edgefabric.export.parity import check_parity
from edgefabric.export.source import inspect_source
from edgefabric.paths import data_home
from edgefabric.runtime.formats.templates import chat_template


@dataclass(frozen=True)
class ExportSource:
    spec: str
    folder: Path
    training_run: str | None


@dataclass
class ExportResult:
    """A finished bundle; `failed` lists the targets (e.g. "onnx int4") that failed parity."""

    bundle: Path
    manifest: dict[str, Any]
    parity: dict[str, Any] | None
    failed: list[str] = field(default_factory=list)


def resolve_source(spec: str, *, on_event: EventSink = ignore_events) -> ExportSource:
    """A training run folder (its merged/ model), an HF model folder, or an embedded model."""
    from edgefabric.runtime.models import EMBEDDED, resolve_hf_folder

    if spec in EMBEDDED:
        return ExportSource(spec, resolve_hf_folder(spec, on_event=on_event), None)
    path = Path(spec).expanduser()
    if not path.exists():
        raise EdgeFabricError(
            f"{spec} does not exist", "pass a training run folder, an HF model folder or embedded:gemma3-270m"
        )
    if (path / "merged" / "config.json").is_file():
        return ExportSource(spec, path / "merged", str(path))
    if (path / "config.json").is_file():
        return ExportSource(spec, path, None)
    if (path / "adapter_config.json").is_file() or (path / "adapter").is_dir():
        raise EdgeFabricError(
            f"{path} holds a LoRA adapter but no merged model",
            "merge the adapter first (training writes merged/ when it finishes), then export the run folder",
        )
    raise EdgeFabricError(
        f"{path} is neither a training run (no merged/ folder) nor an HF model folder (no config.json)",
        "pass a training run folder, an HF model folder or embedded:gemma3-270m",
    )


def default_out(source: ExportSource) -> Path:
    if source.training_run:
        return Path(source.training_run) / "export"
    name = source.spec.replace("embedded:", "") if source.spec.startswith("embedded:") else source.folder.name
    return data_home() / "exports" / name


def export_model(
    spec: str,
    *,
    gguf: list[str],
    onnx: list[str],
    out: Path | None = None,
    family: str | None = None,
    parity: bool = True,
    probe_tokens: int = 24,
    onnx_quantization: OnnxQuantization | None = None,
    on_event: EventSink = ignore_events,
) -> ExportResult:
    """Export `spec` (a training run, an HF folder or an embedded model) to GGUF `gguf` types and
    ONNX `onnx` precisions in one bundle folder, then check parity.

    An export that fails its parity bounds is kept, renamed `-FAILED`, and listed in
    `ExportResult.failed`; deciding what that means (exit status) is the caller's.
    Raises EdgeFabricError for bad types, a bad source, or a failed conversion.
    """
    gguf = check_gguf_types(gguf)
    onnx = check_onnx_precisions(onnx)
    if not gguf and not onnx:
        raise EdgeFabricError("nothing to export", "pass --gguf TYPES and/or --onnx PRECISIONS")
    resolved = resolve_source(spec, on_event=on_event)
    source = inspect_source(resolved.folder, family)
    chat_template(source.family)  # fail before any work if the format has no template
    bundle = (out or default_out(resolved)).expanduser().resolve()
    total = len(gguf) + len(onnx) + (1 if parity else 0)
    on_event(StageStarted("export", total=total, detail=f"{resolved.folder} -> {bundle}"))
    started = time.perf_counter()
    try:
        with atomic_output(bundle) as partial:
            partial.mkdir(parents=True)
            done = 0

            def progress(event: Event) -> None:
                nonlocal done
                on_event(event)
                if isinstance(event, ArtifactWritten) and event.kind in ("gguf", "onnx"):
                    done += 1
                    on_event(Progress("export", done, total))

            ggufs = export_gguf(source, partial, gguf, on_event=progress) if gguf else []
            onnxs = (
                export_onnx(source, partial, onnx, quantization=onnx_quantization, on_event=progress) if onnx else []
            )
            exports: list[dict[str, Any]] = [
                {
                    "format": "gguf",
                    "quant": g.quant,
                    "path": g.path.name,
                    "seconds": round(g.seconds, 2),
                    "weights_bytes": g.path.stat().st_size,
                }
                for g in ggufs
            ] + [
                {
                    "format": "onnx",
                    "quant": o.precision,
                    "path": o.path.name,
                    "seconds": round(o.seconds, 2),
                    "weights_bytes": sum(f.stat().st_size for f in o.path.iterdir() if f.name.startswith("model.onnx")),
                }
                for o in onnxs
            ]
            report = None
            if parity:
                on_event(
                    PhaseStarted("export", "checking parity: teacher-forced divergence and tool calls vs transformers")
                )
                result = check_parity(
                    source.folder,
                    source.family,
                    gguf=[(g.quant, g.path) for g in ggufs],
                    onnx=[(o.precision, o.path) for o in onnxs],
                    max_new_tokens=probe_tokens,
                    on_event=on_event,
                )
                report = result.to_dict()
                verdicts = {row["target"]: row for row in report["summary"]}
                for entry in exports:
                    row = verdicts[f"{entry['format']} {entry['quant']}"]
                    entry["parity"] = "passed" if row["passed"] else "failed"
                    entry["tokens_per_s"] = row["tokens_per_s"]
                    entry["top1_agreement"] = row["top1_agreement"]
                    if not row["passed"]:
                        entry["parity_failures"] = row["failures"]
                        entry["path"] = _mark_failed(partial, entry["path"])
                (partial / PARITY_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False))
                on_event(Progress("export", total, total))
            gguf_entries = [e for e in exports if e["format"] == "gguf"]
            if gguf_entries:
                (partial / "Modelfile").write_text(_modelfile(gguf_entries, source.family))
            manifest = write_bundle_metadata(
                partial,
                source,
                source_spec=resolved.spec,
                training_run=resolved.training_run,
                exports=exports,
                parity=report,
            )
    except EdgeFabricError as exc:
        on_event(StageFailed("export", exc.message))
        raise
    # The manifest names files relative to the bundle, so it stays valid after the rename.
    summary = {"bundle": str(bundle), "seconds": round(time.perf_counter() - started, 1)}
    failed = [f"{e['format']} {e['quant']}" for e in exports if e.get("parity") == "failed"]
    if report is not None:
        summary["parity_passed"] = report["passed"]
        summary["parity_failed"] = failed
    on_event(StageDone("export", summary))
    return ExportResult(bundle=bundle, manifest=manifest, parity=report, failed=failed)


_GGUF_ORDER = ("f16", "bf16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_0")


def _mark_failed(bundle: Path, name: str) -> str:
    """Rename a failed export so its name says so (`model-q4_0-FAILED.gguf`, `onnx-int4-FAILED/`);
    the files are kept for inspection. Returns the new name, relative to the bundle."""
    path = Path(name)
    marked = path.with_name(path.stem + FAILED_MARK + path.suffix)
    (bundle / path).rename(bundle / marked)
    return str(marked)


def _modelfile(entries: list[dict[str, Any]], family: str) -> str:
    """Ollama's Modelfile for the most precise GGUF that passed parity (or, if none did, the
    most precise one, with a warning at the top)."""
    passed = [e for e in entries if e.get("parity") != "failed"]
    best = min(passed or entries, key=lambda e: _GGUF_ORDER.index(e["quant"]))
    text = modelfile(best["path"], family)
    if not passed:
        text = f"# WARNING: {best['path']} FAILED its parity check (see parity.json)\n" + text
    return text
