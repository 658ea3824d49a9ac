"""Progress bars for the long steps (evaluation, rendering): tqdm on a terminal, silent otherwise.

Extraction has its own bars (one per entity, ``audit.source.extract.fetch``); this is the one
helper for the others, so they all look alike and stay quiet in cron jobs and CI logs.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

__all__ = ["progress_bar"]


def progress_bar(total: int, desc: str, unit: str, *, enabled: bool | None = None) -> Any:
    """A tqdm bar on stderr; ``enabled=None`` shows it only when stderr is a terminal."""

    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(
        total=total,
        desc=f"{desc:<28}",
        unit=unit,
        file=sys.stderr,
        leave=False,
        disable=not show,
        dynamic_ncols=True,
    )
