"""Tiny models of the real architectures, with tiny SentencePiece tokenizers trained here.

A 262k-token vocabulary dominates CPU cost (3.5 s/step even for a tiny model); with
a few hundred tokens a step takes ~0.02 s, so real training runs fit in fast tests.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from edgefabric.config import ProjectConfig
from edgefabric.dataset import append_samples
from edgefabric.runtime.formats import functiongemma, qwen3
from edgefabric.schemas import Message, Sample, ToolCall, ToolSpec

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
        "required": ["city"],
    },
)
ADD = ToolSpec(
    name="add",
    description="Add two numbers",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    },
)
CITIES = ["Paris", "Oslo", "Lima", "Rome", "Tokyo", "Cairo", "Quito", "Perth"]


def weather_sample(i: int) -> Sample:
    city = CITIES[i % len(CITIES)]
    temp = 10 + i % 17
    return Sample(
        id=f"weather-{i}",
        messages=[
            Message(role="user", content=f"What is the weather in {city}?"),
            Message(role="assistant", tool_calls=[ToolCall(name="get_weather", arguments={"city": city})]),
            Message(role="tool", name="get_weather", content=json.dumps({"temp_c": temp, "sky": "clear"})),
            Message(role="assistant", content=f"It is {temp} degrees and clear in {city}."),
        ],
        tools=[WEATHER, ADD],
    )


def add_sample(i: int) -> Sample:
    a, b = i % 9 + 1, (i * 7) % 11 + 2
    return Sample(
        id=f"add-{i}",
        messages=[
            Message(role="system", content="You are a careful calculator."),
            Message(role="user", content=f"Add {a} and {b}."),
            Message(role="assistant", tool_calls=[ToolCall(name="add", arguments={"a": a, "b": b})]),
            Message(role="tool", name="add", content=str(a + b)),
            Message(role="assistant", content=f"{a} + {b} = {a + b}."),
        ],
        tools=[ADD],
    )


def chat_sample(i: int) -> Sample:
    return Sample(
        id=f"chat-{i}",
        messages=[
            Message(role="user", content="Hello there!"),
            Message(role="assistant", content="Hello! Ask me about weather or sums."),
        ],
        tools=[WEATHER],
    )


def dataset(n: int) -> list[Sample]:
    makers = (weather_sample, add_sample, weather_sample, chat_sample)
    return [makers[i % len(makers)](i) for i in range(n)]


def write_data(folder: Path, train: list[Sample], val: list[Sample] | None = None) -> Path:
    append_samples(folder / "train.jsonl", train)
    if val is not None:
        append_samples(folder / "val.jsonl", val)
    return folder


def _corpus() -> list[str]:
    samples = dataset(16)
    texts = []
    for fmt in (functiongemma, qwen3):
        texts += [fmt.render(s.messages, s.tools) for s in samples]
    return texts * 4


def train_sentencepiece(folder: Path, symbols: list[str], *, bos: str, eos: str, pad: str) -> Path:
    import sentencepiece as spm

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_corpus()),
        model_writer=buffer,
        vocab_size=600,
        model_type="bpe",
        user_defined_symbols=symbols,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=3,
        unk_piece="<unk>",
        bos_piece=bos,
        eos_piece=eos,
        pad_piece=pad,
        add_dummy_prefix=False,  # as Gemma's tokenizer: no space glued to the start of a text
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        byte_fallback=True,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.model").write_bytes(buffer.getvalue())
    config = {"tokenizer_class": "GemmaTokenizer", "bos_token": bos, "eos_token": eos, "pad_token": pad}
    config["unk_token"] = "<unk>"
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def _save_model(folder: Path, model: Any) -> Path:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model.config.vocab_size = model.get_input_embeddings().weight.shape[0]
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def make_tiny_gemma(folder: Path, hidden: int = 64, layers: int = 2) -> Path:
    """A random Gemma3ForCausalLM whose tokenizer has Gemma turns but no FunctionGemma tokens (like the base)."""
    import torch
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig

    train_sentencepiece(folder, ["<start_of_turn>", "<end_of_turn>"], bos="<bos>", eos="<eos>", pad="<pad>")
    vocab = len(AutoTokenizer.from_pretrained(folder))
    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        query_pre_attn_scalar=32,  # as exported: llama.cpp scales queries by 1/sqrt(head_dim)
        sliding_window=1024,  # the whole context: both layers see every token, as full attention would
        # Gemma 3's own pattern (every 6th layer global), the one llama.cpp assumes, so a run exports.
        layer_types=["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(layers)],
        max_position_embeddings=1024,
        pad_token_id=3,
        bos_token_id=1,
        eos_token_id=2,
    )
    return _save_model(folder, Gemma3ForCausalLM(config))


def make_tiny_qwen(folder: Path) -> Path:
    """A random Qwen3ForCausalLM with ChatML and tool-call markers as single tokens."""
    import torch
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    train_sentencepiece(
        folder,
        ["<|im_start|>", "<tool_call>", "</tool_call>", "<think>", "</think>", "<tool_response>", "</tool_response>"],
        bos="<|bos|>",
        eos="<|im_end|>",
        pad="<|endoftext|>",
    )
    vocab = len(AutoTokenizer.from_pretrained(folder))
    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        pad_token_id=3,
        eos_token_id=2,
    )
    return _save_model(folder, Qwen3ForCausalLM(config))


@pytest.fixture(scope="session")
def tiny_gemma(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_gemma(tmp_path_factory.mktemp("tiny-gemma"))


@pytest.fixture(scope="session")
def tiny_qwen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_qwen(tmp_path_factory.mktemp("tiny-qwen"))


def project(base: Path, family: str = "functiongemma", **training: Any) -> ProjectConfig:
    settings: dict[str, Any] = {"learning_rate": 5e-3, "batch_size": 4, "merge": False, "warmup_ratio": 0.0}
    settings.update(training)
    return ProjectConfig.model_validate(
        {"name": "tiny", "model": {"family": family, "base": str(base)}, "training": settings}
    )
