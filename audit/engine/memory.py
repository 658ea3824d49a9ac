"""Process memory settings for large evaluations.

pyarrow's default allocator (mimalloc or jemalloc) keeps freed buffers for reuse; with
gigabytes of ticket text being stripped, taken and freed, that retained memory shows up as
peak RSS. The system allocator returns large blocks to the OS at once.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["use_system_allocator"]


def use_system_allocator() -> str:
    """Route new Arrow allocations through the system allocator; returns the backend name."""
    pa.set_memory_pool(pa.system_memory_pool())
    return str(pa.default_memory_pool().backend_name)
