"""The rule engine: declarative rule files -> compiled vectorised checks -> findings.

``load_ruleset(path, config)`` reads and validates ``rules/*.yaml`` (``None``: the bundled
rules); ``evaluate(frames, ruleset, config, period=..., as_of=...)`` returns an ``Evaluation``
(findings, tallies, a status per rule). See docs/rules.md for the predicate vocabulary.
"""

from __future__ import annotations

from audit.engine.evaluate import Evaluation, RuleOutcome, evaluate, evaluate_rule
from audit.engine.loader import RuleValidationError, load_ruleset
from audit.engine.model import STEPS, Rule, RuleSet, RuleSpec, RuleStatus
from audit.engine.tables import FINDING_COLUMNS, TALLY_COLUMNS
from audit.engine.vocabulary import PREDICATES, check_function

__all__ = [
    "FINDING_COLUMNS",
    "PREDICATES",
    "STEPS",
    "TALLY_COLUMNS",
    "Evaluation",
    "Rule",
    "RuleOutcome",
    "RuleSet",
    "RuleSpec",
    "RuleStatus",
    "RuleValidationError",
    "check_function",
    "evaluate",
    "evaluate_rule",
    "load_ruleset",
]
