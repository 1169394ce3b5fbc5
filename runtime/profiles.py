"""Device profiles: how many threads, how much context and memory a model may use where it runs.

Evaluating on a laptop with a `phone` profile reproduces the phone's limits (threads,
context window, memory cap) so the figures say something about the target device.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from edgefabric.errors import EdgeFabricError


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    threads: int
    context: int  # tokens: prompt + generation
    memory_mb: int  # cap on the model file + KV cache we accept to load
    max_tokens: int  # generation budget per step
    batch: int = 256  # prompt tokens evaluated per llama.cpp batch

    def effective_threads(self) -> int:
        """Never more threads than this machine has cores: oversubscription only slows llama.cpp down."""
        return max(1, min(self.threads, os.cpu_count() or 1))


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
