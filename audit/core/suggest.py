"""Close-match suggestions for names a user typed ("did you mean …?"): one rule everywhere."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

__all__ = ["close_matches", "did_you_mean"]


def close_matches(name: str, available: Sequence[str]) -> list[str]:
    """The closest names: a case-only difference if any, else difflib's best match (and any
    equally close one: 'N2 - Suport' suggests 'N2 - Support', not every '… - Support')."""
    folded = [a for a in available if a.casefold() == name.casefold()]
    if folded:
        return folded
    close = difflib.get_close_matches(name, list(available), n=3, cutoff=0.6)

    def ratio(candidate: str) -> float:
        return difflib.SequenceMatcher(None, name, candidate).ratio()

    return [c for c in close if ratio(c) == ratio(close[0])] if close else []


def did_you_mean(suggestions: Sequence[str]) -> str:
    return "did you mean " + " or ".join(repr(s) for s in suggestions) + "?"
