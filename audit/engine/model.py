"""The typed rule model (pydantic) and the compiled rule set.

YAML text -> ``RuleSpec`` (declaration, validated field by field) -> ``Rule`` (with compiled
scope and check nodes) -> evaluated by ``audit.engine.evaluate``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from audit.core.config import SEVERITY_WEIGHTS
from audit.engine.vocabulary import Node

__all__ = [
    "OWNERS",
    "ROW_KINDS",
    "STEPS",
    "Rule",
    "RuleDefaults",
    "RuleSet",
    "RuleSpec",
    "RuleStatus",
]

#: Workflow steps, in procedure order (also the order of rules in every output).
STEPS: tuple[str, ...] = ("intake", "qualification", "sla", "worklog", "escalation", "closure", "postmortem")
#: Row kind of a rule -> the frame its rows come from.
ROW_KINDS: dict[str, str] = {"ticket": "tickets", "note": "notes", "time_entry": "time_entries"}
OWNERS: tuple[str, ...] = ("assigned", "completed_by", "entry", "author")

Severity = Literal["critical", "major", "minor"]
RowKind = Literal["ticket", "note", "time_entry"]
Owner = Literal["assigned", "completed_by", "entry", "author"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, strict=True)


class RuleDefaults(_Strict):
    """A file's ``defaults:``: what every rule of the step shares unless it says otherwise."""

    row: RowKind | None = None
    scope: Any = None
    anchor: str | None = None
    owner: Owner | None = None
    severity: Severity | None = None


class RuleSpec(_Strict):
    """One rule as declared in a rule file (after file defaults are applied)."""

    id: str = Field(pattern=r"^[A-Z]{2,4}-\d{2}$", description="permanent id (never renumbered or reused)")
    name: str = Field(pattern=r"^[a-z]+\.[a-z0-9]+(?:-[a-z0-9]+)*$", description="dotted name: <step>.<what>")
    title: str = Field(min_length=1, description="one line: what passes")
    rationale: str = Field(min_length=1, description="why the rule exists (shown in reports)")
    severity: Severity
    row: RowKind = Field(description="the audited row: ticket, note or time_entry")
    scope: Any = Field(default=None, description="condition: rows the rule applies to (absent: all rows)")
    anchor: str = Field(description="column whose date places a row in a period")
    owner: Owner = Field(description="who a failure is charged to")
    check: Any = Field(description="condition: the row passes when it holds")
    settings: list[str] = Field(default=[], description="mapping settings the rule reads")
    enabled: bool = Field(default=True, description="false: the rule is off unless the config enables it")
    needs: list[Literal["history"]] = Field(
        default=[], description="optional data without which the rule is not measured"
    )
    message: str | None = Field(
        default=None,
        description="finding text: what was found and what was expected; `{name}` prints a value of the failing row "
        "(a name from `values`, or a column) (default: the title, negated)",
    )
    values: dict[str, Any] = Field(
        default={},
        description="named values a message prints: each a value expression (column, udf, lookup, ...)",
    )


@dataclass(frozen=True)
class Rule:
    """A compiled rule: its declaration plus vectorised scope and check."""

    spec: RuleSpec
    step: str
    scope: Node | None
    check: Node
    file: str
    line: int
    #: The message's placeholders, compiled: name -> value node (empty: a fixed message).
    message_values: tuple[tuple[str, Node], ...] = ()

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def kind(self) -> str:
        return ROW_KINDS[self.spec.row]

    @property
    def default_weight(self) -> float:
        return float(SEVERITY_WEIGHTS[self.spec.severity])

    @property
    def message(self) -> str:
        return self.spec.message or f"fails: {self.spec.title}"


@dataclass(frozen=True)
class RuleSet:
    """The rules of a rule folder, in procedure order (step, then id)."""

    rules: tuple[Rule, ...]
    source: str
    digest: str = ""

    def get(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id.upper():
                return rule
        raise KeyError(rule_id)

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.rules]

    @staticmethod
    def digest_of(texts: dict[str, str]) -> str:
        h = hashlib.sha256()
        for name in sorted(texts):
            h.update(name.encode())
            h.update(b"\0")
            h.update(texts[name].encode())
        return h.hexdigest()[:16]


@dataclass
class RuleStatus:
    """How a rule went: ``measured``, ``not_measured`` (needed data absent), ``disabled``, ``error``."""

    status: Literal["measured", "not_measured", "disabled", "error"]
    error: str | None = None
    step: str = ""
    name: str = ""
    title: str = ""
    severity: str = ""
    weight: float = 0.0
    rationale: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
