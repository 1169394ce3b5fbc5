"""The tokenizer kept as its files while training: what a run saves is what the tokenizer itself saves."""

from __future__ import annotations

from pathlib import Path

from edgefabric.pipeline.train import RunLayout, train
from edgefabric.pipeline.train.saved_tokenizer import SavedTokenizer
from edgefabric.pipeline.train.tokens import add_special_tokens
from edgefabric.runtime.formats.registry import get_format
from edgefabric.runtime.formats.templates import chat_template
from tests.train.conftest import dataset, project, write_data


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name.startswith(("tokenizer", "special", "chat"))}


def test_the_stand_in_writes_the_tokenizers_own_files(tiny_gemma: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_gemma)
    add_special_tokens(tokenizer, get_format("functiongemma").special_tokens)
    tokenizer.chat_template = chat_template("functiongemma")
    saved = SavedTokenizer.of(tokenizer)
    assert len(saved) == len(tokenizer) and saved.pad_token_id == tokenizer.pad_token_id

    tokenizer.save_pretrained(tmp_path / "real")
    written = saved.save_pretrained(tmp_path / "stand-in" / "nested")
    assert sorted(Path(p).name for p in written) == sorted(p.name for p in (tmp_path / "real").iterdir())
    for path in (tmp_path / "real").iterdir():
        assert (tmp_path / "stand-in" / "nested" / path.name).read_bytes() == path.read_bytes(), path.name


def test_a_runs_checkpoints_and_adapter_carry_the_trained_tokenizer(tiny_gemma: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    data = write_data(tmp_path / "data", dataset(8))
    train(project(tiny_gemma, max_steps=2, save_every=1), data, tmp_path / "run")
    layout = RunLayout(tmp_path / "run")
    fmt = get_format("functiongemma")
    for folder in (layout.checkpoints / "checkpoint-1", layout.checkpoints / "checkpoint-2", layout.adapter):
        loaded = AutoTokenizer.from_pretrained(folder)
        ids = loaded.convert_tokens_to_ids(list(fmt.special_tokens))
        assert all(i >= 0 and i != loaded.unk_token_id for i in ids), folder
        assert loaded.chat_template == chat_template("functiongemma"), folder
    assert _files(layout.checkpoints / "checkpoint-2") == _files(layout.adapter)
