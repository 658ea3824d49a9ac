"""Ticket compliance: the share of tickets with at least one applicable check and no unwaived
finding, per period and by any grouping of technician, queue and step."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from audit.engine.tables import TICKET_CHECK_COLUMNS
from audit.results.summary import (
    EntitySummary,
    EvaluationLike,
    ScoreCell,
    StepSummary,
    TicketCompliance,
    ratio,
)

__all__ = ["Compliance", "add_compliance", "compliance_cell", "ticket_compliance"]


# --------------------------------------------------------------------------- ticket compliance


def _key_column(ids: pd.Series) -> pd.Series:
    """Entity keys (the id as text, ``"unassigned"`` for none) of a whole column, vectorised."""
    numbers = pd.to_numeric(ids, errors="coerce").astype("Int64")
    return numbers.astype("string").fillna("unassigned").astype(str)


def compliance_cell(tickets: int, failing: int) -> TicketCompliance:
    compliant = max(0, tickets - failing)
    return TicketCompliance(tickets=tickets, compliant=compliant, rate=ratio(compliant, tickets))


@dataclass(frozen=True)
class Compliance:
    """Ticket compliance of the period, by any grouping of technician, queue and step.

    ``checks``: tickets with at least one applicable check (the engine's ``ticket_checks``);
    ``failing``: the same keys of the unwaived findings. A ticket is compliant in a group when it
    has a check there and no unwaived finding there.
    """

    checks: pd.DataFrame
    failing: pd.DataFrame

    def table(self, keys: list[str]) -> dict[Any, TicketCompliance]:
        if self.checks.empty:
            return {}
        tickets = self.checks.groupby(keys, sort=True, observed=True)["ticket_id"].nunique()
        failing = (
            self.failing.groupby(keys, sort=True, observed=True)["ticket_id"].nunique()
            if not self.failing.empty
            else pd.Series(dtype="int64")
        )
        out: dict[Any, TicketCompliance] = {}
        for index, count in tickets.items():
            key = index if isinstance(index, tuple) else (index,)
            out[key] = compliance_cell(int(count), int(failing.get(index, 0)))
        return out

    def overall(self) -> TicketCompliance:
        tickets = int(self.checks["ticket_id"].nunique()) if not self.checks.empty else 0
        failing = int(self.failing["ticket_id"].nunique()) if not self.failing.empty else 0
        return compliance_cell(tickets, failing)


def _compliance_frame(frame: pd.DataFrame, weeks: set[str] | None) -> pd.DataFrame:
    """``frame`` (ticket checks or findings) reduced to (ticket_id, _tech, _queue, step) keys."""
    if weeks is not None and "week" in frame.columns:
        frame = frame[frame["week"].astype(str).isin(weeks)]
    frame = frame[frame["ticket_id"].notna()]
    return pd.DataFrame(
        {
            "ticket_id": pd.to_numeric(frame["ticket_id"]).astype("int64").to_numpy(),
            "_tech": _key_column(frame["technician_id"]).to_numpy(),
            "_queue": _key_column(frame["queue_id"]).to_numpy(),
            "step": frame["step"].astype(str).to_numpy(),
        }
    )


def ticket_compliance(evaluation: EvaluationLike, weeks: set[str] | None = None) -> Compliance | None:
    """Ticket compliance of ``evaluation`` (restricted to ISO ``weeks`` when given); ``None`` when
    the evaluation carries no ``ticket_checks`` (an engine or fixture that predates them)."""
    checks = getattr(evaluation, "ticket_checks", None)
    if checks is None:
        return None
    findings = evaluation.findings if evaluation.findings is not None else pd.DataFrame()
    measured = {
        rid for rid, info in evaluation.rules.items() if getattr(info, "status", "measured") == "measured"
    }
    if not findings.empty:
        open_ = ~findings["waived"].fillna(False).astype(bool) if "waived" in findings.columns else True
        findings = findings[open_ & findings["rule_id"].astype(str).isin(measured)]
    empty = pd.DataFrame(columns=list(TICKET_CHECK_COLUMNS))
    return Compliance(
        checks=_compliance_frame(checks if not checks.empty else empty, weeks),
        failing=_compliance_frame(findings if not findings.empty else empty, weeks),
    )


def add_compliance(
    compliance: Compliance,
    overall: ScoreCell,
    steps: Mapping[str, StepSummary],
    technicians: list[EntitySummary],
    queues: list[EntitySummary],
) -> None:
    """Put ``ticket_compliance`` beside every score of the period (overall, step, entity, entity step)."""
    none = compliance_cell(0, 0)
    overall["ticket_compliance"] = compliance.overall()
    by_step = compliance.table(["step"])
    for name, step in steps.items():
        step["ticket_compliance"] = by_step.get((name,), none)
    for entities, column in ((technicians, "_tech"), (queues, "_queue")):
        totals = compliance.table([column])
        per_step = compliance.table([column, "step"])
        for entity in entities:
            entity["ticket_compliance"] = totals.get((entity["key"],), none)
            for name, cell in entity["steps"].items():
                cell["ticket_compliance"] = per_step.get((entity["key"], name), none)
