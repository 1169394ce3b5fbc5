"""Qwen3's tokens (ChatML turn markers, Hermes-style call and think tags) and the fixed tool preamble.

All of them are already in Qwen3's vocabulary, so `special_tokens` is empty: training adds nothing.
"""

from __future__ import annotations

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
CALL_START = "<tool_call>"
CALL_END = "</tool_call>"
THINK_START = "<think>"
THINK_END = "</think>"
ENDOFTEXT = "<|endoftext|>"

special_tokens: tuple[str, ...] = ()  # all of these are already in Qwen3's vocabulary
stop_sequences: tuple[str, ...] = (IM_END, ENDOFTEXT)
turn_end_sequences: tuple[str, ...] = stop_sequences  # every stop ends the turn

TOOLS_PREAMBLE = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
TOOLS_POSTAMBLE = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)
