"""A small user tool module for generation tests (loaded by the sandbox, run inside it)."""


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


def shout(text: str) -> str:
    """Return the text in upper case.

    Args:
        text: What to shout.
    """
    return text.upper()
