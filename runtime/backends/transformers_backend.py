"""HF model folders (or a LoRA adapter folder) through transformers, for comparison with the exports."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.backends.base import Generation, GenerationStats, StopScanner, mark_stopped, timed_stream
from edgefabric.runtime.profiles import DeviceProfile


class TransformersBackend:
    name = "transformers"

    def __init__(self, folder: Path, profile: DeviceProfile) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._torch = torch
        self.model_path = str(folder)
        self.profile = profile
        torch.set_num_threads(profile.effective_threads())
        adapter = folder / "adapter_config.json"
        if adapter.exists():
            # A LoRA adapter: load its base, then the adapter on top (PEFT reads base_model_name_or_path).
            from peft import PeftModel

            base = json.loads(adapter.read_text(encoding="utf-8")).get("base_model_name_or_path")
            if not base or not Path(base).exists():
                raise EdgeFabricError(
                    f"the adapter in {folder} names base model {base!r}, which is not a local folder",
                    "train again, or merge the adapter (training.merge: true) and load the merged folder",
                )
            model: Any = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
            model = PeftModel.from_pretrained(model, str(folder))
            tokenizer_source = folder if (folder / "tokenizer_config.json").exists() else Path(base)
        else:
            model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
            tokenizer_source = folder
        self.model = model.eval()
        # transformers 5 renamed past_key_values to cache; a PEFT wrapper forwards either.
        forward = getattr(model, "get_base_model", lambda: model)().forward
        self._cache_arg = "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"
        self.tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_source))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0

    def generate(self, prompt: str, stop: Sequence[str], max_tokens: int, grammar: str | None = None) -> Generation:
        if grammar is not None:
            raise EdgeFabricError(
                "constrained decoding is only available with the llama.cpp backend",
                "run the GGUF export, or turn constrained decoding off",
            )
        torch = self._torch
        # The formats write <bos> themselves, so the tokenizer must not add another.
        ids = self.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
        stats = GenerationStats(prompt_tokens=int(ids.shape[1]))
        eos = {self.tokenizer.eos_token_id} if self.tokenizer.eos_token_id is not None else set()
        scanner = StopScanner(stop)
        count = 0

        def pieces() -> Iterator[str]:
            # A plain greedy loop with the KV cache: every token is seen as it is made (streaming),
            # which model.generate only offers through a thread.
            nonlocal count
            past: Any = None
            inputs = ids
            produced: list[int] = []
            shown = ""
            with torch.inference_mode():
                while count < max_tokens:
                    out = self.model(input_ids=inputs, use_cache=True, **{self._cache_arg: past})
                    past = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
                    token = int(out.logits[0, -1].argmax())
                    count += 1
                    if token in eos:
                        break
                    produced.append(token)
                    text = str(self.tokenizer.decode(produced, skip_special_tokens=False))
                    if text.endswith("\ufffd"):
                        inputs = torch.tensor([[token]])
                        continue  # an incomplete UTF-8 sequence; wait for the next token
                    piece, shown = text[len(shown) :], text
                    emitted = scanner.feed(piece)
                    if emitted:
                        yield emitted
                    if scanner.stopped:
                        mark_stopped(stats, scanner)
                        return
                    inputs = torch.tensor([[token]])
                else:
                    stats.finish_reason = "length"
            rest = scanner.flush()
            if rest:
                yield rest

        def counted() -> int:
            return count

        return Generation(timed_stream(pieces(), stats, counted), stats)

    def close(self) -> None:
        del self.model
