"""Chat as every front end asks for it: the session settings (`ChatRequest`), one turn (`ChatTurnRequest`)
and its runner, `run_chat_turn`.

`edgefabric chat` and the TUI's Chat screen build the same requests. A `ChatSession` holds what
is slow to make (the loaded model, the tool sandbox) between turns; the conversation itself
(the history) stays with the caller and travels in each turn's request. The tool state (the
sandbox's scratch files) lives as long as a conversation: a turn whose history has no user
message yet starts a fresh one.
"""

from __future__ import annotations

import contextlib
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgefabric.app.command import quoted_path
from edgefabric.errors import EdgeFabricError
from edgefabric.events import EventSink, PhaseStarted, ReplyText, ToolCallExecuted, ignore_events

if TYPE_CHECKING:
    from edgefabric.config import ProjectConfig
    from edgefabric.runtime.agent import AgentResult
    from edgefabric.schemas import Message

STAGE = "chat"
CONSTRAIN_CHOICES = ("off", "auto", "required")


@dataclass(frozen=True)
class ChatRequest:
    """Chat with `model`; its tool calls run in the sandbox with the sets `tools`.

    - `family`: the chat format; None guesses it from the model's name.
    - `backend`: auto, llama.cpp, onnxruntime-genai or transformers; `profile`: the device profile.
    - `constrained`: off, auto or required (llama.cpp grammar); `max_steps`: model steps per turn;
      `max_tokens`: tokens per step, None for the profile's cap; `system`: a system prompt.
    The field defaults are the CLI's option defaults. Hashable: a front end keeps one session per request.
    """

    model: str
    tools: tuple[str, ...] = ("math", "kv")
    family: str | None = None
    backend: str = "auto"
    profile: str = "laptop"
    constrained: str = "off"
    max_steps: int = 4
    max_tokens: int | None = None
    system: str | None = None

    @classmethod
    def for_project(cls, config: ProjectConfig, model: str, *, family: str | None = None) -> ChatRequest:
        """A project's chat with `model`: its tool sets, device profile and agent steps."""
        return cls(
            model=model,
            tools=tuple(config.tools.sets()),
            family=family,
            profile=config.eval.device_profile,
            max_steps=config.eval.max_steps,
        )

    def check(self) -> None:
        """EdgeFabricError naming the problem and the fix if the request cannot run as asked."""
        if self.constrained not in CONSTRAIN_CHOICES:
            raise EdgeFabricError(
                f"--constrained {self.constrained!r} is not known", f"use one of: {', '.join(CONSTRAIN_CHOICES)}"
            )

    def command(self, cwd: Path | None = None) -> str:
        """The `edgefabric chat ...` line that opens this chat (defaults left out; paths under `cwd` relative)."""
        parts = ["edgefabric", "chat", quoted_path(self.model, cwd)]
        if self.tools != ChatRequest.tools:
            parts += [f"--tools {quoted_path(name, cwd)}" for name in self.tools]
        defaults = ChatRequest(model=self.model)
        for option in ("family", "backend", "profile", "constrained", "max_steps", "max_tokens", "system"):
            value = getattr(self, option)
            if value is not None and value != getattr(defaults, option):
                parts.append(f"--{option.replace('_', '-')} {shlex.quote(str(value))}")
        return " ".join(parts)


@dataclass(frozen=True)
class ChatTurnRequest:
    """One user turn: `prompt` after the conversation so far (`history`, as the last turn's result gave it)."""

    chat: ChatRequest
    history: tuple[Message, ...]
    prompt: str


class ChatSession:
    """The loaded model and tool sandbox of one `ChatRequest`, kept between turns; `close()` frees them.

    Not thread-safe: one turn at a time (a front end runs turns in order).
    """

    def __init__(self, request: ChatRequest) -> None:
        request.check()
        self.request = request
        self.engine: Any = None
        self.box: Any = None
        self.family = ""
        self.max_tokens = 0  # the profile's cap per step, known once loaded
        self._tools = contextlib.ExitStack()
        self._tool_session: Any = None

    def load(self, on_event: EventSink = ignore_events) -> None:
        """Build the tool sandbox and load the model, once. Events: the sandbox build's, PhaseStarted (loading)."""
        if self.engine is not None:
            return
        from edgefabric.runtime.backends import guess_family, load_backend
        from edgefabric.runtime.profiles import get_profile
        from edgefabric.runtime.sandbox import load_toolbox

        profile = get_profile(self.request.profile)
        self.max_tokens = profile.max_tokens
        self.box = load_toolbox(list(self.request.tools), on_event=on_event)
        self.family = self.request.family or guess_family(self.request.model)
        on_event(PhaseStarted(STAGE, f"loading {self.request.model}"))
        self.engine = load_backend(self.request.model, backend=self.request.backend, profile=profile)

    def tool_session(self, new_conversation: bool) -> Any:
        """The sandbox session of the current conversation (a fresh one for a new conversation)."""
        if new_conversation or self._tool_session is None:
            self._tools.close()
            self._tool_session = self._tools.enter_context(self.box.session())
        return self._tool_session

    def close(self) -> None:
        """Close the tool session and the engine; the session can load again afterwards."""
        self._tools.close()
        self._tool_session = None
        if self.engine is not None:
            self.engine.close()
            self.engine = None


def run_chat_turn(
    request: ChatTurnRequest, session: ChatSession, *, on_event: EventSink = ignore_events
) -> AgentResult:
    """Run one turn in `session` (loaded on first use): the model replies, calling tools as it goes.

    Events: on first use the sandbox build's and PhaseStarted (loading); then ReplyText for
    each piece of streamed text and ToolCallExecuted for each call as it runs. Returns the
    agent's result; its `messages` are the next turn's history. Raises EdgeFabricError when
    `session` belongs to another chat request, or the model or tools cannot load.
    """
    from edgefabric.runtime.agent import Agent, ExecutedCall
    from edgefabric.schemas import Message

    if session.request != request.chat:
        raise EdgeFabricError(
            "this chat session was opened for other settings", "open a ChatSession for the turn's ChatRequest"
        )
    session.load(on_event)
    chat = request.chat

    def on_call(executed: ExecutedCall) -> None:
        on_event(
            ToolCallExecuted(
                STAGE,
                executed.call.name,
                executed.call.arguments,
                executed.ok,
                executed.content,
                executed.error_kind,
                executed.elapsed_ms,
            )
        )

    agent = Agent(
        session.engine,
        session.family,
        session.box.specs,
        max_steps=chat.max_steps,
        max_tokens=chat.max_tokens or session.max_tokens,
        constrain=chat.constrained,  # type: ignore[arg-type]  # checked by ChatSession
        on_text=lambda piece: on_event(ReplyText(STAGE, piece)),
        on_call=on_call,
    )
    history = list(request.history)
    new_conversation = not any(message.role == "user" for message in history)
    if new_conversation and chat.system and not history:
        history = [Message(role="system", content=chat.system)]
    turn = [*history, Message(role="user", content=request.prompt)]
    return agent.run(turn, session.tool_session(new_conversation))
