"""FunctionGemma's tokens: Gemma 3's turn markers plus the function-calling control tokens.

The control tokens (`special_tokens`) are missing from the Gemma 3 base vocabulary; training adds them
(edgefabric.pipeline.train.tokens). `stop_sequences` end generation; `turn_end_sequences` are the stops
that end a turn normally.
"""

from __future__ import annotations

BOS = "<bos>"
START_TURN = "<start_of_turn>"
END_TURN = "<end_of_turn>"
DECLARATION_START = "<start_function_declaration>"
DECLARATION_END = "<end_function_declaration>"
CALL_START = "<start_function_call>"
CALL_END = "<end_function_call>"
RESPONSE_START = "<start_function_response>"
RESPONSE_END = "<end_function_response>"
ESCAPE = "<escape>"
EOS = "<eos>"
DEFAULT_DEVELOPER_PROMPT = "You are a model that can do function calling with the following functions"

special_tokens: tuple[str, ...] = (
    DECLARATION_START,
    DECLARATION_END,
    CALL_START,
    CALL_END,
    RESPONSE_START,
    RESPONSE_END,
    ESCAPE,
)
stop_sequences: tuple[str, ...] = (END_TURN, RESPONSE_START, EOS)
# The stops that end a turn normally; RESPONSE_START without a call means the model began writing a
# tool's response itself (stop_reason "stop_sequence").
turn_end_sequences: tuple[str, ...] = (END_TURN, EOS)
