"""The bundle folder: exports plus manifest, model card, Ollama Modelfile and device-fit table.

RAM estimates are weights (the file sizes) + KV cache + a fixed runtime overhead. The KV
cache comes from the config: 2 (K and V) x layers x KV heads x head_dim x context x
bytes per value. llama.cpp keeps f16 KV and caps Gemma 3's sliding-window layers at the
window; onnxruntime-genai on CPU keeps fp32 KV for the full max_length on every layer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgefabric import __version__
from edgefabric.export.files import sha256
from edgefabric.export.source import SourceModel
from edgefabric.runtime.formats.registry import get_format

# A bundle's JSON files: what each export is (written last, so it marks a finished bundle), how close each
# export is to the source model, and which devices it fits.
MANIFEST_FILE = "manifest.json"
PARITY_FILE = "parity.json"
DEVICE_FIT_FILE = "device_fit.json"

CONTEXTS = (2048, 4096, 8192)
RUNTIME_OVERHEAD_BYTES = 300 * 1024**2  # compute buffers, runtime, tokenizer: measured 250-350 MB for the 270M


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    ram_gb: float
    usable_gb: float  # what an app can expect to get after the OS and other apps


DEVICES = (
    DeviceProfile("phone 6 GB", 6, 2.5),
    DeviceProfile("phone 8 GB", 8, 3.5),
    DeviceProfile("Raspberry Pi 5 8 GB", 8, 6.0),
    DeviceProfile("laptop 16 GB", 16, 10.0),
)


def kv_cache_bytes(config: dict[str, Any], context: int, *, bytes_per_value: int, sliding: bool) -> int:
    text = dict(config.get("text_config") or config)
    layers = int(text["num_hidden_layers"])
    heads = int(text.get("num_key_value_heads") or text["num_attention_heads"])
    head_dim = int(text.get("head_dim") or text["hidden_size"] // text["num_attention_heads"])
    layer_types = text.get("layer_types") or ["full_attention"] * layers
    window = text.get("sliding_window") or context
    total = 0
    for kind in layer_types[:layers]:
        tokens = min(context, window) if (sliding and kind == "sliding_attention") else context
        total += 2 * heads * head_dim * tokens * bytes_per_value
    return total


def estimate_ram(weights_bytes: int, config: dict[str, Any], context: int, runtime: str) -> int:
    if runtime == "gguf":
        kv = kv_cache_bytes(config, context, bytes_per_value=2, sliding=True)
    else:
        kv = kv_cache_bytes(config, context, bytes_per_value=4, sliding=False)
    return weights_bytes + kv + RUNTIME_OVERHEAD_BYTES


def device_fit(entries: list[dict[str, Any]], config: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for entry in entries:
        for context in CONTEXTS:
            ram = estimate_ram(entry["weights_bytes"], config, context, entry["format"])
            rows.append(
                {
                    "format": entry["format"],
                    "quant": entry["quant"],
                    "context": context,
                    "ram_mb": round(ram / 1024**2),
                    "size_mb": round(entry["weights_bytes"] / 1e6, 1),
                    # Speed and parity beside size, so the user can pick (None: no parity check ran).
                    "tokens_per_s": entry.get("tokens_per_s"),
                    "parity": entry.get("parity"),
                    "fits": {d.name: ram <= d.usable_gb * 1024**3 for d in DEVICES},
                }
            )
    return rows


def _fit_table(rows: list[dict[str, Any]]) -> str:
    header = "| format | quant | context | est. RAM | " + " | ".join(d.name for d in DEVICES) + " |"
    lines = [header, "|" + "---|" * (4 + len(DEVICES))]
    for row in rows:
        marks = " | ".join("yes" if row["fits"][d.name] else "no" for d in DEVICES)
        lines.append(f"| {row['format']} | {row['quant']} | {row['context']} | {row['ram_mb']} MB | {marks} |")
    budgets = ", ".join(f"{d.name}: {d.usable_gb:g} GB usable" for d in DEVICES)
    return "\n".join(lines) + f"\n\nBudgets assumed: {budgets}.\n"


def modelfile(gguf_name: str, family: str) -> str:
    """An Ollama Modelfile for `gguf_name`: the format unit's Go template (Ollama's TEMPLATE is Go
    text/template, not Jinja) and its stop sequences. EdgeFabricError for an unknown family."""
    fmt = get_format(family)
    stops = "\n".join(f'PARAMETER stop "{s}"' for s in fmt.stop_sequences)
    return (
        f"# Ollama Modelfile written by EdgeFabric {__version__}: ollama create NAME -f Modelfile\n"
        f"FROM ./{gguf_name}\n"
        f'TEMPLATE """{fmt.ollama_template()}"""\n'
        f"{stops}\n"
        "PARAMETER temperature 0\n"
        "PARAMETER top_k 1\n"
        "PARAMETER num_ctx 4096\n"
    )


def _files(bundle: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        if path.name == MANIFEST_FILE:
            continue
        out.append({"path": str(path.relative_to(bundle)), "bytes": path.stat().st_size, "sha256": sha256(path)})
    return out


def read_bundle_file(bundle: Path, name: str) -> Any:
    """The JSON file `name` of `bundle` (MANIFEST_FILE, PARITY_FILE or DEVICE_FIT_FILE) as written, or None
    when it is missing or unreadable: a bundle still being written has no manifest yet."""
    try:
        return json.loads((bundle / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def bundle_exports(bundle: Path) -> list[dict[str, Any]]:
    """The exports `bundle`'s manifest lists (path, format, quant, sizes, parity), [] without a readable one."""
    manifest = read_bundle_file(bundle, MANIFEST_FILE)
    return list(manifest.get("exports") or []) if isinstance(manifest, dict) else []


