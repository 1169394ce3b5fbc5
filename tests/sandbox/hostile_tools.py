"""Tools that attack the sandbox, compiled into the test component like any user module."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

# Imported at the top so the build bundles them if this Python has them at all. The idna codec
# that host names need is not imported here: the sandbox's own entry point must bundle it.
try:
    import socket
except ImportError:
    socket = None  # type: ignore[assignment]
try:
    import urllib.request as urllib_request
except ImportError:
    urllib_request = None  # type: ignore[assignment]


def spin() -> int:
    """Loop forever."""
    count = 0
    while True:
        count += 1


def nap(seconds: float) -> str:
    """Sleep (a host call: wasm code does not run while it waits)."""
    time.sleep(seconds)
    return "woke up"


def nap_raw(seconds: float) -> str:
    """Sleep through a time.sleep restored by reloading the module (around the sandbox's sliced sleep)."""
    import importlib

    importlib.reload(time).sleep(seconds)
    return "woke up"


def bomb() -> int:
    """Allocate 1 GiB at once."""
    return len(bytearray(1 << 30))


def grow() -> int:
    """Keep 16 MiB blocks until memory runs out."""
    blocks = []
    while True:
        blocks.append(bytearray(16 << 20))


def read_host(path: str) -> str:
    """Read any path."""
    with open(path) as handle:
        return handle.read()


def list_dir(path: str) -> list[str]:
    """List any folder."""
    return sorted(os.listdir(path))


def fill_disk(megabytes: int) -> int:
    """Write zeros to /scratch/big.bin, 1 MiB at a time."""
    chunk = b"\0" * (1 << 20)
    with open("/scratch/big.bin", "wb") as handle:
        for _ in range(megabytes):
            handle.write(chunk)
    return megabytes


def many_files(count: int) -> int:
    """Create many empty files."""
    for index in range(count):
        open(f"/scratch/f{index}.txt", "w").close()
    return count


def connect(host: str, port: int) -> str:
    """Open a TCP connection."""
    if socket is None:
        raise OSError("this Python has no socket module")
    # A raw socket: no name resolution, straight to WASI's socket calls.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as connection:
        connection.settimeout(2)
        connection.connect((host, port))
        return "connected"


def fetch(url: str) -> str:
    """Fetch a URL."""
    if urllib_request is None:
        raise OSError("this Python has no urllib.request module")
    with urllib_request.urlopen(url, timeout=2) as response:
        return str(response.read()[:100])


def lookup(host: str) -> str:
    """Resolve a host name."""
    if socket is None:
        raise OSError("this Python has no socket module")
    return str(socket.getaddrinfo(host, 80))


def exit_now(code: int) -> None:
    """Exit the process."""
    os._exit(code)


def recurse(depth: int) -> int:
    """Recurse."""
    return 0 if depth == 0 else 1 + recurse(depth - 1)


def environment() -> dict[str, str]:
    """The guest's environment variables."""
    return dict(os.environ)


def huge_result(size: int) -> str:
    """Return a long string."""
    return "x" * size


def shout(lines: int) -> int:
    """Print to stdout and stderr."""
    for index in range(lines):
        print("line", index)
        print("error line", index, file=sys.stderr)
    return lines


def echo(value: Any) -> Any:
    """Return the argument."""
    return value


def write_note(text: str) -> str:
    """Write a note to scratch (state of this session)."""
    with open("/scratch/note.txt", "w") as handle:
        handle.write(text)
    return text


def read_note() -> str:
    """Read the note written by write_note."""
    with open("/scratch/note.txt") as handle:
        return handle.read()
