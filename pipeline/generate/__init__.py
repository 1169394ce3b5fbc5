"""Data generation: a topic graph, tool-using conversations with real sandbox execution,
verification, deduplication, splits and a dataset card, resumable after a kill.

Nothing heavy is imported here; litellm and llama_cpp load inside the functions that need them.
"""

from __future__ import annotations
