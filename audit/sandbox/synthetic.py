"""A synthetic, realistic Evaluation for renderer tests and benchmarks.

Scoring and the renderers only rely on the shape of :class:`audit.results.scoring.EvaluationLike`,
so tests and benchmarks build that shape here without a tenant: the rules are the bundled
catalog (read from ``rules/``), the checks seeded random data. Every failing check is one
finding row, and the tallies are the exact aggregation of the same checks (so ``failed`` in a
tally group equals its findings).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from audit.core.config import SEVERITY_WEIGHTS, Config
from audit.core.period import Period, iso_week
from audit.engine.loader import load_ruleset
from audit.engine.model import Rule
from audit.engine.tables import TALLY_KEYS

__all__ = ["SyntheticEvaluation", "SyntheticRule", "catalog", "make_evaluation"]


@functools.cache
def catalog() -> tuple[Rule, ...]:
    """The bundled rule catalog, read with the engine's loader: the synthetic findings carry
    the real rules' ids, steps, severities, row kinds, names, titles and rationales."""
    return load_ruleset(None, Config()).rules


_FIRST = (
    "Alice",
    "Bruno",
    "Chloé",
    "Dmitri",
    "Emma",
    "Farid",
    "Grace",
    "Hugo",
    "Inès",
    "Jonas",
    "Kenji",
    "Léa",
    "Marta",
    "Nils",
    "Olga",
    "Pablo",
    "Quentin",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Yara",
)
_LAST = (
    "Martin",
    "Dubois",
    "O'Brien",
    "Nguyen",
    "Schmidt",
    "Rossi",
    "Kowalski",
    "García",
    "Smith",
    "Haddad",
    "Okafor",
    "Larsen",
    "Moreau",
    "Tanaka",
    "Petrov",
    "Silva",
)
_QUEUES = (
    "N1 - Helpdesk",
    "N2 - Support",
    "Network",
    "Security",
    "Onboarding",
    "Field Service",
    "Cloud",
    "Printing",
    "Telephony",
    "Backup",
)


@dataclass(frozen=True)
class SyntheticRule:
    """The fields scoring reads of ``Evaluation.rules[id]``."""

    status: str
    title: str
    step: str
    severity: str
    rationale: str
    name: str
    error: str | None = None


@dataclass
class SyntheticEvaluation:
    findings: pd.DataFrame
    tallies: pd.DataFrame
    rules: Mapping[str, SyntheticRule]
    tenant_name: str = "Contoso Managed Services"
    tenant_id: str = "29683512"
    zone: str = "webservices16.autotask.net"
    web_url: str = "https://ww16.autotask.net/"
    ruleset_version: str = "2026.11-1"
    period: Period | None = None
    as_of: datetime | None = None
    tickets: pd.DataFrame = field(default_factory=pd.DataFrame)
    ticket_checks: pd.DataFrame | None = None


