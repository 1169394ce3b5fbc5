"""Device profiles: how many threads, how much context and memory a model may use where it runs.

Evaluating on a laptop with a `phone` profile reproduces the phone's limits (threads,
context window, memory cap) so the figures say something about the target device.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.threads import ThreadPlan, thread_plan


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    threads: int
    context: int  # tokens: prompt + generation
    memory_mb: int  # cap on the model file + KV cache we accept to load
    max_tokens: int  # generation budget per step
    batch: int = 256  # prompt tokens evaluated per llama.cpp batch

    def thread_plan(self) -> ThreadPlan:
        """Thread counts for a context under this profile: `threads` is a cap (what the device has), and
        the machine's thread policy (`edgefabric.runtime.threads`) never gives more than it can spare."""
        return thread_plan(cap=self.threads)

    def effective_threads(self) -> int:
        """Generation threads under this profile on this machine (see `thread_plan`)."""
        return self.thread_plan().generation


PROFILES: dict[str, DeviceProfile] = {
    "phone": DeviceProfile("phone", threads=4, context=2048, memory_mb=1536, max_tokens=256, batch=128),
    "raspberry-pi": DeviceProfile("raspberry-pi", threads=4, context=2048, memory_mb=2048, max_tokens=256, batch=64),
    "laptop": DeviceProfile("laptop", threads=8, context=4096, memory_mb=8192, max_tokens=512),
    "desktop": DeviceProfile("desktop", threads=16, context=8192, memory_mb=32768, max_tokens=1024, batch=512),
}


def get_profile(name: str) -> DeviceProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise EdgeFabricError(f"unknown device profile {name!r}", f"use one of: {', '.join(PROFILES)}") from None
