"""Export: choose the source, GGUF quants and ONNX precisions; see sizes, parity and device fit."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Label, Select, SelectionList, Static

from edgefabric.config import GGUF_QUANTS, ONNX_PRECISIONS
from edgefabric.errors import EdgeFabricError
from edgefabric.events import ArtifactWritten
from edgefabric.tui.bridge import StageCall, StageFinished, StageNote, StageProgress, TypedEvent
from edgefabric.tui.screens.base import StageScreen


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


class ExportScreen(StageScreen):
    MODE = "export"
    STAGE = "export"
    TITLE_TEXT = "Export"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start", "Export", id="export.start"),
        Binding("c", "cancel", "Cancel", id="export.cancel", show=False),
        Binding("k", "copy_command", "Copy CLI command", id="export.command", show=False),
        Binding("x", "hide_error", "Hide error", id="hide_error", show=False),
    ]

    def compose_stage(self) -> ComposeResult:
        with Horizontal(id="export-columns"):
            with VerticalScroll(id="export-choices"):
                yield Label("Source")
                yield Select[str]((), id="export-source", compact=True)
                yield Label("GGUF quants")
                yield SelectionList[str](*((q, q) for q in GGUF_QUANTS), id="gguf")
                yield Label("ONNX precisions")
                yield SelectionList[str](*((p, p) for p in ONNX_PRECISIONS), id="onnx")
            with Vertical(id="export-results"):
                yield DataTable(id="artifacts", cursor_type="row", zebra_stripes=True)
                yield Static("parity: not measured yet", id="parity")
                yield DataTable(id="device-fit", cursor_type="none", zebra_stripes=True)

    def on_mount(self) -> None:
        if self.unavailable is not None:
            return
        self.query_one("#artifacts", DataTable).add_columns("bundle", "file", "format", "size", "s")

    def on_screen_resume(self) -> None:
        if self.unavailable is None and not self.running:
            self.load_choices()
            self.show_bundles()

    def load_choices(self) -> None:
        from edgefabric.tui.calls import export_sources

        try:
            config = self.project.load() if self.project.exists else None
        except EdgeFabricError:
            config = None
        if config is None:
            return
        select = self.query_one("#export-source", Select)
        current = select.value
        choices = export_sources(self.project, config)
        select.set_options(choices)
        values = [value for _, value in choices]
        select.value = current if current in values else values[0]
        with self.prevent(SelectionList.SelectedChanged):
            for list_id, chosen in (("#gguf", config.export.gguf), ("#onnx", config.export.onnx)):
                widget = self.query_one(list_id, SelectionList)
                widget.deselect_all()
                for value in chosen:
                    widget.select(value)

    def chosen(self) -> tuple[str | None, list[str], list[str]]:
        source = self.query_one("#export-source", Select).value
        return (
            source if isinstance(source, str) else None,
            list(self.query_one("#gguf", SelectionList).selected),
            list(self.query_one("#onnx", SelectionList).selected),
        )

    def cli_command(self) -> str | None:
        from edgefabric.tui.calls import export_command

        spec, gguf, onnx = self.chosen()
        try:
            config = self.project.load()
        except EdgeFabricError:
            return None
        return export_command(self.project, config, spec, gguf, onnx) if spec else None

    def show_bundles(self) -> None:
        """Every finished bundle in exports/ (manifest.json is written last, so it marks a complete one)."""
        table = self.query_one("#artifacts", DataTable)
        table.clear()
        from edgefabric.export.bundle import MANIFEST_FILE, bundle_exports

        manifests = sorted(self.project.files("exports", MANIFEST_FILE), key=lambda p: p.stat().st_mtime)
        for path in manifests:
            for entry in bundle_exports(path.parent):
                table.add_row(
                    path.parent.name,
                    str(entry.get("path")),
                    f"{entry.get('format')} {entry.get('quant')}",
                    human_size(float(entry.get("weights_bytes", 0))),
                    str(entry.get("seconds", "")),
                )
        if manifests:
            self.show_bundle_reports(manifests[-1].parent)

    def show_bundle_reports(self, bundle: Path) -> None:
        from edgefabric.export.bundle import DEVICE_FIT_FILE, PARITY_FILE, read_bundle_file

        parity = read_bundle_file(bundle, PARITY_FILE)
        if isinstance(parity, dict):
            self.show_parity(parity)
        fit = read_bundle_file(bundle, DEVICE_FIT_FILE)
        if isinstance(fit, list):
            self.show_device_fit(fit)

    def stage_call(self) -> StageCall | None:
        from edgefabric.tui import calls

        spec, gguf, onnx = self.chosen()
        if spec is None:
            self.notify("Choose what to export", severity="warning")
            return None
        if not gguf and not onnx:
            self.notify("Choose at least one GGUF quant or ONNX precision", severity="warning")
            return None
        return calls.export_call(self.project, self, spec, gguf, onnx)

    def stage_progress(self, message: StageProgress) -> None:
        if message.stage == "export":
            self.set_status(f"[b]Export[/] {message.done}/{message.total} steps")

    def stage_note(self, message: StageNote) -> None:
        self.set_status(f"[b]Export[/] {escape(message.text)}")

    def stage_event(self, event: TypedEvent) -> None:
        if isinstance(event, ArtifactWritten) and event.kind in ("gguf", "onnx"):
            self.notify(f"wrote {event.kind} {event.detail.get('quant', '')}")

    def show_parity(self, report: dict[str, Any]) -> None:
        """The verdict first (FAILED in red, never "passed" beside a bad figure), then each export's figures."""
        passed = bool(report.get("passed")) and all(row.get("passed") for row in report.get("summary", []))
        lines = ["[b]parity[/] " + ("[green]passed[/]" if passed else "[b red]FAILED[/]")]
        for row in report.get("summary", []):
            figures = (
                f"top-1 {row.get('top1_agreement', 0):.1%}, KL {row.get('mean_kl', 0):.4f}, "
                f"ppl x{row.get('ppl_ratio', 0):.2f}, calls {row.get('tool_call_agreement', 0):.0%}"
                if "top1_agreement" in row
                else "no teacher-forced figures (exported by an older version: export again)"
            )
            if row.get("passed") and "top1_agreement" in row:
                lines.append(f"  [green]ok[/] {row.get('target')}: {figures}")
            else:
                reasons = "; ".join(row.get("failures", [])) or "not measured"
                lines.append(f"  [b red]FAILED[/] {row.get('target')}: {figures} [red]({escape(reasons)})[/]")
        self.query_one("#parity", Static).update("\n".join(lines))

    def show_device_fit(self, rows: list[dict[str, Any]]) -> None:
        table = self.query_one("#device-fit", DataTable)
        table.clear(columns=True)
        devices = list(rows[0].get("fits", {})) if rows else []
        table.add_columns("export", "parity", "tok/s", "context", "RAM", *devices)
        for row in rows:
            fits = row.get("fits", {})
            parity = row.get("parity") or "-"
            speed = row.get("tokens_per_s")
            table.add_row(
                f"{row.get('format')} {row.get('quant')}",
                "[b red]FAILED[/]" if parity == "failed" else parity,
                f"{speed:.1f}" if isinstance(speed, int | float) else "-",
                str(row.get("context")),
                f"{row.get('ram_mb')} MB",
                *("[green]yes[/]" if fits.get(d) else "[red]no[/]" for d in devices),
            )

    def stage_finished(self, message: StageFinished) -> None:
        self.show_bundles()
        result = message.result
        if result is not None and hasattr(result, "bundle"):
            self.show_bundle_reports(result.bundle)
