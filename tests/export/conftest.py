"""Tiny random models of the real architectures with a tiny SentencePiece tokenizer.

The Gemma 3 one is overfitted (a few seconds) to answer the parity probe
"What's the weather in Paris right now?" with a FunctionGemma call, so the parity
check compares real tool calls, not two empty lists.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest

from edgefabric.runtime.formats import functiongemma, qwen3
from edgefabric.runtime.formats.registry import get_format
from tests.export.conversations import CONVERSATIONS

SPECIALS = [
    "<start_of_turn>",
    "<end_of_turn>",
    *functiongemma.special_tokens,
    "<|im_start|>",
    "<|im_end|>",
    "<tool_call>",
    "</tool_call>",
    "<think>",
    "</think>",
    "<|endoftext|>",
]


def _corpus() -> list[str]:
    from edgefabric.export.probes import call_probes

    lines = []
    for family in ("functiongemma", "qwen3"):
        fmt = get_format(family)
        for messages, tools in CONVERSATIONS.values():
            lines.append(fmt.render(messages, tools))
        lines += [probe.prompt for probe in call_probes(family)]
    lines += ["The sea is wide and blue, and the weather in Paris is mild."] * 3
    return lines


CACHE_VERSION = "export-tiny-v3"  # bump when the fixtures below change


def _cached(model_cache: Path, name: str, build: Any) -> Path:
    """Build once into the shared test-model cache (under a lock), reuse afterwards."""
    from filelock import FileLock

    target = model_cache / CACHE_VERSION / name
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / "tokenizer.json").is_file():
            partial = target.with_name(name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            build(partial)
            shutil.rmtree(target, ignore_errors=True)
            partial.replace(target)
    return target


@pytest.fixture(scope="session")
def tiny_tokenizer(model_cache: Path) -> Path:
    return _cached(model_cache, "tokenizer", _build_tokenizer)


def _build_tokenizer(folder: Path) -> None:
    """tokenizer.model + tokenizer.json (GemmaTokenizer) trained on rendered conversations."""
    import sentencepiece as spm
    from transformers import GemmaTokenizer

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_corpus()),
        model_writer=model,
        vocab_size=600,
        model_type="bpe",
        byte_fallback=True,
        pad_id=0,
        eos_id=1,
        bos_id=2,
        unk_id=3,
        pad_piece="<pad>",
        eos_piece="<eos>",
        bos_piece="<bos>",
        unk_piece="<unk>",
        user_defined_symbols=SPECIALS,
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        split_digits=True,
        max_sentence_length=100000,
        minloglevel=2,
    )
    (folder / "tokenizer.model").write_bytes(model.getvalue())
    # from_pretrained converts tokenizer.model to a tokenizers backend (the vocab_file= constructor does not).
    GemmaTokenizer.from_pretrained(folder).save_pretrained(folder)


def _save(model: object, tokenizer_dir: Path, folder: Path) -> None:
    model.save_pretrained(folder)  # type: ignore[attr-defined]
    for name in ("tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (tokenizer_dir / name).exists():
            shutil.copyfile(tokenizer_dir / name, folder / name)


def _overfit(model: object, tokenizer_dir: Path, texts: list[str], steps: int = 160) -> None:
    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(2)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    batch = [torch.tensor([tokenizer.encode(t, add_special_tokens=False)]) for t in texts]
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)  # type: ignore[attr-defined]
    model.train()  # type: ignore[attr-defined]
    for step in range(steps):
        ids = batch[step % len(batch)]
        loss = model(input_ids=ids, labels=ids).loss  # type: ignore[operator]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def tiny_gemma(tiny_tokenizer: Path, model_cache: Path) -> Path:
    return _cached(model_cache, "gemma3", lambda folder: _build_gemma(tiny_tokenizer, folder))


@pytest.fixture(scope="session")
def tiny_qwen(tiny_tokenizer: Path, model_cache: Path) -> Path:
    return _cached(model_cache, "qwen3", lambda folder: _build_qwen(tiny_tokenizer, folder))


def _build_gemma(tiny_tokenizer: Path, folder: Path) -> None:
    """A 2-layer Gemma3ForCausalLM that calls get_weather(city=Paris) for the weather probe."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    from edgefabric.export.probes import call_probes
    from edgefabric.schemas import Message, ToolCall

    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=600,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        query_pre_attn_scalar=32,  # llama.cpp scales queries by 1/sqrt(head_dim) and ignores this
        sliding_window=512,
        # llama.cpp fixes Gemma 3's pattern (every 6th layer global), so 2 layers are both sliding there.
        layer_types=["sliding_attention", "sliding_attention"],
        max_position_embeddings=2048,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    model = Gemma3ForCausalLM(config)
    probes = {p.name: p for p in call_probes("functiongemma")}
    call = functiongemma.render_assistant(
        Message(role="assistant", tool_calls=[ToolCall(name="get_weather", arguments={"city": "Paris"})])
    )
    _overfit(model, tiny_tokenizer, [probes["tool_weather"].prompt + call + functiongemma.RESPONSE_START])
    _save(model, tiny_tokenizer, folder)


def _build_qwen(tiny_tokenizer: Path, folder: Path) -> None:
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from edgefabric.export.probes import call_probes
    from edgefabric.schemas import Message, ToolCall

    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=600,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    model = Qwen3ForCausalLM(config)
    probes = {p.name: p for p in call_probes("qwen3")}
    call = qwen3.render_assistant(
        Message(role="assistant", tool_calls=[ToolCall(name="get_weather", arguments={"city": "Paris"})])
    )
    _overfit(model, tiny_tokenizer, [probes["tool_weather"].prompt + call + qwen3.IM_END])
    _save(model, tiny_tokenizer, folder)
