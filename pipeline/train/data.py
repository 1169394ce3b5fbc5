"""Samples -> token ids + labels, with loss only on what the model writes.

The text is rendered once by the chat format and tokenized once (as at inference);
each token is trainable when its first character lies in a trainable `Segment`
(calls, the stop marker after them, answers, end of turn). Everything else, the
prompt, tool declarations and tool results, gets label -100; so does the deliberate
mistake that opens an error_recovery sample.

A row that does not fit the format or is longer than `max_length` is skipped and
counted under its reason; the caller reports every count, nothing vanishes silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.formats.base import ChatFormat
from edgefabric.schemas import Sample

IGNORE = -100
# Names in a format module of markup that must never appear inside message text:
# the model would learn to emit a turn end or a call marker in the middle of prose.
_MARKUP_NAMES = ("BOS", "EOS", "START_TURN", "END_TURN", "IM_START", "IM_END", "ENDOFTEXT", "CALL_START", "CALL_END")

SKIP_REASONS = {
    "format": "does not fit the chat format",
    "too_long": "longer than max_length",
    "nothing_to_learn": "has no model-written token left",
}


@dataclass
class Skipped:
    sample_id: str
    reason: str  # a key of SKIP_REASONS
    detail: str


@dataclass
class EncodedRow:
    sample_id: str
    input_ids: list[int]
    labels: list[int]

    @property
    def trainable_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


@dataclass
class EncodedSplit:
    rows: list[EncodedRow] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {reason: 0 for reason in SKIP_REASONS}
        for item in self.skipped:
            out[item.reason] += 1
        return out

    def dataset_rows(self) -> list[dict[str, Any]]:
        return [{"input_ids": row.input_ids, "labels": row.labels} for row in self.rows]


def markup_of(fmt: ChatFormat) -> tuple[str, ...]:
    names = {getattr(fmt, name) for name in _MARKUP_NAMES if isinstance(getattr(fmt, name, None), str)}
    return tuple(sorted(names | set(fmt.special_tokens) | set(fmt.stop_sequences)))


def format_problem(sample: Sample, fmt: ChatFormat) -> str | None:
    """Why `sample` cannot be trained in `fmt`, or None when it fits."""
    messages = sample.messages
    if not any(m.role == "assistant" for m in messages):
        return "no assistant turn, so nothing for the model to learn"
    if messages[-1].role != "assistant":
        return f"ends with a {messages[-1].role} turn instead of the model's reply"
    pending = 0
    for index, message in enumerate(messages):
        if message.role == "assistant":
            pending = len(message.tool_calls)
        elif message.role == "tool":
            if pending == 0:
                return f"message {index} is a tool result that answers no call"
            pending -= 1
        else:
            pending = 0
        # Only assistant prose and tool results are written raw; arguments are escaped by the format.
        text = message.content or ""
        for marker in markup_of(fmt):
            if marker in text:
                return f"message {index} ({message.role}) contains the control marker {marker!r}"
    return None


def char_mask(segments: Sequence[Any]) -> tuple[str, bytearray]:
    """The rendered text and one byte per character: 1 where the model writes it."""
    text = "".join(s.text for s in segments)
    mask = bytearray(len(text))
    pos = 0
    for segment in segments:
        if segment.trainable:
            mask[pos : pos + len(segment.text)] = b"\x01" * len(segment.text)
        pos += len(segment.text)
    return text, mask


def training_segments(sample: Sample, fmt: ChatFormat) -> list[Any]:
    """The sample's segments as trained: an error_recovery sample's first call is the deliberate
    mistake, so it stays in the context (the model learns to read the real error and recover)
    but earns no loss (the model must not learn to make it)."""
    segments = list(fmt.segments(sample.messages, sample.tools))
    if sample.metadata.kind != "error_recovery":
        return segments
    mistake = next((m for m in sample.messages if m.role == "assistant" and m.tool_calls), None)
    if mistake is None:
        return segments
    text = fmt.render_assistant(mistake)
    for i, segment in enumerate(segments):
        if segment.trainable and segment.text == text:
            segments[i] = replace(segment, trainable=False)
            break
    return segments


def encode_sample(sample: Sample, fmt: ChatFormat, tokenizer: Any) -> EncodedRow:
    """Token ids and labels of one sample (see the module doc for the rule)."""
    text, mask = char_mask(training_segments(sample, fmt))
    if not getattr(tokenizer, "is_fast", False):
        raise EdgeFabricError(
            f"the tokenizer {type(tokenizer).__name__} gives no character offsets, needed to mask the loss",
            "use a model folder with a tokenizer.json (a fast tokenizer)",
        )
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(encoded["input_ids"])
    labels = [
        token if start < end and start < len(mask) and mask[start] else IGNORE
        for token, (start, end) in zip(ids, encoded["offset_mapping"], strict=True)
    ]
    return EncodedRow(sample.id, ids, labels)


def encode_samples(samples: Iterable[Sample], fmt: ChatFormat, tokenizer: Any) -> EncodedSplit:
    """Encode every sample; rows that do not fit are skipped with their reason (length: `apply_max_length`)."""
    out = EncodedSplit()
    for sample in samples:
        problem = format_problem(sample, fmt)
        if problem is None:
            try:
                row = encode_sample(sample, fmt, tokenizer)
            except (ValueError, TypeError) as exc:  # a value the format cannot write
                problem = str(exc)
        if problem is not None:
            out.skipped.append(Skipped(sample.id, "format", problem))
            continue
        if row.trainable_tokens == 0:
            out.skipped.append(Skipped(sample.id, "nothing_to_learn", "every token is prompt"))
        else:
            out.rows.append(row)
    return out


def default_max_length(*splits: EncodedSplit, margin: int = 16) -> int:
    """Longest encoded sample plus a margin, rounded up to a multiple of 8 (kernels like aligned shapes)."""
    longest = max((len(row.input_ids) for split in splits for row in split.rows), default=0)
    return max(16, -(-(longest + margin) // 8) * 8)


def apply_max_length(split: EncodedSplit, max_length: int) -> EncodedSplit:
    """Move rows longer than `max_length` to the skipped list (counted, never truncated silently)."""
    kept = EncodedSplit(skipped=list(split.skipped))
    for row in split.rows:
        if len(row.input_ids) > max_length:
            kept.skipped.append(Skipped(row.sample_id, "too_long", f"{len(row.input_ids)} tokens > {max_length}"))
        else:
            kept.rows.append(row)
    return kept
