"""Control tokens the chat format needs but the tokenizer lacks.

The embedded Gemma 3 base has `<start_of_turn>`/`<end_of_turn>` but none of
FunctionGemma's function-calling tokens; written as text they would split into
many pieces (or map to `<unk>`), so they are added as special tokens, the
embedding matrix grows to match, and the new rows are trained (see `backends`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def is_single_token(tokenizer: Any, token: str) -> bool:
    ids = tokenizer.encode(token, add_special_tokens=False)
    return len(ids) == 1 and ids[0] != tokenizer.unk_token_id


def missing_tokens(tokenizer: Any, tokens: Sequence[str]) -> list[str]:
    return [token for token in tokens if not is_single_token(tokenizer, token)]


def add_special_tokens(tokenizer: Any, tokens: Sequence[str]) -> list[int]:
    """Add the tokens the tokenizer lacks as special tokens; returns the ids of the ones added."""
    from tokenizers import AddedToken

    missing = missing_tokens(tokenizer, tokens)
    if missing:
        # normalized=False: the text must match exactly, as the format writes it.
        tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in missing], special_tokens=True)
    if tokenizer.pad_token is None:
        # Padding positions carry label -100 and attention 0, so reusing end-of-sequence is safe.
        tokenizer.pad_token = tokenizer.eos_token
    return [int(tokenizer.convert_tokens_to_ids(t)) for t in missing]


def resize_embeddings(model: Any, tokenizer: Any) -> bool:
    """Grow the embeddings (and a tied or separate output layer) to the tokenizer; True when resized.

    New rows start at the mean of the old ones (transformers' `mean_resizing`), so
    the new tokens begin as "an average token" rather than noise.
    """
    current = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) <= current:
        return False
    model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    return True