def write_bundle_metadata(
    bundle: Path,
    source: SourceModel,
    *,
    source_spec: str,
    training_run: str | None,
    exports: list[dict[str, Any]],
    parity: dict[str, Any] | None,
) -> dict[str, Any]:
    """Write device_fit.json, README.md (model card) and manifest.json (last: it lists the others)."""
    fit = device_fit(exports, source.config)
    (bundle / DEVICE_FIT_FILE).write_text(json.dumps(fit, indent=2), encoding="utf-8")
    (bundle / "README.md").write_text(
        _model_card(source, source_spec, training_run, exports, parity, fit), encoding="utf-8"
    )
    manifest = {
        "edgefabric_version": __version__,
        "created_at": datetime.now(UTC).isoformat(),
        "source_model": source_spec,
        "source_folder": str(source.folder),
        "architecture": source.architecture,
        "format": source.family,
        "training_run": training_run,
        "parameters": source.parameter_count(),
        "exports": exports,
        "parity": parity["summary"] if parity else None,
        "files": _files(bundle),
    }
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def _model_card(
    source: SourceModel,
    spec: str,
    run: str | None,
    exports: list[dict[str, Any]],
    parity: dict[str, Any] | None,
    fit: list[dict[str, Any]],
) -> str:
    lines = [
        f"# {source.folder.name} (exported by EdgeFabric {__version__})",
        "",
        f"- Source model: `{spec}` ({source.architecture}, {source.parameter_count() / 1e6:.1f}M parameters)",
        f"- Training run: `{run}`" if run else "- Training run: none (exported as is)",
        f"- Chat format: `{source.family}` (the GGUFs embed a Jinja chat template that renders tools, calls and "
        "results exactly like EdgeFabric's runtime)",
        "",
        "## Files",
        "",
        "| file | format | quant | size |",
        "|---|---|---|---|",
    ]
    for entry in exports:
        lines.append(
            f"| `{entry['path']}` | {entry['format']} | {entry['quant']} | {entry['weights_bytes'] / 1e6:.1f} MB |"
        )
    lines += ["", "## Using it", ""]
    lines += list(get_format(source.family).usage_notes)
    lines += [
        "- Ollama: `ollama create my-model -f Modelfile` (Go template with the same turn layout and stop tokens).",
        "- Chat-template inputs: OpenAI messages as clients send them (arguments as JSON strings or objects, "
        "results as strings, content as parts, tool messages with or without `name`).",
        "- ONNX folders load with `onnxruntime_genai.Model(folder)`; use max_length >= 512 for Gemma 3 "
        "(its sliding window).",
        "",
    ]
    if parity:
        lines += [
            "## Parity with the source model (teacher-forced, fixed probe set)",
            "",
            "Size, speed and parity side by side; an export that breaks its type's bounds is FAILED and its "
            'file name says so. Bounds: README of EdgeFabric, "Parity thresholds".',
            "",
            "| export | size | tokens/s | top-1 | mean KL | p99 KL | ppl ratio | tool calls | verdict |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        sizes = {f"{e['format']} {e['quant']}": e["weights_bytes"] for e in exports}
        for row in parity["summary"]:
            verdict = "passed" if row["passed"] else "**FAILED**: " + "; ".join(row["failures"])
            lines.append(
                f"| {row['target']} | {sizes.get(row['target'], 0) / 1e6:.1f} MB | {row['tokens_per_s']:.1f} | "
                f"{row['top1_agreement']:.1%} | {row['mean_kl']:.4f} | {row['p99_kl']:.3f} | "
                f"{row['ppl_ratio']:.3f} | {row['tool_call_agreement']:.0%} | {verdict} |"
            )
        lines.append("")
    lines += ["## Device fit (estimated RAM: weights + KV cache + 300 MB runtime)", "", _fit_table(fit)]
    return "\n".join(lines)
