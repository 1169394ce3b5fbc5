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


def _mean_and_covariance(weight: Any, rows: int, chunk: int = 16384) -> tuple[Any, Any]:
    """Float32 mean (dim,) and covariance (dim, dim) of `weight[:rows]`, a chunk at a time."""
    import torch

    dim = weight.shape[1]
    total = torch.zeros(dim, dtype=torch.float64)
    for start in range(0, rows, chunk):
        total += weight[start : min(rows, start + chunk)].to(torch.float64).sum(0)
    mean = (total / rows).to(torch.float32)
    covariance = torch.zeros(dim, dim, dtype=torch.float32)
    for start in range(0, rows, chunk):
        centered = weight[start : min(rows, start + chunk)].to(torch.float32) - mean
        covariance += centered.T @ centered
    return mean, covariance / rows


def _init_new_rows(weight: Any, old_rows: int) -> None:
    """transformers' `mean_resizing` rule, computed in chunks.

    transformers upcasts the whole old matrix to float32 and centres a second copy
    (2 x 671 MB for Gemma's 262k x 640), which set the run's peak memory; the rule
    here is the same: new rows drawn from N(mean, 1e-9 * covariance) of the old
    rows, or the mean itself when that covariance is not positive definite.
    """
    import torch
    from torch.distributions import constraints
    from torch.distributions.multivariate_normal import MultivariateNormal

    added = weight.shape[0] - old_rows
    mean, covariance = _mean_and_covariance(weight, old_rows)
    epsilon = 1e-9
    with torch.no_grad():
        if constraints.positive_definite.check(epsilon * covariance).all():
            new = MultivariateNormal(mean, covariance_matrix=epsilon * covariance).sample(sample_shape=(added,))
        else:
            new = mean[None, :].repeat(added, 1)
        weight[old_rows:] = new.to(weight.dtype)


def resize_embeddings(model: Any, tokenizer: Any) -> bool:
    """Grow the embeddings (and a tied or separate output layer) to the tokenizer; True when resized.

    New rows start at the mean of the old ones (transformers' `mean_resizing` rule,
    see `_init_new_rows`), so the new tokens begin as "an average token" rather than noise.
    """
    embeddings = model.get_input_embeddings()
    current = embeddings.weight.shape[0]
    if len(tokenizer) <= current:
        return False
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    _init_new_rows(model.get_input_embeddings().weight.data, current)
    output = model.get_output_embeddings()
    if output is not None and output.weight.data_ptr() != model.get_input_embeddings().weight.data_ptr():
        _init_new_rows(output.weight.data, current)
    return True
