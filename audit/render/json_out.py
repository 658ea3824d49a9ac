"""``summary.json``: the scoring document with sorted keys, so identical input gives identical bytes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["dumps_summary", "write_summary_json"]


def dumps_summary(summary: Mapping[str, Any]) -> str:
    # allow_nan=False: a NaN score would be invalid JSON for most consumers; scoring emits None.
    return json.dumps(summary, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_summary_json(summary: Mapping[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps_summary(summary), encoding="utf-8")
    return path
