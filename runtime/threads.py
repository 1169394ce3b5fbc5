"""One thread policy for every llama.cpp context EdgeFabric creates (chat, serve, eval, the agent, parity, the teacher).

Why a policy: ggml's worker threads spin-wait at the barrier after every graph node. When another
process holds one of the cores a context is using, each barrier waits for a descheduled thread, and
generation collapses; measured on 2 cores with one busy, Gemma 3 270M Q4_K_M fell from 53.9 tokens/s
(1 thread) to 0.5 tokens/s (2 threads). So a context gets the physical cores (hyper-threads share a
core's execution units and add nothing to a memory-bound decode), minus a reserve left free for
everything else, minus what the machine's current load already takes, capped by the device profile.
An explicit override (`--threads`, or `EDGEFABRIC_THREADS`, which child processes inherit) wins.

Polling: llama.cpp's threadpool parameters (`poll`, `strict_cpu`, `cpumask`) are reachable only
through `llama_attach_threadpool`, which llama-cpp-python 0.3.36 does not bind (a TODO in its
`llama_cpp.py`); its context parameters carry only `n_threads` and `n_threads_batch`. Leaving cores
free is therefore the lever used here.

`plan_threads` is a pure function of its inputs; `machine_cores`, `current_load` and `thread_plan`
read the machine.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

OVERRIDE_ENV = "EDGEFABRIC_THREADS"


@dataclass(frozen=True)
class ThreadPlan:
    """Thread counts for one llama.cpp context, and the facts they came from.

    `generation` is llama.cpp's `n_threads` (one token per graph), `batch` its `n_threads_batch`
    (prompt evaluation). `source` is "override" or "policy".
    """

    generation: int
    batch: int
    source: str
    physical_cores: int
    reserve: int
    load: float

    def describe(self) -> str:
        """One line for logs and reports, e.g. `1 thread (batch 1; 2 physical cores, reserve 1, others busy 0.4)`."""
        noun = "thread" if self.generation == 1 else "threads"
        if self.source == "override":
            return f"{self.generation} {noun} (override)"
        return (
            f"{self.generation} {noun} (batch {self.batch}; {self.physical_cores} physical cores, "
            f"reserve {self.reserve}, others busy {self.load:.1f})"
        )


def default_reserve(physical_cores: int) -> int:
    """Cores left free for the rest of the machine: one per eight physical cores, at least one when there are two or more."""
    if physical_cores < 2:
        return 0
    return max(1, physical_cores // 8)


def plan_threads(
    physical_cores: int,
    *,
    load: float = 0.0,
    cap: int | None = None,
    override: int | None = None,
    reserve: int | None = None,
) -> ThreadPlan:
    """Decide a context's generation and batch thread counts.

    physical_cores: physical cores this process may run on (>= 1; smaller values count as 1).
    load: cores' worth of CPU other processes use (`current_load()`); each whole unit takes one
    core away, fractions round down.
    cap: the most threads the caller wants (a device profile's `threads`); None for no cap.
    override: an explicit count (`--threads`); it wins over everything, including the core count.
    reserve: cores always left free; `default_reserve(physical_cores)` when None.

    Returns `physical_cores - reserve - floor(load)`, at least one thread, at most `cap`; without an
    override never more than `physical_cores - reserve` (or 1 when that is zero). The batch count equals the generation count: prompt evaluation hits
    the same spin-wait barriers, and a core taken after the context starts costs it just as much.
    Raises ValueError for an override below 1.
    """
    physical = max(1, int(physical_cores))
    keep = default_reserve(physical) if reserve is None else max(0, int(reserve))
    if override is not None:
        if override < 1:
            raise ValueError(f"thread override must be >= 1, got {override}")
        return ThreadPlan(override, override, "override", physical, keep, max(0.0, load))
    busy = math.floor(max(0.0, load))
    free = physical - keep - busy  # the reserve stays free on top of what others already use
    count = max(1, free)
    if cap is not None:
        count = max(1, min(count, cap))
    return ThreadPlan(count, count, "policy", physical, keep, max(0.0, load))


def _affinity() -> set[int] | None:
    getter = getattr(os, "sched_getaffinity", None)
    return set(getter(0)) if getter is not None else None


def _cgroup_cpus() -> float | None:
    """CPUs a cgroup v2 quota allows (`cpu.max`), or None when unlimited or unknown."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return float(quota) / float(period)
    except (ValueError, ZeroDivisionError):
        return None


def machine_cores() -> int:
    """Physical cores this process may use: distinct (package, core) pairs among the CPUs in its
    affinity mask (Linux sysfs), else psutil's physical count, else `os.cpu_count()`; also capped by a
    cgroup v2 CPU quota. Always >= 1."""
    cpus = _affinity()
    cores: set[tuple[str, str]] = set()
    if cpus:
        for cpu in cpus:
            topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
            try:
                cores.add(((topo / "physical_package_id").read_text().strip(), (topo / "core_id").read_text().strip()))
            except OSError:
                cores.clear()
                break
    if cores:
        count = len(cores)
    else:
        count = 0
        try:
            import psutil

            count = psutil.cpu_count(logical=False) or 0
        except ImportError:
            pass
        count = count or len(cpus or ()) or os.cpu_count() or 1
    quota = _cgroup_cpus()
    if quota is not None:
        count = min(count, max(1, math.floor(quota)))
    return max(1, count)


def _proc_stat_busy() -> float | None:
    """CPU-seconds all CPUs have spent busy since boot (/proc/stat), or None where there is no such file."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(x) for x in fields[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def current_load(window_s: float = 0.25) -> float:
    """Cores' worth of CPU that other processes use now (>= 0.0).

    On Linux: busy CPU time across the machine over `window_s` seconds (/proc/stat) minus this
    process's own, divided by the window; so work this process just finished (a training run before an
    evaluation) does not count, as it would in the 1-minute load average. Elsewhere: the 1-minute load
    average, or 0.0 where the OS has none. Costs `window_s` of wall time on Linux.
    """
    first, own = _proc_stat_busy(), os.times()
    if first is not None:
        start = time.monotonic()
        time.sleep(window_s)
        second, own_after = _proc_stat_busy(), os.times()
        elapsed = time.monotonic() - start
        if second is not None and elapsed > 0:
            mine = (own_after.user + own_after.system) - (own.user + own.system)
            return max(0.0, (second - first - mine) / elapsed)
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return 0.0


def env_override() -> int | None:
    """`EDGEFABRIC_THREADS` as an int, or None when unset or empty. Raises ValueError when not a positive int."""
    raw = os.environ.get(OVERRIDE_ENV, "").strip()
    if not raw:
        return None
    value = int(raw)
    if value < 1:
        raise ValueError(f"{OVERRIDE_ENV} must be >= 1, got {raw}")
    return value


def set_override(threads: int | None) -> None:
    """Make `threads` the override for this process and every process it starts (via `EDGEFABRIC_THREADS`)."""
    if threads is not None:
        if threads < 1:
            raise ValueError(f"--threads must be >= 1, got {threads}")
        os.environ[OVERRIDE_ENV] = str(threads)


def thread_plan(cap: int | None = None, *, override: int | None = None) -> ThreadPlan:
    """The policy applied to this machine now: `plan_threads(machine_cores(), load=current_load(), ...)`
    (about 0.25 s on Linux, for the load sample; nothing is sampled when an override applies).

    override: an explicit count; when None, `EDGEFABRIC_THREADS` is used if set.
    """
    chosen = override if override is not None else env_override()
    load = current_load() if chosen is None else 0.0
    return plan_threads(machine_cores(), load=load, cap=cap, override=chosen)
