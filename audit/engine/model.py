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
    "KindDefaults",
    "Rule",
    "RuleDefaults",
    "RuleSet",
    "RuleSpec",
    "RuleStatus",
]

#: Workflow steps, in procedure order (also the order of rules in every output).
STEPS: tuple[str, ...] = ("intake", "qualification", "sla", "worklog", "escalation", "closure", "postmortem")
#: Row kinds a rule may audit (the frames its rows come from, spelled as everywhere in the rule
#: files: ``rows:`` of a definition, ``related:``) -> the row's label in a finding's key
#: (``row_kind`` in findings.csv, review workbooks and stored verdicts). The label is also how
#: rule files spelled ``row:`` before, still accepted with a deprecation warning.
ROW_KINDS: dict[str, str] = {"tickets": "ticket", "notes": "note", "time_entries": "time_entry"}
OWNERS: tuple[str, ...] = ("assigned", "completed_by", "entry", "author")

Severity = Literal["critical", "major", "minor"]
RowKind = Literal["tickets", "notes", "time_entries"]
Owner = Literal["assigned", "completed_by", "entry", "author"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, strict=True)


class KindDefaults(_Strict):
    """``defaults: {<row kind>: ...}``: what the step's rules on that row kind share."""

    scope: Any = None
    anchor: str | None = None
    owner: Owner | None = None
    severity: Severity | None = None


class RuleDefaults(KindDefaults):
    """A file's ``defaults:``: what every rule of the step shares unless it says otherwise.

    The keys of ``KindDefaults`` apply to every rule; a block named after a row kind applies
    only to the rules on that kind and wins over them (a rule's own keys win over both).
    """

    row: RowKind | None = None
    tickets: KindDefaults | None = None
    notes: KindDefaults | None = None
    time_entries: KindDefaults | None = None

    def for_kind(self, row: str | None) -> dict[str, Any]:
        """The defaults a rule on ``row`` starts from (``None``: the file's ``row``)."""
        # getattr, not model_dump: a scope keeps the line numbers its LineDict carries.
        data = {k: getattr(self, k) for k in KindDefaults.model_fields if getattr(self, k) is not None}
        if self.row is not None:
            data["row"] = self.row
        row = row or self.row
        block = getattr(self, row) if row in ROW_KINDS else None
        if isinstance(block, KindDefaults):
            data.update(
                {k: getattr(block, k) for k in KindDefaults.model_fields if getattr(block, k) is not None}
            )
        return data


class RuleSpec(_Strict):
    """One rule as declared in a rule file (after file defaults are applied)."""

    id: str = Field(pattern=r"^[A-Z]{2,4}-\d{2}$", description="permanent id (never renumbered or reused)")
    name: str = Field(pattern=r"^[a-z]+\.[a-z0-9]+(?:-[a-z0-9]+)*$", description="dotted name: <step>.<what>")
    title: str = Field(min_length=1, description="one line: what passes")
    rationale: str = Field(min_length=1, description="why the rule exists (shown in reports)")
    severity: Severity
    row: RowKind = Field(description="the audited rows: tickets, notes or time_entries")
    scope: Any = Field(default=None, description="condition: rows the rule applies to (absent: all rows)")
    anchor: str = Field(description="column whose date places a row in a period")
    owner: Owner = Field(description="who a failure is charged to")
    check: Any = Field(description="condition: the row passes when it holds")
    settings: list[str] | None = Field(
        default=None,
        description="mapping settings the rule reads (derived by the compiler; when listed, for the reader, "
        "the list must match)",
    )
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
    #: The mapping settings the rule reads, its definitions' included, in order of first use
    #: (derived by the compiler, never hand-written).
    settings: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def kind(self) -> str:
        """The frame the rule's rows come from (``tickets``, ``notes``, ``time_entries``)."""
        return self.spec.row

    @property
    def row_kind(self) -> str:
        """The rows' label in a finding's key (``ticket``, ``note``, ``time_entry``)."""
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
    #: What loads but should be rewritten (deprecated spellings), each "file:line: [id] what".
    warnings: tuple[str, ...] = ()

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
