"""What the host and the guest agree on besides `toolset.wit`; `build` writes these into the guest.

- SCENARIOS_CALL: the guest's one call that is not a tool; it returns every set's SCENARIOS as JSON.
  A set name cannot hold a colon (modules.SET_NAME), so it never clashes with a "set.tool" name.
- EXIT_MARKER: the line the guest writes to stderr before a tool's `os._exit(status)` ends the
  instance. WASI preview 2's `exit` carries only success or failure (wasi:cli/exit), so without it
  every status would reach the host as 1.
"""

from __future__ import annotations

import re

SCENARIOS_CALL = "edgefabric:scenarios"
EXIT_MARKER = "edgefabric: the tool exited with status "
EXIT_LINE = re.compile(re.escape(EXIT_MARKER) + r"(-?\d+)")


def exit_status(stderr: str) -> int | None:
    """The status of the last `os._exit` the guest recorded in `stderr`, or None."""
    found = EXIT_LINE.findall(stderr)
    return int(found[-1]) if found else None
