"""The tensor-by-tensor merge writes what PEFT's in-memory merge writes; the streaming writer keeps the format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgefabric.config import LoraConfig
from edgefabric.pipeline.train import merge
from edgefabric.pipeline.train.backends import TrlBackend
from edgefabric.pipeline.train.safetensors_stream import StreamingSafetensorsWriter, spec_of
from edgefabric.runtime.formats.registry import get_format


def _trained_adapter(base: Path, family: str, out: Path, *, rslora: bool = False) -> int:
    """An adapter saved by the training backend, its LoRA B and new token rows set to random values
    (as after training; fresh LoRA B is zero, which would make every merge equal). Returns len(tokenizer)."""
    import torch

    backend = TrlBackend("fp32")
    model, tokenizer = backend.load(base, 512)
    new_ids = backend.add_tokens(model, tokenizer, get_format(family).special_tokens)
    lora = LoraConfig(r=4, alpha=8, dropout=0.0, target_modules=["q_proj", "v_proj", "o_proj"])
    peft_model = backend.add_lora(model, lora, new_ids, seed=0, checkpointing=False)
    if rslora:
        peft_model.peft_config["default"].use_rslora = True
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name or "trainable_tokens_delta" in name:
                param.copy_(torch.randn(param.shape, generator=generator))
    peft_model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return len(tokenizer)


def _tensors(folder: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return dict(load_file(folder / "model.safetensors"))


@pytest.mark.parametrize(("fixture", "family"), [("tiny_gemma", "functiongemma"), ("tiny_qwen", "qwen3")])
def test_streamed_merge_equals_peft_merge(
    fixture: str, family: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    base: Path = request.getfixturevalue(fixture)
    vocab = _trained_adapter(base, family, tmp_path / "adapter")
    # Chunks smaller than the tiny vocabulary, so the embedding goes through in several, with new rows in the last.
    monkeypatch.setattr(merge, "ROWS_PER_CHUNK", 100)
    (tmp_path / "streamed").mkdir()
    assert merge.merge_adapter(tmp_path / "adapter", base, tmp_path / "streamed", vocab) is None
    (tmp_path / "peft").mkdir()
    merge.merge_with_peft(tmp_path / "adapter", base, tmp_path / "peft")

    streamed, reference = _tensors(tmp_path / "streamed"), _tensors(tmp_path / "peft")
    assert streamed.keys() == reference.keys()
    for name, tensor in reference.items():
        torch.testing.assert_close(streamed[name], tensor, rtol=0, atol=1e-6, msg=name)
    q_proj = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(streamed[q_proj], load_file(base / "model.safetensors")[q_proj])  # not a merge of nothing
    if family == "functiongemma":
        assert streamed["model.embed_tokens.weight"].shape[0] == vocab > _base_rows(base)
    configs = [json.loads((tmp_path / side / "config.json").read_text()) for side in ("streamed", "peft")]
    assert configs[0]["vocab_size"] == configs[1]["vocab_size"] == max(vocab, _base_rows(base))
    assert {p.name for p in (tmp_path / "peft").iterdir()} <= {p.name for p in (tmp_path / "streamed").iterdir()}

    ids = torch.tensor([[1, 5, 9, vocab - 1, 7]])
    with torch.no_grad():
        logits = [
            AutoModelForCausalLM.from_pretrained(tmp_path / s)(input_ids=ids).logits for s in ("streamed", "peft")
        ]
    torch.testing.assert_close(logits[0], logits[1], rtol=0, atol=1e-5)


def _base_rows(base: Path) -> int:
    return int(json.loads((base / "config.json").read_text())["vocab_size"])


def test_rslora_scaling_matches_peft(tiny_gemma: Path, tmp_path: Path) -> None:
    import torch

    vocab = _trained_adapter(tiny_gemma, "functiongemma", tmp_path / "adapter", rslora=True)
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["use_rslora"] is True
    (tmp_path / "streamed").mkdir()
    (tmp_path / "peft").mkdir()
    assert merge.merge_adapter(tmp_path / "adapter", tiny_gemma, tmp_path / "streamed", vocab) is None
    merge.merge_with_peft(tmp_path / "adapter", tiny_gemma, tmp_path / "peft")
    streamed, reference = _tensors(tmp_path / "streamed"), _tensors(tmp_path / "peft")
    for name, tensor in reference.items():
        torch.testing.assert_close(streamed[name], tensor, rtol=0, atol=1e-6, msg=name)


def test_an_adapter_beyond_plain_lora_is_left_to_peft(tiny_gemma: Path, tmp_path: Path) -> None:
    vocab = _trained_adapter(tiny_gemma, "functiongemma", tmp_path / "adapter")
    config_path = tmp_path / "adapter" / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["use_dora"] = True
    config_path.write_text(json.dumps(config))
    (tmp_path / "out").mkdir()
    reason = merge.merge_adapter(tmp_path / "adapter", tiny_gemma, tmp_path / "out", vocab)
    assert reason is not None and "use_dora=True" in reason
    assert list((tmp_path / "out").iterdir()) == []  # nothing half-written


def test_streaming_writer_round_trips_parts_and_refuses_wrong_ones(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    big = torch.arange(30, dtype=torch.float32).reshape(10, 3)
    small = torch.tensor([1, 2, 3], dtype=torch.int64)
    half = torch.ones(2, 2, dtype=torch.bfloat16)
    specs = [spec_of("big", big.dtype, big.shape), spec_of("small", small.dtype, small.shape)]
    specs.append(spec_of("half", half.dtype, half.shape))
    with StreamingSafetensorsWriter(tmp_path / "a.safetensors", specs, {"format": "pt"}) as writer:
        writer.write("big", big[:4])
        with pytest.raises(ValueError, match="expected rows of big"):
            writer.write("small", small)
        with pytest.raises(ValueError, match="more rows"):
            writer.write("big", big)
        writer.write("big", big[4:])
        writer.write("small", small)
        writer.write("half", half)
    loaded = load_file(tmp_path / "a.safetensors")
    assert torch.equal(loaded["big"], big) and torch.equal(loaded["small"], small) and torch.equal(loaded["half"], half)

    with pytest.raises(ValueError, match="small and later tensors were not written"):
        with StreamingSafetensorsWriter(tmp_path / "b.safetensors", specs) as writer:
            writer.write("big", big)
