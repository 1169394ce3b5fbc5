"""Conversational messages that no tool set serves: greetings, thanks, goodbyes, feelings, and
questions about the assistant itself.

A small teacher (the embedded 135M) writes poor small talk: it answers instead of asking,
or writes the assistant's side. Real users send these messages all the time, and a
fine-tuned model that has never seen them calls a tool anyway (the demo's model answered
1 of 5 no-call cases without a call). So part of the `no_call` samples start from these
message parts, combined and varied (casing, typos) by `callfirst.vary_request`.

Only kinds of message that no tool can serve are listed: no general-knowledge questions
(a tool set with a search tool serves those) and no actions. The lists are data, written
here because no library ships conversational filler for this purpose.
"""

from __future__ import annotations

import random

OPENERS = ("", "", "", "hey, ", "hi! ", "ok ", "so ", "hmm, ", "well, ", "oh ", "alright, ")

BODIES = (
    # thanks and feedback
    "thanks",
    "thank you so much",
    "cheers, that helped",
    "great, I appreciate it",
    "perfect, thanks a lot",
    "that was really useful",
    "nice one",
    "you're a lifesaver",
    # greetings
    "hello",
    "good morning",
    "good evening",
    "how are you doing today?",
    "hi there, how's it going?",
    "long time no see",
    # goodbyes
    "bye for now",
    "that's all I needed",
    "ok I'm done for today",
    "see you later",
    "talk to you tomorrow",
    "goodnight",
    # about the assistant
    "what's your name?",
    "are you a real person?",
    "who made you?",
    "what kind of things can you help me with?",
    "do you remember what we talked about yesterday?",
    "can you keep a secret?",
    "do you ever get tired?",
    # feelings and chat
    "I'm a bit stressed today",
    "I had a really good day",
    "I'm bored",
    "I can't sleep",
    "do you like music?",
    "what's your favourite colour?",
    "tell me something nice",
    "I just wanted to say hi",
    "you're pretty clever",
    "sorry, I typed that by mistake",
    "never mind",
    "wait, let me think about it",
    "lol",
    "ok cool",
)

CLOSERS = ("", "", "", "!", " :)", ".", "!!", " haha", " 🙂")


def smalltalk_message(rng: random.Random) -> str:
    """One conversational message (no tool serves it), e.g. "hey, thank you so much :)"."""
    body = rng.choice(BODIES)
    opener = rng.choice(OPENERS)
    closer = rng.choice(CLOSERS) if body[-1] not in "?!." else ""
    text = opener + body + closer
    return text[0].upper() + text[1:] if opener == "" and rng.random() < 0.6 else text
