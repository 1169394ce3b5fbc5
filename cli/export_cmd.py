"""`edgefabric export`: GGUF and ONNX bundles with a parity check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from edgefabric.config import OnnxQuantization, ProjectConfig
from edgefabric.errors import EdgeFabricError
from edgefabric.events import ArtifactWritten, Event, Note, PhaseStarted, StageDone, StageFailed, StageStarted
from edgefabric.events import Progress as ProgressEvent
from edgefabric.runtime.formats.registry import describe_families

if TYPE_CHECKING:
    from edgefabric.app.export import ExportRequest


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


_QUANT_FIX = "pass e.g. --onnx-quant algo=k_quant,block_size=32,accuracy_level=4,lm_head=int8"


def _onnx_quantization(text: str) -> OnnxQuantization:
    """`algo=k_quant,block_size=32` -> OnnxQuantization; bad keys or values are a ConfigError."""
    pairs = {}
    for part in _split(text):
        key, sep, value = part.partition("=")
        if not sep:
            raise EdgeFabricError(f"--onnx-quant: '{part}' is not KEY=VALUE", _QUANT_FIX)
        pairs[key.strip()] = value.strip()
    try:
        return OnnxQuantization.model_validate({k: int(v) if v.isdigit() else v for k, v in pairs.items()})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise EdgeFabricError(f"--onnx-quant: {problems}", _QUANT_FIX) from None


def export_request(
    *,
    source: str,
    gguf: str,
    onnx: str,
    out: Path | None,
    chat_format: str | None,
    parity: bool,
    probe_tokens: int,
    onnx_quant: str,
    **_after: object,  # --eval, --config and --allow-degraded act after the export
) -> ExportRequest:
    """The request `edgefabric export` runs, from its parsed options (also used to parse the TUI's command)."""
    from edgefabric.app.export import ExportRequest

    return ExportRequest(
        source=source,
        gguf=tuple(_split(gguf)),
        onnx=tuple(_split(onnx)),
        out=out,
        family=chat_format,
        parity=parity,
        probe_tokens=probe_tokens,
        onnx_quantization=_onnx_quantization(onnx_quant) if onnx_quant else None,
    )


def export(
    source: str = typer.Argument(
        ..., help="A training run folder (with merged/), an HF model folder, or embedded:gemma3-270m."
    ),
    gguf: str = typer.Option(
        "q5_k_m",
        "--gguf",
        help="GGUF types, comma-separated: f16,bf16,q8_0,q6_k,q5_k_m,q4_k_m,q4_0 ('' for none); "
        "q5_k_m is the smallest that passed parity on the 270M.",
    ),
    onnx: str = typer.Option(
        "int8",
        "--onnx",
        help="ONNX precisions for the cpu provider, comma-separated: int4,int8,fp32 ('' for none); "
        "int8 is the smallest that passed parity on the 270M.",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="The bundle folder (default: RUN/export, or exports/NAME in the EdgeFabric data folder)."
    ),
    chat_format: str | None = typer.Option(
        None, "--format", help=f"Chat format: {describe_families()} (default: from the architecture)."
    ),
    parity: bool = typer.Option(
        True, "--parity/--no-parity", help="Compare every export with the HF model on a probe set."
    ),
    probe_tokens: int = typer.Option(24, "--probe-tokens", min=1, max=256, help="Greedy tokens per parity probe."),
    onnx_quant: str = typer.Option(
        "",
        "--onnx-quant",
        help="int4/int8 ONNX weight quantization, comma-separated KEY=VALUE: algo=auto|default|rtn|k_quant, "
        "block_size=16..256, accuracy_level=1..4, lm_head=same|int8 (int4), embedding=int8|float (int8) "
        '(defaults: README, "Parity thresholds").',
    ),
    eval_cases: Path | None = typer.Option(
        None,
        "--eval",
        help="Held-out Sample JSONL (e.g. data/test.jsonl): evaluate every export on it and put accuracy "
        "beside parity (accuracy.json in the bundle).",
    ),
    config_path: Path | None = typer.Option(
        None,
        "--config",
        help="Project config for --eval (tools, format, device profile); default: run-config.yaml beside the cases.",
    ),
    allow_degraded: bool = typer.Option(
        False,
        "--allow-degraded",
        help="Exit 0 even when an export fails its parity bounds (its files are kept, named -FAILED).",
    ),
) -> None:
    """Export a model as GGUF (llama.cpp, LM Studio, Ollama) and ONNX (onnxruntime-genai) with a parity check."""
    from edgefabric.app.export import run_export

    request = export_request(
        source=source,
        gguf=gguf,
        onnx=onnx,
        out=out,
        chat_format=chat_format,
        parity=parity,
        probe_tokens=probe_tokens,
        onnx_quant=onnx_quant,
    )
    eval_config = _eval_config(eval_cases, config_path) if eval_cases else None

    console = Console()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("export", total=None)

        def on_event(event: Event) -> None:
            if isinstance(event, StageStarted) and event.stage == "export":
                bar.update(task, total=event.total, description=f"export {event.detail}")
            elif isinstance(event, ProgressEvent) and event.stage == "export":
                bar.update(task, completed=event.done)
            elif isinstance(event, ArtifactWritten):
                bar.console.print(
                    f"[green]wrote[/] {event.path} ({event.kind} {event.detail.get('quant')}, "
                    f"{event.detail.get('seconds')} s)",
                    highlight=False,
                )
            elif isinstance(event, PhaseStarted):
                bar.update(task, description=event.phase)
            elif isinstance(event, Note):
                bar.update(task, description=event.text)
                if event.stage == "parity":
                    style = "red" if "FAILED" in event.text else "green"
                    bar.console.print(f"  parity [{style}]{escape(event.text)}[/]", highlight=False)
            elif isinstance(event, StageFailed):
                bar.console.print(f"[red]failed:[/] {event.error}", highlight=False)
            elif isinstance(event, StageDone) and event.stage == "export":
                bar.update(task, description="export done")

        result = run_export(request, on_event=on_event)
    console.print(f"[bold green]bundle:[/] {result.bundle}", highlight=False)
    if eval_cases is not None and eval_config is not None:
        _evaluate(console, result.bundle, eval_cases, eval_config)
    if result.failed:
        console.print(
            f"[bold red]parity FAILED[/] for {', '.join(result.failed)}: their files are kept with -FAILED in the "
            f'name; see {result.bundle / "parity.json"} for the figures and the README\'s "Parity thresholds"',
            highlight=False,
        )
        if not allow_degraded:
            raise typer.Exit(1)


def _eval_config(cases: Path, config_path: Path | None) -> ProjectConfig:
    """The project config --eval runs with: --config, else the run-config.yaml generation wrote beside the cases."""
    from edgefabric.config import load_config

    if not cases.is_file():
        raise EdgeFabricError(
            f"--eval {cases}: no such file", "pass the project's held-out split, e.g. data/test.jsonl"
        )
    path = config_path or cases.parent / "run-config.yaml"
    if not path.is_file():
        raise EdgeFabricError(
            f"--eval needs the project config (tools, chat format, device profile); {path} does not exist",
            "pass --config edgefabric.yaml",
        )
    return load_config(path)


def _evaluate(console: Console, bundle: Path, cases: Path, config: ProjectConfig) -> None:
    """Every export scored on `cases`, printed beside its parity verdict (from accuracy.json)."""
    from edgefabric.app.export_eval import ACCURACY_FILE, evaluate_exports

    evaluate_exports(bundle, cases, config)
    table = Table(title=f"Exports on {cases} (each evaluated in its own process)")
    for column in ("export", "parity", "top-1", "parameter acc.", "overall", "cases"):
        table.add_column(column, justify="left" if column in ("export", "parity") else "right")
    for row in json.loads((bundle / ACCURACY_FILE).read_text(encoding="utf-8"))["exports"]:
        accuracy = row["metrics"].get("parameter_accuracy")
        table.add_row(
            row["target"],
            "[red]FAILED[/]" if row["parity"] == "failed" else row["parity"],
            f"{row['top1_agreement']:.1%}" if row["top1_agreement"] is not None else "-",
            f"{accuracy:.1%}" if accuracy is not None else "-",
            f"{row['overall']:.1%}" if row["overall"] is not None else "-",
            str(row["cases"]),
        )
    console.print(table)
    console.print(f"accuracy beside parity: {bundle / ACCURACY_FILE}", highlight=False)
