"""Rows the API user cannot see: the permission gaps ``doctor`` reports and ``run`` logs once."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from audit.app.doctor import run_doctor
from audit.sandbox.client import DEFAULT_SANDBOX_AS_OF, sandbox_client
from audit.sandbox.emulator import Emulator, serve_http
from audit.sandbox.model import Tenant
from audit.source.autotask import visibility_gaps
from tests.e2e_support import AS_OF, Api, small_tenant, ticket_audit


@pytest.fixture(scope="module")
def restricted() -> Tenant:
    """What a restricted API user is served: no non-billable time entry, no internal note."""
    tenant = copy.deepcopy(small_tenant())
    tenant.records["TimeEntries"] = [r for r in tenant.records["TimeEntries"] if not r.get("isNonBillable")]
    for note in tenant.records["TicketNotes"]:
        note["publish"] = 1
    return tenant


def test_no_gap_on_a_tenant_whose_api_user_sees_everything() -> None:
    with sandbox_client(emulator=Emulator(small_tenant())) as client:
        assert visibility_gaps(client.count, DEFAULT_SANDBOX_AS_OF) == []
        assert client.request_count == 4  # two counts per check, no rows read


def test_gaps_name_the_entity_and_the_permission_to_grant(restricted: Tenant) -> None:
    with sandbox_client(emulator=Emulator(restricted)) as client:
        gaps = visibility_gaps(client.count, DEFAULT_SANDBOX_AS_OF)
    assert [g.entity for g in gaps] == ["TimeEntries", "TicketNotes"]
    assert all(g.rows > 0 for g in gaps)
    assert "Can view non-billable time entries" in gaps[0].grant
    assert "internal notes" in gaps[1].message and "internal ticket notes" in gaps[1].grant


def test_doctor_warns_with_what_to_grant(restricted: Tenant, tmp_path: Path) -> None:
    results = run_doctor(store_dir=tmp_path / "s", sandbox=True, emulator=Emulator(restricted), pdf=False)
    visibility = [r for r in results if r.name == "visibility"]
    assert [r.status for r in visibility] == ["warn", "warn"]
    assert "non-billable" in visibility[0].message and "Can view non-billable" in visibility[0].hint
    full = run_doctor(store_dir=tmp_path / "s", sandbox=True, emulator=Emulator(small_tenant()), pdf=False)
    assert [r.status for r in full if r.name == "visibility"] == ["ok"]


def test_run_logs_each_gap_once(restricted: Tenant, tmp_path: Path) -> None:
    emulator = Emulator(restricted)
    with serve_http(emulator) as server:
        api = Api(restricted, emulator, server)
        proc = ticket_audit(
            "run",
            "--store",
            tmp_path / "store",
            "--out",
            tmp_path / "out",
            "--as-of",
            AS_OF,
            cwd=tmp_path,
            env=api.env,
        )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("no non-billable time entries") == 1
    assert proc.stderr.count("no internal notes") == 1
    assert "Can view non-billable time entries" in proc.stderr
