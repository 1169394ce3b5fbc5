"""GGUF models through llama-cpp-python (imported lazily: it loads a native library)."""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from edgefabric.errors import ContextOverflowError, EdgeFabricError
from edgefabric.runtime.backends.base import Generation, GenerationStats, StopScanner, mark_stopped, timed_stream
from edgefabric.runtime.profiles import DeviceProfile


class LlamaCppBackend:
    name = "llama.cpp"

    def __init__(self, model_path: Path, profile: DeviceProfile, *, seed: int = 0) -> None:
        size_mb = model_path.stat().st_size / 2**20
        if size_mb > profile.memory_mb:
            raise EdgeFabricError(
                f"{model_path.name} is {size_mb:.0f} MB, over the {profile.name} profile's {profile.memory_mb} MB cap",
                "export a smaller quantisation (q4_k_m) or pick a larger device profile",
            )
        from llama_cpp import Llama

        self.model_path = str(model_path)
        self.profile = profile
        self.threads = profile.thread_plan()
        try:
            self.llm = Llama(
                model_path=self.model_path,
                n_ctx=profile.context,
                n_threads=self.threads.generation,
                n_threads_batch=self.threads.batch,
                n_batch=profile.batch,
                seed=seed,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise EdgeFabricError(
                f"llama.cpp could not load {model_path} ({exc})",
                "check that the file is a complete GGUF (re-run `edgefabric export`)",
            ) from None
        self._grammars: dict[str, Any] = {}
        self._bos = self.llm.token_bos()
        self._add_bos = bool(self.llm._model.add_bos_token())
        self._vocab = self.llm._model.vocab  # for end-of-generation checks (no public accessor)

    def tokenize(self, prompt: str) -> list[int]:
        """Prompt tokens with special tokens parsed; BOS only when the model wants one and the format did not write it."""
        tokens = self.llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        if self._add_bos and (not tokens or tokens[0] != self._bos):
            tokens.insert(0, self._bos)
        return tokens

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)) if text else 0

    def _grammar(self, source: str) -> Any:
        # Parsing a GBNF grammar costs milliseconds per call; tool sets repeat, so keep them.
        if source not in self._grammars:
            from llama_cpp import LlamaGrammar

            try:
                self._grammars[source] = LlamaGrammar.from_string(source, verbose=False)
            except ValueError as exc:
                raise EdgeFabricError(f"llama.cpp rejected the call grammar ({exc})", "report this as a bug") from None
        return self._grammars[source]

    def generate(self, prompt: str, stop: Sequence[str], max_tokens: int, grammar: str | None = None) -> Generation:
        tokens = self.tokenize(prompt)
        budget = self.profile.context - len(tokens)
        if budget <= 0:
            raise ContextOverflowError(
                f"the prompt is {len(tokens)} tokens, over the {self.profile.name} profile's "
                f"{self.profile.context}-token context",
                "shorten the conversation or the tool list, or pick a profile with a longer context",
            )
        stats = GenerationStats(prompt_tokens=len(tokens))
        compiled = self._grammar(grammar) if grammar else None
        limit = min(max_tokens, budget)
        scanner = StopScanner(stop)
        count = 0

        def pieces() -> Iterator[str]:
            # llm.generate, not create_completion: it is the same native loop without the
            # OpenAI-response bookkeeping, and detokenizing with special=True keeps control
            # tokens such as FunctionGemma's <start_function_call> visible to the parser.
            nonlocal count
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            for token in self.llm.generate(tokens, temp=0.0, top_k=1, repeat_penalty=1.0, grammar=compiled):
                if self._is_eog(token):
                    stats.finish_reason = "stop"
                    break
                count += 1
                out = scanner.feed(decoder.decode(self.llm.detokenize([token], special=True)))
                if out:
                    yield out
                if scanner.stopped:
                    mark_stopped(stats, scanner)
                    break
                if count >= limit:
                    stats.finish_reason = "length"
                    break
            rest = scanner.flush() if not scanner.stopped else ""
            if rest:
                yield rest

        def counted() -> int:
            return count

        return Generation(timed_stream(pieces(), stats, counted), stats)

    def _is_eog(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))

    def close(self) -> None:
        close = getattr(self.llm, "close", None)
        if close is not None:
            close()
