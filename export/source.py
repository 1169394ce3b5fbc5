"""The model being exported: an HF folder checked for what the exporters need.

`prepare_source` builds a staging folder of symlinks to the original files plus the
pieces the converters need and the folder may lack: the chat template in
tokenizer_config.json (so it is embedded in the GGUF) and a SentencePiece
`tokenizer.model` when the folder came from the embedded GGUF, which carries only
tokenizer.json. llama.cpp's converter reads a SentencePiece vocabulary from
tokenizer.model (with its scores, which drive merges in llama.cpp's SPM tokenizer);
without it, it falls back to a GPT-2-style BPE path that only knows tokenizers by the
hash of their pre-tokenizer. The embedded GGUF still holds the original SentencePiece
vocabulary (tokens, scores, types), so it is written back out as tokenizer.model.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.formats.registry import architectures, family_for_architecture, get_format

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
)


@dataclass(frozen=True)
class SourceModel:
    """An HF model folder that an exporter can read."""

    folder: Path
    architecture: str
    family: str
    config: dict[str, Any]

    @property
    def text_config(self) -> dict[str, Any]:
        return dict(self.config.get("text_config") or self.config)

    def parameter_count(self) -> int:
        """Parameters from the safetensors headers (no weights are read)."""
        total = 0
        for path in sorted(self.folder.glob("*.safetensors")):
            with path.open("rb") as handle:
                size = int.from_bytes(handle.read(8), "little")
                header = json.loads(handle.read(size))
            for name, info in header.items():
                if name != "__metadata__":
                    count = 1
                    for dim in info["shape"]:
                        count *= dim
                    total += count
        return total


def inspect_source(folder: Path, family: str | None = None) -> SourceModel:
    """Check architecture, weights and tokenizer before any long work starts.

    The architecture must be one a registered chat format declares (runtime/formats/registry.py); the
    family is `family` (a name or alias, given as its canonical name) or that architecture's format.
    Raises EdgeFabricError naming what is missing or unknown and what would do.
    """
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise EdgeFabricError(
            f"{folder} has no config.json, so it is not an HF model folder",
            "pass a training run folder (with merged/), an HF model folder or embedded:gemma3-270m",
        )
    config = json.loads(config_path.read_text(encoding="utf-8"))
    named = config.get("architectures") or []
    supported = architectures()
    architecture = next((a for a in named if a in supported), None)
    if architecture is None:
        listed = ", ".join(f"{arch} ({fam} fine-tunes)" for arch, fam in supported.items())
        raise EdgeFabricError(
            f"{folder}: architecture {', '.join(named) or '(none given)'} is not supported for export",
            f"export one of: {listed}",
        )
    if not any(folder.glob("*.safetensors")):
        raise EdgeFabricError(
            f"{folder} has no *.safetensors weights",
            "save the model with save_pretrained(safe_serialization=True), or merge the LoRA adapter first",
        )
    if not (folder / "tokenizer.json").is_file() and not (folder / "tokenizer.model").is_file():
        raise EdgeFabricError(
            f"{folder} has no tokenizer (neither tokenizer.json nor tokenizer.model)",
            "save the tokenizer next to the model: tokenizer.save_pretrained(folder)",
        )
    chosen = get_format(family).name if family else family_for_architecture(architecture)
    return SourceModel(folder=folder, architecture=architecture, family=chosen, config=config)


def _embedded_vocabulary() -> tuple[list[str], list[float], list[int]] | None:
    """Tokens, scores and types of the embedded Gemma GGUF, if it is installed."""
    from edgefabric.runtime.models import EMBEDDED_GEMMA, resolve_gguf

    try:
        path = resolve_gguf(EMBEDDED_GEMMA)
    except EdgeFabricError:
        return None
    from gguf import GGUFReader

    reader = GGUFReader(path)

    def values(key: str) -> list[Any]:
        field = reader.fields[key]
        return [field.contents(i) for i in range(len(field.data))]

    return values("tokenizer.ggml.tokens"), values("tokenizer.ggml.scores"), values("tokenizer.ggml.token_type")


def _write_sentencepiece(
    tokens: list[str], scores: list[float], types: list[int], tokenizer: dict[str, Any], out: Path
) -> None:
    from sentencepiece import sentencepiece_model_pb2 as model_pb2

    proto = model_pb2.ModelProto()
    proto.trainer_spec.model_type = model_pb2.TrainerSpec.BPE
    proto.trainer_spec.vocab_size = len(tokens)
    proto.trainer_spec.byte_fallback = True
    proto.normalizer_spec.name = "identity"
    proto.normalizer_spec.add_dummy_prefix = False
    proto.normalizer_spec.remove_extra_whitespaces = False
    proto.normalizer_spec.escape_whitespaces = True
    by_content = {t["content"]: t["id"] for t in tokenizer.get("added_tokens", [])}
    for role, field in (("<unk>", "unk_id"), ("<bos>", "bos_id"), ("<eos>", "eos_id"), ("<pad>", "pad_id")):
        setattr(proto.trainer_spec, field, by_content.get(role, -1))
    for token, score, kind in zip(tokens, scores, types, strict=True):
        piece = proto.pieces.add()
        piece.piece = token
        piece.score = float(score)
        piece.type = int(kind)  # GGUF token types use SentencePiece's numbering (1 normal ... 6 byte)
    out.write_bytes(proto.SerializeToString())


def _sentencepiece_for(folder: Path, out: Path) -> dict[str, dict[str, Any]]:
    """Write tokenizer.model for a tokenizer.json-only folder whose vocabulary is the embedded Gemma one.

    Returns the `added_tokens_decoder` entries the converter needs to restore token types
    that a SentencePiece file cannot carry through it (user-defined and added tokens).
    """
    tokenizer_path = folder / "tokenizer.json"
    if (folder / "tokenizer.model").is_file() or not tokenizer_path.is_file():
        return {}
    tokenizer = json.loads(tokenizer_path.read_text(encoding="utf-8"))
    vocab: dict[str, int] = dict(tokenizer.get("model", {}).get("vocab") or {})
    if len(vocab) < 200_000:  # only Gemma's 262k vocabulary can match; skip reading the GGUF
        return {}
    embedded = _embedded_vocabulary()
    if embedded is None:
        return {}
    tokens, scores, types = embedded
    added = {t["id"]: t for t in tokenizer.get("added_tokens", [])}
    by_id = {i: t for t, i in vocab.items()} | {i: t["content"] for i, t in added.items()}
    # tokenizer.json spells spaces as "\u2581" where the SentencePiece vocabulary has user-defined runs of spaces.
    if any(by_id.get(i) != token and by_id.get(i) != token.replace(" ", "\u2581") for i, token in enumerate(tokens)):
        return {}
    # Tokens added after the base vocabulary (e.g. FunctionGemma's control tokens) keep their ids.
    extra_ids = sorted(i for i in by_id if i >= len(tokens))
    decoder = {
        str(i): {"content": token, "special": False}
        for i, (token, kind) in enumerate(zip(tokens, types, strict=True))
        if kind == 4
    }
    for i in extra_ids:
        decoder[str(i)] = {"content": by_id[i], "special": bool(added.get(i, {}).get("special", True))}
    tokens = tokens + [by_id[i] for i in extra_ids]
    scores = scores + [0.0] * len(extra_ids)
    types = types + [4] * len(extra_ids)
    _write_sentencepiece(tokens, scores, types, tokenizer, out)
    return decoder


def prepare_source(source: SourceModel, staging: Path, chat_template: str) -> Path:
    """A folder the converters read: links to the model plus chat template and tokenizer.model."""
    staging.mkdir(parents=True, exist_ok=True)
    for entry in source.folder.iterdir():
        if entry.name in ("tokenizer_config.json", "chat_template.jinja", "chat_template.json"):
            continue
        link = staging / entry.name
        if not link.exists():
            os.symlink(entry.resolve(), link)
    config_path = source.folder / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    tokenizer_config["chat_template"] = chat_template
    restored = _sentencepiece_for(source.folder, staging / "tokenizer.model")
    if restored:
        tokenizer_config["added_tokens_decoder"] = restored | dict(tokenizer_config.get("added_tokens_decoder") or {})
    (staging / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2, ensure_ascii=False))
    return staging
