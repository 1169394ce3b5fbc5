"""A tokenizer held as its saved files while a CPU run trains.

Gemma 3's tokenizer (a 262k vocabulary, its merges) takes ~290 MB of resident memory in
the Rust `tokenizers` object; a transformers tokenizer around it ~330 MB. Once the data is
encoded, a training run needs it only to write it next to each checkpoint and the adapter
(`save_pretrained`): the batches are token ids already, and the collator keeps the pad id.
Its saved files are ~35 MB. With the object swapped for its files (and heap handed back
between samples) the 3 steps of the demo's longest samples peaked at 2,284 MiB instead of
2,487 (README, "Memory on CPU"). No library offers this swap; it is a few lines, so it is
written here.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SavedTokenizer:
    """A tokenizer's `save_pretrained` output, in memory: file name -> bytes.

    Stands in for the tokenizer where only saving it is needed (the trainer's
    `processing_class` during training). `len()` is the tokenizer's vocabulary size
    with added tokens, as `len(tokenizer)` gives it.
    """

    files: dict[str, bytes]
    vocab_size: int
    pad_token_id: int | None

    @classmethod
    def of(cls, tokenizer: Any) -> SavedTokenizer:
        """Save `tokenizer` (a transformers tokenizer) once and keep its files."""
        with tempfile.TemporaryDirectory() as tmp:
            tokenizer.save_pretrained(tmp)
            files = {path.name: path.read_bytes() for path in sorted(Path(tmp).iterdir()) if path.is_file()}
        return cls(files=files, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)

    def save_pretrained(self, save_directory: str | Path, **_: Any) -> tuple[str, ...]:
        """Write the files into `save_directory` (created if missing); returns their paths, as transformers does."""
        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (folder / name).write_bytes(data)
        return tuple(str(folder / name) for name in self.files)

    def __len__(self) -> int:
        return self.vocab_size


def keep_only_files(trainer: Any, tokenizer: Any) -> SavedTokenizer:
    """Point `trainer` (a transformers/TRL trainer built with `tokenizer`) at the tokenizer's saved files.

    The model's config is first aligned with the tokenizer's special tokens, which the
    trainer would do at the start of `train()` and skips for a stand-in. After this the
    trainer holds no reference to `tokenizer`; the caller drops its own for the memory
    to be freed. Returns the stand-in, which saves the same files the tokenizer would.
    """
    from transformers.trainer_utils import align_special_tokens

    align_special_tokens(trainer.model, tokenizer)
    saved = SavedTokenizer.of(tokenizer)
    trainer.processing_class = saved
    trainer.callback_handler.processing_class = saved
    if getattr(trainer, "_tokenizer", None) is tokenizer:  # TRL's SFTTrainer keeps its own reference
        trainer._tokenizer = saved
    return saved
