"""Peak memory in a report is the evaluating process's own, even when a big process started it."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys

from edgefabric.runtime.memory import peak_rss_mb


def test_a_child_reports_its_own_peak_not_its_parents() -> None:
    ballast = bytearray(700 * 1024 * 1024)  # touched pages: RSS really grows
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    assert peak_rss_mb() > 700
    # ru_maxrss would say 700+ in both children: Linux keeps it across fork and exec.
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        spawned = pool.apply(peak_rss_mb)
    code = "from edgefabric.runtime.memory import peak_rss_mb; print(peak_rss_mb())"
    executed = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    del ballast
    assert spawned < 500 and executed < 500
