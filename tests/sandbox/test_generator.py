"""The sandbox tenant generator: determinism, shape of the data, planted violations, mutation."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from audit.core.period import Period
from audit.sandbox.generator import DEFAULT_AS_OF, GROUND_TRUTH_COLUMNS, generate_tenant, mutate_tenant
from audit.sandbox.model import Tenant
from audit.source.records import records_to_frame
from audit.source.schema import ENTITIES, FieldType

CATALOG_RULES = (
    [f"INT-0{i}" for i in range(1, 6)]
    + [f"QUA-{i:02d}" for i in range(1, 11)]
    + [f"SLA-0{i}" for i in range(1, 7)]
    + [f"LOG-0{i}" for i in range(1, 8)]
    + [f"ESC-0{i}" for i in range(1, 7)]
    + [f"CLO-0{i}" for i in range(1, 6)]
    + [f"PM-0{i}" for i in range(1, 4)]
)  # SLA-07 is off by default: nothing planted


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    return generate_tenant(7)


def _picklist(tenant: Tenant, entity: str, field: str) -> dict[str, dict]:
    spec = next(f for f in tenant.fields[entity] if f["name"] == field)
    return {v["label"]: v for v in spec["picklistValues"]}


def test_same_seed_same_records_other_seed_differs() -> None:
    a, b, c = (
        generate_tenant(3, tickets=300),
        generate_tenant(3, tickets=300),
        generate_tenant(4, tickets=300),
    )
    assert a.records == b.records
    pd.testing.assert_frame_equal(a.ground_truth, b.ground_truth)
    assert a.records["Tickets"] != c.records["Tickets"]


def test_every_schema_field_on_every_record(tenant: Tenant) -> None:
    for name, spec in ENTITIES.items():
        rows = tenant.records[name]
        if name not in ("DeletedTicketLogs", "DeletedTicketActivityLogs"):
            assert rows, name
        for row in rows:
            assert set(spec.fields) <= row.keys(), (name, set(spec.fields) - row.keys())
        assert {f["name"] for f in tenant.fields[name]} == set(spec.fields)
    for t in tenant.records["Tickets"]:
        assert [u["name"] for u in t["userDefinedFields"]] == [
            "Impact",
            "Urgency",
            "On-call",
            "Vendor Case ID",
        ]
    assert [u["name"] for u in tenant.udfs["Tickets"]] == ["Impact", "Urgency", "On-call", "Vendor Case ID"]


def test_records_parse_with_the_shared_normalisation(tenant: Tenant) -> None:
    for name in ("Tickets", "TicketNotes", "TimeEntries", "TicketAttachments", "TicketHistory"):
        spec, rows = ENTITIES[name], tenant.records[name]
        frame = records_to_frame(spec, rows)
        for fname, ftype in spec.fields.items():
            if ftype is FieldType.DATETIME:  # every non-null text parses
                assert frame[fname].isna().sum() == sum(r[fname] is None for r in rows), (name, fname)
    ids = [t["id"] for t in tenant.records["Tickets"]]
    assert ids == sorted(set(ids))
    assert all(re.fullmatch(r"T\d{8}\.\d{4}", t["ticketNumber"]) for t in tenant.records["Tickets"])
    assert len({t["ticketNumber"] for t in tenant.records["Tickets"]}) == len(ids)


def test_picklists_are_tenant_specific(tenant: Tenant) -> None:
    status = _picklist(tenant, "Tickets", "status")
    assert {
        "New",
        "In Progress",
        "Complete",
        "Escalate",
        "Waiting Vendor",
        "Waiting Customer",
    } <= status.keys()
    assert status["Complete"]["value"] != "5" and status["New"]["value"] != "1"
    assert all(isinstance(v["value"], str) for v in status.values())
    priority = _picklist(tenant, "Tickets", "priority")
    assert {"Critical", "High", "Medium", "Low"} <= priority.keys()
    assert (priority["High"]["value"], priority["Critical"]["value"]) != ("1", "4")
    assert _picklist(tenant, "Tickets", "source")["Email"]["value"] != "4"
    publish = _picklist(tenant, "TicketNotes", "publish")
    assert set(publish) == {"All Autotask Users", "Internal Project Team", "Internal & Co-Managed"}
    assert publish["All Autotask Users"]["value"] != "1"
    note_types = _picklist(tenant, "TicketNotes", "noteType")
    assert {"Task Notes", "Workflow Rule Note", "RMM"} <= note_types.keys()
    assert note_types["Task Notes"]["value"] != "3"
    issues = {v["value"] for v in _picklist(tenant, "Tickets", "issueType").values()}
    subs = _picklist(tenant, "Tickets", "subIssueType").values()
    assert subs and all(v["parentValue"] in issues for v in subs)
    # Records carry integers, and only values the picklists define.
    values = {int(v["value"]) for v in status.values()}
    assert all(isinstance(t["status"], int) and t["status"] in values for t in tenant.records["Tickets"])


def test_reference_data(tenant: Tenant) -> None:
    companies = {c["id"] for c in tenant.records["Companies"]}
    assert 0 in companies
    assert 20 <= sum(r["firstName"] not in ("API", "Workflow") for r in tenant.records["Resources"]) <= 30
    assert {c["isActive"] for c in tenant.records["Contacts"]} == {0, 1}
    assert all(type(c["isActive"]) is int for c in tenant.records["Contacts"])
    assert all(c["companyID"] in companies for c in tenant.records["Contacts"])
    assert tenant.records["BillingCodes"]
    assert any(e["ticketID"] is None for e in tenant.records["TimeEntries"])  # project work
    assert tenant.records["DeletedTicketLogs"] == []


def test_realistic_mix(tenant: Tenant) -> None:
    tickets = tenant.records["Tickets"]
    status = {int(v["value"]): k for k, v in _picklist(tenant, "Tickets", "status").items()}
    source = {int(v["value"]): k for k, v in _picklist(tenant, "Tickets", "source").items()}
    closed = sum(status[t["status"]] == "Complete" for t in tickets) / len(tickets)
    email = sum(source.get(t["source"]) == "Email" for t in tickets) / len(tickets)
    assert 0.6 < closed < 0.95 and 0.3 < email < 0.6
    created = [datetime.fromisoformat(t["createDate"].replace("Z", "+00:00")) for t in tickets]
    created = [c if c.tzinfo else c.replace(tzinfo=UTC) for c in created]
    assert min(created) >= DEFAULT_AS_OF - timedelta(weeks=10) and max(created) < DEFAULT_AS_OF


def test_every_rule_is_planted_in_the_last_full_week(tenant: Tenant) -> None:
    gt = tenant.ground_truth
    assert tuple(gt.columns) == GROUND_TRUTH_COLUMNS
    assert str(gt["anchor_date"].dtype) == "datetime64[us, UTC]"
    week = Period.last_full_week(tenant.as_of)
    in_week = gt[(gt.anchor_date >= week.start_instant) & (gt.anchor_date < week.end_instant)]
    for rule in CATALOG_RULES:
        assert (gt.rule_id == rule).sum() >= 2, rule
        assert (in_week.rule_id == rule).sum() >= 1, rule
    assert "SLA-07" not in set(gt.rule_id)
    assert set(gt[gt.needs_history].rule_id) == {"QUA-10", "SLA-05"}
    # realistic rates: a minority of tickets carries a defect
    assert gt.ticket_id.nunique() < 0.45 * len(tenant.records["Tickets"])
    kinds = gt.groupby("rule_id").row_kind.first()
    assert kinds["LOG-03"] == "note" and kinds["LOG-04"] == "time_entry" and kinds["INT-01"] == "ticket"


def test_adversarial_text_present(tenant: Tenant) -> None:
    tickets, notes = tenant.records["Tickets"], tenant.records["TicketNotes"]
    titles = [t["title"] or "" for t in tickets]
    assert any(t.startswith("=HYPERLINK(") for t in titles) or any(t[:1] in "=+@-" for t in titles)
    descriptions = [t["description"] for t in tickets]
    assert any(d and "<p>" in d for d in descriptions)
    assert any(d and '<img src="http://127.0.0.1:9/x.png">' in d for d in descriptions)
    assert None in descriptions and "" in descriptions
    assert any(re.search(r"[\U0001F300-\U0001FAFF]", f"{t['title']}{t['description']}") for t in tickets)
    assert sum(len(n["description"] or "") >= 30_000 for n in notes) >= 3
    assert all(len(n["description"] or "") <= 32_000 for n in notes)
    assert any(not t["createDate"].endswith("Z") for t in tickets)  # older tenants' style
    assert any(
        re.search(r"\.\d{1,2}Z$", t["createDate"]) or t["createDate"].endswith(":00Z") for t in tickets
    )


@pytest.mark.slow
def test_scale_smoke() -> None:
    started = time.perf_counter()
    big = generate_tenant(11, tickets=20_000)
    elapsed = time.perf_counter() - started
    assert len(big.records["Tickets"]) == 20_000
    assert len(big.records["TicketNotes"]) > 40_000
    assert elapsed < 120, elapsed  # generous: a shared 2-core box; typically ~5 s


def test_mutate_bumps_watermarks_adds_and_logs_deletions() -> None:
    tenant = generate_tenant(5, tickets=400)
    at = DEFAULT_AS_OF + timedelta(hours=20)
    before = {t["id"] for t in tenant.records["Tickets"]}
    report = mutate_tenant(tenant, 0.02, seed=9, at=at, deletions=3)
    stamp = report["at"]
    assert stamp.startswith("2026-11-24T02:00:00")
    tickets = {t["id"]: t for t in tenant.records["Tickets"]}
    assert report["changed"]["Tickets"] and all(
        tickets[i]["lastActivityDate"] == stamp for i in report["changed"]["Tickets"]
    )
    notes = {n["id"]: n for n in tenant.records["TicketNotes"]}
    assert report["changed"]["TicketNotes"] and all(
        notes[i]["lastActivityDate"] == stamp for i in report["changed"]["TicketNotes"]
    )
    entries = {e["id"]: e for e in tenant.records["TimeEntries"]}
    assert all(entries[i]["lastModifiedDateTime"] == stamp for i in report["changed"]["TimeEntries"])
    deleted = set(report["deleted"]["Tickets"])
    assert len(deleted) == 3 and deleted <= before and not deleted & tickets.keys()
    logs = tenant.records["DeletedTicketLogs"]
    assert {row["ticketID"] for row in logs} == deleted and all(
        row["deletedDateTime"] == stamp for row in logs
    )
    for entity in (
        "TicketNotes",
        "TimeEntries",
        "TicketAttachments",
        "ServiceLevelAgreementResults",
        "TicketHistory",
    ):
        assert not any(row["ticketID"] in deleted for row in tenant.records[entity]), entity
    added = report["added"]["Tickets"]
    assert added and min(added) > max(before) and set(added) <= tickets.keys()
    assert len({t["ticketNumber"] for t in tickets.values()}) == len(tickets)
    assert not set(tenant.ground_truth.ticket_id) & deleted
    assert tenant.as_of == at


def test_no_row_is_dated_after_the_tenant_now(tenant: Tenant) -> None:
    """A record's own dates are never ahead of the tenant's as-of (the server's "now"), so the
    extractor's future-date guard stays quiet on the sandbox."""
    for name, spec in ENTITIES.items():
        if spec.watermark is None:
            continue
        frame = records_to_frame(spec, tenant.records[name])
        assert not (frame[spec.watermark] > pd.Timestamp(tenant.as_of)).any(), name
