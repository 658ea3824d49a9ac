"""The catalog of plantings: every step module's plantings, in catalog order, and what the
ground truth needs to know about the rules they fail."""

from __future__ import annotations

import functools

from audit.core.config import Config
from audit.engine.loader import load_ruleset
from audit.sandbox.planting import (  # noqa: F401  (importing a step module registers its plantings)
    closure,
    escalation,
    intake,
    postmortem,
    qualification,
    sla,
    worklog,
)
from audit.sandbox.planting._registry import Planting, catalog

__all__ = ["HISTORY_RULES", "NOT_PLANTED", "PLANTINGS", "rule_anchors"]

#: Every planting, in catalog order (the generator's draws run over it in this order).
PLANTINGS: dict[str, Planting] = catalog()

#: Catalog rules with no planting, and why.
NOT_PLANTED: dict[str, str] = {
    "SLA-07": "disabled by default: the sandbox audits the default catalog, where it never fails",
}

#: Planted rule ids that only fail when ticket history is extracted.
HISTORY_RULES = frozenset({"QUA-10", "SLA-05h"})


@functools.cache
def rule_anchors() -> dict[str, str]:
    """Each rule's anchor column (``createDate``, ``completedDate``, ...), read from the bundled
    rule files: the ground truth places a planted failure in the period the engine does."""
    return {rule.spec.id: rule.spec.anchor for rule in load_ruleset(None, Config()).rules}