def make_evaluation(
    *,
    seed: int = 7,
    technicians: int = 12,
    queues: int = 4,
    tickets_per_tech_week: float = 4.0,
    weeks: int = 8,
    end_week: str = "2026-W47",
    waived_share: float = 0.03,
    statuses: Mapping[str, str] | None = None,
    titles: Mapping[int, str] | None = None,
    messages: Mapping[int, str] | None = None,
) -> SyntheticEvaluation:
    """A seeded evaluation over ``weeks`` ISO weeks ending with ``end_week``.

    ``statuses`` overrides rule statuses (default: QUA-10 not_measured, SLA-07 disabled).
    ``titles``/``messages`` override the ticket title / finding messages of the n-th ticket of the
    last week (for injection tests: formula-looking titles, HTML in ticket text).
    """
    rng = np.random.default_rng(seed)
    period = Period.from_week(end_week)
    week_periods = period.weeks_back(weeks)
    status_of = {"QUA-10": "not_measured", "SLA-07": "disabled", **(statuses or {})}

    tech_ids = np.arange(29682000, 29682000 + technicians)
    tech_names = [
        f"{_FIRST[i % len(_FIRST)]} {_LAST[(i // len(_FIRST) + i) % len(_LAST)]}"
        + (f" {i // (len(_FIRST) * len(_LAST)) + 1}" if i >= len(_FIRST) * len(_LAST) else "")
        for i in range(technicians)
    ]
    skill = rng.beta(8, 1.6, size=technicians)  # most technicians are good, a few are not
    queue_ids = np.arange(5, 5 + queues)
    queue_names = [
        _QUEUES[i % len(_QUEUES)] + (f" {i // len(_QUEUES) + 1}" if i >= len(_QUEUES) else "")
        for i in range(queues)
    ]

    # Tickets: technician (3% unassigned), queue, week, anchor day.
    n_tickets = max(1, int(technicians * weeks * tickets_per_tech_week))
    t_tech = rng.integers(0, technicians, n_tickets)
    unassigned = rng.random(n_tickets) < 0.03
    t_queue = rng.integers(0, queues, n_tickets)
    t_week = rng.integers(0, weeks, n_tickets)
    t_day = rng.integers(0, 7, n_tickets)
    ticket_ids = np.arange(100000, 100000 + n_tickets)
    anchors = [
        datetime.combine(week_periods[w].start + timedelta(days=int(d)), datetime.min.time(), UTC)
        + timedelta(hours=8 + int(i % 9), minutes=int(i % 60))
        for i, (w, d) in enumerate(zip(t_week, t_day, strict=True))
    ]
    numbers = [f"T{a:%Y%m%d}.{i % 10000:04d}" for i, a in enumerate(anchors)]
    ticket_titles = [f"Customer {i % 37} - Service {i % 5} - Issue {i}" for i in range(n_tickets)]
    # Overrides address the tickets of the last (reported) week, so they always reach the reports.
    last_week = np.nonzero(t_week == weeks - 1)[0]
    last_week = last_week if last_week.size else np.arange(n_tickets)
    for index, text in (titles or {}).items():
        ticket_titles[int(last_week[index % last_week.size])] = text

    rules = {
        rule.spec.id: SyntheticRule(
            status=status_of.get(rule.spec.id, "measured"),
            title=rule.spec.title,
            step=rule.step,
            severity=rule.spec.severity,
            rationale=rule.spec.rationale,
            name=rule.spec.name,
            error="synthetic failure" if status_of.get(rule.spec.id) == "error" else None,
        )
        for rule in catalog()
    }
    measured = [
        (rule.spec.id, rule.step, rule.spec.severity, rule.row_kind)
        for rule in catalog()
        if rules[rule.spec.id].status == "measured"
    ]
    applies = rng.uniform(0.25, 1.0, size=len(measured))
    ease = rng.uniform(0.85, 1.0, size=len(measured))

    # Checks: ticket x rule, vectorised.
    t_idx = np.repeat(np.arange(n_tickets), len(measured))
    r_idx = np.tile(np.arange(len(measured)), n_tickets)
    keep = rng.random(t_idx.size) < applies[r_idx]
    t_idx, r_idx = t_idx[keep], r_idx[keep]
    p_pass = np.clip(skill[t_tech[t_idx]] * ease[r_idx] + 0.08, 0, 0.995)
    passed = rng.random(t_idx.size) < p_pass

    tech_id_col = pd.array(np.where(unassigned[t_idx], 0, tech_ids[t_tech[t_idx]]), dtype="Int64")
    tech_id_col[unassigned[t_idx]] = pd.NA
    tech_name_col = np.array(tech_names, dtype=object)[t_tech[t_idx]]
    tech_name_col[unassigned[t_idx]] = None
    rule_arr = np.array([r[0] for r in measured], dtype=object)
    step_arr = np.array([r[1] for r in measured], dtype=object)
    sev_arr = np.array([r[2] for r in measured], dtype=object)
    kind_arr = np.array([r[3] for r in measured], dtype=object)
    weight_arr = np.array([SEVERITY_WEIGHTS[r[2]] for r in measured], dtype=float)
    week_labels = np.array([iso_week(p.start) for p in week_periods], dtype=object)
    checks = pd.DataFrame(
        {
            "rule_id": rule_arr[r_idx],
            "step": step_arr[r_idx],
            "severity": sev_arr[r_idx],
            "weight": weight_arr[r_idx],
            "technician_id": tech_id_col,
            "technician": tech_name_col,
            "queue_id": pd.array(queue_ids[t_queue[t_idx]], dtype="Int64"),
            "queue": np.array(queue_names, dtype=object)[t_queue[t_idx]],
            "week": week_labels[t_week[t_idx]],
            "passed": passed,
            "_t": t_idx,
            "_r": r_idx,
        }
    )
    tallies = (
        checks.groupby(list(TALLY_KEYS), dropna=False, sort=True)
        .agg(applicable=("passed", "size"), passed=("passed", "sum"))
        .reset_index()
    )
    tallies["passed"] = tallies["passed"].astype("int64")
    tallies["failed"] = tallies["applicable"] - tallies["passed"]

    ticket_checks = (
        checks[["_t", "technician_id", "queue_id", "step", "week"]]
        .drop_duplicates()
        .assign(ticket_id=lambda f: pd.array(ticket_ids[f["_t"].to_numpy()], dtype="Int64"))[
            ["ticket_id", "technician_id", "queue_id", "step", "week"]
        ]
        .reset_index(drop=True)
    )

    failed = checks[~checks["passed"]].copy()
    ft = failed["_t"].to_numpy()
    kinds = kind_arr[failed["_r"].to_numpy()]
    row_ids = np.where(kinds == "ticket", ticket_ids[ft], ticket_ids[ft] * 10 + failed["_r"].to_numpy() % 7)
    messages_col = [
        f"{rule_arr[r]} failed on {numbers[t]}: {rules[rule_arr[r]].title.lower()}"
        for t, r in zip(ft, failed["_r"].to_numpy(), strict=True)
    ]
    for index, text in (messages or {}).items():
        for pos in np.nonzero(ft == last_week[index % last_week.size])[0]:
            messages_col[pos] = text
    findings = pd.DataFrame(
        {
            "rule_id": failed["rule_id"].to_numpy(),
            "rule_name": [rules[r].name for r in failed["rule_id"]],
            "step": failed["step"].to_numpy(),
            "severity": failed["severity"].to_numpy(),
            "weight": failed["weight"].to_numpy(),
            "ticket_id": ticket_ids[ft],
            "ticket_number": np.array(numbers, dtype=object)[ft],
            "ticket_title": np.array(ticket_titles, dtype=object)[ft],
            "row_kind": kinds,
            "row_id": row_ids,
            "technician_id": failed["technician_id"].array,
            "technician": failed["technician"].to_numpy(),
            "queue_id": failed["queue_id"].array,
            "queue": failed["queue"].to_numpy(),
            "anchor_date": pd.to_datetime([anchors[t] for t in ft], utc=True),
            "week": failed["week"].to_numpy(),
            "message": messages_col,
            "waived": rng.random(len(failed)) < waived_share,
            "ticket_url": [
                f"https://ww16.autotask.net/Mvc/ServiceDesk/TicketDetail.mvc?ticketId={ticket_ids[t]}"
                for t in ft
            ],
        }
    )
    findings = findings.sort_values(["rule_id", "ticket_number", "row_kind", "row_id"], kind="stable")
    findings = findings.reset_index(drop=True)
    tickets = pd.DataFrame({"ticket_id": ticket_ids, "ticket_number": numbers, "title": ticket_titles})
    as_of = datetime.combine(period.end + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=6)
    return SyntheticEvaluation(
        findings=findings,
        tallies=tallies,
        rules=rules,
        period=period,
        as_of=as_of,
        tickets=tickets,
        ticket_checks=ticket_checks,
    )
