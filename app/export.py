"""One export as every front end asks for it: `ExportRequest`, its runner and its CLI form.

`edgefabric export`, the TUI's Export screen and the demo journey build a request and call
`run_export`. The CLI's `--eval` (accuracy beside parity) and `--allow-degraded` (exit status)
act after the export and stay the CLI's.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from edgefabric.app.command import at, quoted_path
from edgefabric.config import OnnxQuantization
from edgefabric.events import EventSink, ignore_events

if TYPE_CHECKING:
    from edgefabric.export.run import ExportResult


def quantization_text(quantization: OnnxQuantization) -> str:
    """The `--onnx-quant` value for `quantization`: KEY=VALUE pairs, comma-separated (booleans as true/false)."""
    pairs = []
    for key, value in quantization.model_dump().items():
        pairs.append(f"{key}={str(value).lower() if isinstance(value, bool) else value}")
    return ",".join(pairs)


@dataclass(frozen=True)
class ExportRequest:
    """Export `source` (a training run folder, an HF folder or embedded:NAME) into one bundle folder.

    - `gguf`: GGUF types; `onnx`: ONNX precisions (either may be empty, not both).
    - `out`: the bundle folder, None for the default (RUN/export, or exports/NAME in the data folder).
    - `family`: the chat format, None for the one the architecture implies.
    - `parity` / `probe_tokens`: the parity check against the HF model and its greedy tokens per probe.
    - `onnx_quantization`: int4/int8 ONNX weight quantization, None for the defaults.
    The field defaults are the CLI's option defaults.
    """

    source: str
    gguf: tuple[str, ...] = ("q5_k_m",)
    onnx: tuple[str, ...] = ("int8",)
    out: Path | None = None
    family: str | None = None
    parity: bool = True
    probe_tokens: int = 24
    onnx_quantization: OnnxQuantization | None = None

    def command(self, cwd: Path | None = None) -> str:
        """The `edgefabric export ...` line for this request (defaults left out; paths under `cwd` relative)."""
        parts = ["edgefabric", "export", quoted_path(self.source, cwd)]
        if self.gguf != ExportRequest.gguf:
            parts.append(f"--gguf {shlex.quote(','.join(self.gguf))}")
        if self.onnx != ExportRequest.onnx:
            parts.append(f"--onnx {shlex.quote(','.join(self.onnx))}")
        if self.out is not None:
            parts.append(f"--out {quoted_path(self.out, cwd)}")
        if self.family is not None:
            parts.append(f"--format {shlex.quote(self.family)}")
        if not self.parity:
            parts.append("--no-parity")
        if self.probe_tokens != ExportRequest.probe_tokens:
            parts.append(f"--probe-tokens {self.probe_tokens}")
        if self.onnx_quantization is not None:
            parts.append(f"--onnx-quant {shlex.quote(quantization_text(self.onnx_quantization))}")
        return " ".join(parts)

    def under(self, root: Path) -> ExportRequest:
        """The request with relative paths taken as relative to `root` (where its command runs)."""
        source = self.source
        if ":" not in source.split("/", 1)[0] and not Path(source).is_absolute() and (root / source).exists():
            source = str(root / source)  # a folder, not embedded:NAME or a hub id
        return replace(self, source=source, out=at(self.out, root) if self.out is not None else None)


def run_export(request: ExportRequest, *, on_event: EventSink = ignore_events) -> ExportResult:
    """Run `request`: convert, quantize, check parity and write the bundle (manifest last).

    Events: export's StageStarted, PhaseStarted per conversion, ArtifactWritten per GGUF/ONNX,
    Progress, parity Notes, StageDone. Returns the result; exports that failed parity are kept,
    named -FAILED, and listed in `failed`. Raises EdgeFabricError for bad types, a bad source or
    a failed conversion.
    """
    from edgefabric.export.run import export_model

    return export_model(
        request.source,
        gguf=list(request.gguf),
        onnx=list(request.onnx),
        out=request.out,
        family=request.family,
        parity=request.parity,
        probe_tokens=request.probe_tokens,
        onnx_quantization=request.onnx_quantization,
        on_event=on_event,
    )
