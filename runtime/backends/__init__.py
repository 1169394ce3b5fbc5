"""Inference backends behind one interface (`Backend.generate` streams text pieces).

`load_backend(model)` picks the engine from what the model is: a GGUF file or an
embedded model -> llama.cpp; a folder with genai_config.json -> onnxruntime-genai;
an HF folder (config.json) or a LoRA adapter folder -> transformers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.backends.base import Backend, Generation, GenerationStats, StopScanner
from edgefabric.runtime.formats.registry import FORMATS, family_for_name, get_format
from edgefabric.runtime.models import EMBEDDED, resolve_gguf
from edgefabric.runtime.profiles import DeviceProfile, get_profile

BackendName = Literal["auto", "llama.cpp", "onnxruntime-genai", "transformers"]
BACKENDS: tuple[str, ...] = ("auto", "llama.cpp", "onnxruntime-genai", "transformers")


def detect_backend(model: str) -> str:
    if model in EMBEDDED or model.endswith(".gguf"):
        return "llama.cpp"
    path = Path(model).expanduser()
    if (path / "genai_config.json").exists():
        return "onnxruntime-genai"
    if (path / "config.json").exists() or (path / "adapter_config.json").exists():
        return "transformers"
    raise EdgeFabricError(
        f"cannot tell which engine runs {model!r}",
        "pass a .gguf file, an ONNX folder (genai_config.json), an HF folder (config.json) or one of: "
        + ", ".join(EMBEDDED),
    )


def guess_family(model: str) -> str:
    """The chat format a model speaks: the one its export bundle's manifest.json names, else a guess from
    the name by the registered formats' `name_hints` (registry.family_for_name)."""
    path = Path(model).expanduser()
    for manifest in (path / "manifest.json", path.parent / "manifest.json"):
        try:
            named = json.loads(manifest.read_text(encoding="utf-8")).get("format")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(named, str) and named in FORMATS:
            return get_format(named).name
    return family_for_name(model)


def load_backend(model: str, *, backend: str = "auto", profile: DeviceProfile | str = "laptop") -> Backend:
    """Load `model` with the named engine (or the one its files call for) under a device profile."""
    chosen = detect_backend(model) if backend == "auto" else backend
    prof = get_profile(profile) if isinstance(profile, str) else profile
    if chosen == "llama.cpp":
        from edgefabric.runtime.backends.llamacpp import LlamaCppBackend

        return LlamaCppBackend(resolve_gguf(model), prof)
    if chosen == "onnxruntime-genai":
        from edgefabric.runtime.backends.onnx import OnnxGenaiBackend

        return OnnxGenaiBackend(Path(model).expanduser(), prof)
    if chosen == "transformers":
        from edgefabric.runtime.backends.transformers_backend import TransformersBackend

        path = Path(model).expanduser()
        if not path.is_dir():
            from edgefabric.runtime.models import resolve_hf_folder

            path = resolve_hf_folder(model)
        return TransformersBackend(path, prof)
    raise EdgeFabricError(f"unknown backend {backend!r}", f"use one of: {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS",
    "Backend",
    "Generation",
    "GenerationStats",
    "StopScanner",
    "detect_backend",
    "guess_family",
    "load_backend",
]
