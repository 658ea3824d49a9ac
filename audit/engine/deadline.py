"""A time limit for one rule's evaluation: a rule that runs too long is an error, never a pass.

User regexes are checked when they load (``audit.core.userregex``), but some slow shapes pass that
check, and Python's ``re`` cannot be told to stop. It does check for signals while it matches,
so a ``SIGALRM`` timer interrupts it (and any other Python-level work) with :class:`RuleTimeout`.
Signals only reach the main thread: elsewhere (a library caller's worker thread) the limit is
not enforced and the load-time check is the only defence.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from audit.core.errors import RuleTimeout

__all__ = ["RuleTimeout", "time_limit"]


@contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Raise :class:`RuleTimeout` in the block if it runs longer than ``seconds``."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise RuleTimeout(f"{what}: still running after {seconds:g} s, stopped")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
