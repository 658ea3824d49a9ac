"""Score bands of the reports' heat maps: good / warn / bad from the thresholds or the report's limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audit.core.config import Config

__all__ = ["Limits", "band", "score_limits"]


def band(
    score: float | None,
    threshold: float | None = None,
    *,
    low_sample: bool = False,
    good: float = 90.0,
    warn: float = 75.0,
) -> str:
    """Score band for the heat maps; the template prints a glyph for it, so grey print still reads.

    With a ``threshold`` the band is the gate's verdict: at or above it passes (``good``), below it
    is ``bad`` — or ``warn`` when the sample is too small to fail the gate. Without one, the
    ``good`` / ``warn`` limits (``[report] band_good`` / ``band_warn``) split the scores.
    """
    if score is None:
        return "na"
    if threshold is not None:
        if score + 1e-9 >= threshold:
            return "good"
        return "warn" if low_sample else "bad"
    if score >= good:
        return "good"
    if score >= warn:
        return "warn"
    return "bad"


@dataclass(frozen=True)
class Limits:
    """How the cells of one kind of score are banded: its threshold if one is configured, else the
    report's default bands. Used from the template: ``limits.technician.band(cell)``."""

    threshold: float | None
    good: float
    warn: float

    def band(self, cell: Mapping[str, Any] | float | None) -> str:
        if isinstance(cell, Mapping):
            return band(
                cell.get("score"),
                self.threshold,
                low_sample=bool(cell.get("low_sample")),
                good=self.good,
                warn=self.warn,
            )
        return band(cell, self.threshold, good=self.good, warn=self.warn)

    def glyph(self, cell: Mapping[str, Any] | float | None) -> str:
        return _GLYPHS[self.band(cell)]

    def legend(self) -> list[tuple[str, str]]:
        """(band, text) pairs for the legend."""
        if self.threshold is not None:
            t = f"{self.threshold:g}"
            return [("good", f"✓ ≥ {t}"), ("warn", f"● < {t}, low sample"), ("bad", f"▼ < {t}")]
        return [
            ("good", f"✓ ≥ {self.good:g}"),
            ("warn", f"● {self.warn:g}–{self.good:g}"),
            ("bad", f"▼ < {self.warn:g}"),
        ]


def score_limits(config: Config) -> dict[str, Any]:
    """The band limits of every kind of score, from ``[thresholds]`` and ``[report]``."""
    th, rep = config.thresholds, config.report

    def make(threshold: float | None) -> Limits:
        return Limits(threshold, rep.band_good, rep.band_warn)

    steps = {name.casefold(): make(value) for name, value in th.step.items()}
    return {
        "overall": make(th.overall),
        "technician": make(th.technician),
        "queue": make(th.queue),
        "ticket_compliance": make(th.ticket_compliance),
        "default": make(None),
        "step": lambda name: steps.get(str(name).casefold(), make(None)),
    }


_GLYPHS = {"good": "✓", "warn": "●", "bad": "▼", "na": ""}
