"""Export: choose GGUF quants and ONNX precisions; see sizes, parity and device fit."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Label, SelectionList, Static

from edgefabric.config import GGUF_QUANTS, ONNX_PRECISIONS
from edgefabric.errors import EdgeFabricError
from edgefabric.tui.bridge import StageCall, StageFinished, StageItem, StageNote
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
        Binding("c", "cancel", "Cancel", id="export.cancel"),
        Binding("x", "hide_error", "Hide error", id="hide_error", show=False),
    ]

    def compose_stage(self) -> ComposeResult:
        with Horizontal(id="export-columns"):
            with VerticalScroll(id="export-choices"):
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
        self.query_one("#artifacts", DataTable).add_columns("artifact", "format", "size")
        self.query_one("#device-fit", DataTable).add_columns("device", "fits", "detail")

    def on_screen_resume(self) -> None:
        if self.unavailable is None and not self.running:
            self.load_choices()
            self.show_existing()

    def load_choices(self) -> None:
        try:
            config = self.project.load() if self.project.exists else None
        except EdgeFabricError:
            config = None
        if config is None:
            return
        with self.prevent(SelectionList.SelectedChanged):
            for list_id, chosen in (("#gguf", config.export.gguf), ("#onnx", config.export.onnx)):
                widget = self.query_one(list_id, SelectionList)
                widget.deselect_all()
                for value in chosen:
                    widget.select(value)

    def chosen(self) -> tuple[list[str], list[str]]:
        return (
            list(self.query_one("#gguf", SelectionList).selected),
            list(self.query_one("#onnx", SelectionList).selected),
        )

    def show_existing(self) -> None:
        """Artifacts already in exports/ (from an earlier run, or the CLI)."""
        table = self.query_one("#artifacts", DataTable)
        table.clear()
        for path in self.project.files("exports", "*.gguf"):
            table.add_row(str(path.relative_to(self.project.root)), "gguf", human_size(path.stat().st_size))
        for path in self.project.files("exports", "*.onnx"):
            folder = path.parent
            size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
            table.add_row(str(folder.relative_to(self.project.root)), "onnx", human_size(size))

    def stage_call(self) -> StageCall | None:
        from edgefabric.tui import calls

        gguf, onnx = self.chosen()
        if not gguf and not onnx:
            self.notify("Choose at least one GGUF quant or ONNX precision", severity="warning")
            return None
        return calls.export_call(self.project, self, gguf, onnx)

    def before_start(self) -> None:
        self.query_one("#artifacts", DataTable).clear()
        self.query_one("#device-fit", DataTable).clear()

    def stage_note(self, message: StageNote) -> None:
        self.notify(message.text, severity="warning" if message.level == "warning" else "information")

    def stage_item(self, message: StageItem) -> None:
        payload: dict[str, Any] = message.payload
        if message.kind in ("artifact", "gguf", "onnx"):
            size = payload.get("size_bytes") or payload.get("size") or 0
            self.query_one("#artifacts", DataTable).add_row(
                escape(str(payload.get("path", "?"))), str(payload.get("format", message.kind)), human_size(float(size))
            )
        elif message.kind == "parity":
            self.show_parity(payload)
        elif message.kind in ("device_fit", "device-fit"):
            self.show_device_fit(payload.get("rows", [payload]))

    def show_parity(self, report: dict[str, Any]) -> None:
        lines = [f"{k}: {v}" for k, v in report.items() if not isinstance(v, list | dict)]
        self.query_one("#parity", Static).update("[b]parity[/]  " + escape("  ".join(lines)))

    def show_device_fit(self, rows: list[dict[str, Any]]) -> None:
        table = self.query_one("#device-fit", DataTable)
        for row in rows:
            fits = row.get("fits")
            table.add_row(
                str(row.get("device", "?")),
                "[green]yes[/]" if fits else "[red]no[/]" if fits is False else "?",
                escape(str(row.get("detail", ""))),
            )

    def stage_finished(self, message: StageFinished) -> None:
        if not self.query_one("#artifacts", DataTable).row_count:
            self.show_existing()
