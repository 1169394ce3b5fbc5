"""Dataset files feed TRL's SFTTrainer as they are: `messages` and `tools` columns, no conversion."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgefabric.dataset import append_samples
from edgefabric.schemas import Message, Sample, ToolCall, ToolSpec

# A small Hermes-style template: enough to show that TRL hands our tools and calls to the template.
TEMPLATE = (
    "{% if tools %}<tools>{% for t in tools %}{{ t.function.name }}:{{ t.function.parameters | tojson }};"
    "{% endfor %}</tools>\n{% endif %}"
    "{% for m in messages %}<{{ m.role }}>"
    "{% if m.content %}{{ m.content }}{% endif %}"
    "{% if m.tool_calls %}{% for c in m.tool_calls %}<call>{{ c.function.name }} {{ c.function.arguments }}</call>"
    "{% endfor %}{% endif %}</{{ m.role }}>\n{% endfor %}"
)


def tiny_tokenizer(corpus: list[str]):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<unk>", "<pad>", "<eos>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(corpus, trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>"
    )
    wrapped.chat_template = TEMPLATE
    return wrapped


@pytest.mark.slow
def test_sft_trainer_trains_on_a_dataset_file(tmp_path: Path) -> None:
    import datasets
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl import SFTConfig, SFTTrainer

    convert = ToolSpec(
        name="convert_units",
        parameters={"type": "object", "properties": {"value": {"type": "number"}, "to": {"type": "string"}}},
    )
    samples = [
        Sample(
            messages=[
                Message(role="user", content=f"convert {i} km to miles"),
                Message(
                    role="assistant", tool_calls=[ToolCall(name="convert_units", arguments={"value": i, "to": "mi"})]
                ),
                Message(role="tool", name="convert_units", content=f'{{"result": {i * 0.621}}}'),
                Message(role="assistant", content=f"{i} km is {i * 0.621:.2f} miles."),
            ],
            tools=[convert],
        )
        for i in range(1, 9)
    ]
    path = tmp_path / "train.jsonl"
    append_samples(path, samples)
    dataset = datasets.load_dataset("json", data_files=str(path), split="train")

    tokenizer = tiny_tokenizer([TEMPLATE, *(m.content or "" for s in samples for m in s.messages)] * 4)
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
        )
    )
    args = SFTConfig(
        output_dir=str(tmp_path / "out"),
        max_steps=2,
        per_device_train_batch_size=2,
        use_cpu=True,
        bf16=False,
        report_to=[],
        save_strategy="no",
        logging_steps=1,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    first = tokenizer.decode(trainer.train_dataset[0]["input_ids"])
    assert 'convert_units:{"type": "object"' in first  # the tools column reached the template
    assert '<call>convert_units {"value": 1, "to": "mi"}</call>' in first  # and so did the call
    result = trainer.train()
    assert result.global_step == 2
    assert result.training_loss > 0
