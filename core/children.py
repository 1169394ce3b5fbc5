"""Child processes that die with their parent, however it ends (SIGKILL included).

Both helpers here hang the child's life on its stdin: a pipe only the parent holds open. The kernel
closes that pipe however the parent dies, so a thread reading it sees end-of-file and ends the child,
on any OS and whichever thread started it (Linux's parent-death signal, `prctl(PR_SET_PDEATHSIG)`,
exists nowhere else and follows the thread that forked, not the process). Start either with
`stdin=subprocess.PIPE` and keep that pipe open while the child should live (never `communicate()`,
which closes it at once).

- `watched_python(code)`: the watchdog thread runs inside the child's own Python. Enough when the
  child's work releases the GIL now and then (llama.cpp's server does).
- `supervised(argv)`: a small Python supervisor runs `argv` as its own child and kills it at
  end-of-file. Needed when the work may hold the GIL for long: a watchdog thread inside the
  componentize-py build never got to run (the build outlived its SIGKILLed parent by over 20 s).
"""

from __future__ import annotations

import sys

WATCHDOG = """
import os as _os, threading as _threading
def _edgefabric_watch():
    while _os.read(0, 1):
        pass
    _os._exit(0)
_threading.Thread(target=_edgefabric_watch, daemon=True).start()
"""

SUPERVISOR = """
import os, subprocess, sys, threading
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)
def watch():
    while os.read(0, 1):
        pass
    child.kill()
    os._exit(137)
threading.Thread(target=watch, daemon=True).start()
sys.exit(child.wait())
"""


def watched_python(code: str, *args: str) -> list[str]:
    """The argv of `python -c CODE ARGS...` with the watchdog thread started first."""
    return [sys.executable, "-c", WATCHDOG + code, *args]


def supervised(argv: list[str]) -> list[str]:
    """The argv of a supervisor that runs `argv`, passes on its exit code, and kills it at end-of-file."""
    return [sys.executable, "-c", SUPERVISOR, *argv]
