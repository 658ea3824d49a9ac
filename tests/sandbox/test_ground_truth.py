"""The whole catalog on the sandbox tenant: the engine finds exactly the planted violations.

The real path end to end: the tenant is served over HTTP on loopback by the emulator, extracted
by the real client and extractor into a store, loaded into frames and evaluated. Precision and
recall must be 1.0 for every rule, with and without TicketHistory.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from audit.app.extract import extract
from audit.core.config import Config, ExtractSettings
from audit.core.period import Period
from audit.engine import evaluate, load_ruleset
from audit.engine.frames import load_frames
from audit.sandbox.emulator import Emulator, serve_http
from audit.sandbox.generator import generate_tenant, mutate_tenant
from audit.sandbox.model import Tenant
from audit.source.autotask import AutotaskClient, Credentials
from audit.store.snapshot import Store

KEY = ["rule_id", "row_kind", "row_id"]
CATALOG = {
    "INT": 5,
    "QUA": 10,
    "SLA": 7,
    "LOG": 7,
    "ESC": 6,
    "CLO": 5,
    "PM": 3,
}


def _extract(tenant: Tenant, store: Store, config: Config, *, as_of: datetime | None = None) -> None:
    emulator = Emulator(tenant)
    creds = emulator.credentials
    with serve_http(emulator) as server:
        client = AutotaskClient(
            server.zone_url, Credentials(creds.username, creds.secret, creds.integration_code), seed=0
        )
        with client:
            extract(client, store, config, as_of=as_of or tenant.as_of, progress=False)


def _evaluate_store(tenant: Tenant, store_dir: Path, config: Config) -> tuple[pd.DataFrame, dict]:
    frames = load_frames(Store(store_dir), config)
    ruleset = load_ruleset(None, config)
    everything = Period((tenant.as_of - timedelta(days=120)).date(), tenant.as_of.date())
    evaluation = evaluate(frames, ruleset, config, period=everything, as_of=tenant.as_of)
    statuses = {rid: s.status for rid, s in evaluation.rules.items()}
    return evaluation.findings, statuses


def _evaluate_tenant(tenant: Tenant, store_dir: Path, *, with_history: bool) -> tuple[pd.DataFrame, dict]:
    config = Config(extract=ExtractSettings(include_history=with_history, initial_days=120))
    _extract(tenant, Store(store_dir), config)
    return _evaluate_store(tenant, store_dir, config)


def _keys(frame: pd.DataFrame) -> set[tuple[str, str, int]]:
    return {(str(r), str(k), int(i)) for r, k, i in frame[KEY].itertuples(index=False)}


@pytest.mark.parametrize(("seed", "with_history"), [(7, False), (7, True), (23, False)])
def test_engine_finds_exactly_the_planted_violations(tmp_path: Path, seed: int, with_history: bool) -> None:
    tenant = generate_tenant(seed, tickets=400)
    truth = tenant.ground_truth
    if not with_history:
        truth = truth[~truth["needs_history"]]
    findings, statuses = _evaluate_tenant(tenant, tmp_path / "store", with_history=with_history)

    rule_ids = set(statuses)
    assert {rid.split("-")[0] for rid in rule_ids} == set(CATALOG)
    for prefix, count in CATALOG.items():
        assert sum(r.startswith(prefix + "-") for r in rule_ids) == count, prefix
    assert statuses["SLA-07"] == "disabled"
    assert statuses["QUA-10"] == ("measured" if with_history else "not_measured")

    found, planted = _keys(findings), _keys(truth)
    for rule_id in sorted(rule_ids):
        got = {k for k in found if k[0] == rule_id}
        want = {k for k in planted if k[0] == rule_id}
        assert got == want, (
            f"{rule_id}: false positives {sorted(got - want)[:5]}, missed {sorted(want - got)[:5]}"
        )
    # Every measured rule of the catalog has planted violations, so the check above is not vacuous.
    measured = {r for r, s in statuses.items() if s == "measured"}
    assert {k[0] for k in planted} == measured
    # Anchors agree too: the period a finding is reported in is the one the catalog defines.
    merged = findings.merge(truth, on=KEY, suffixes=("", "_truth"))
    assert len(merged) == len(truth)
    assert (merged["anchor_date"] == merged["anchor_date_truth"]).all()


def _assert_findings_are_the_truth(findings: pd.DataFrame, truth: pd.DataFrame) -> None:
    found, planted = _keys(findings), _keys(truth)
    assert found == planted, (
        f"false positives {sorted(found - planted)[:5]}, missed {sorted(planted - found)[:5]}"
    )
    merged = findings.merge(truth, on=KEY, suffixes=("", "_truth"))
    assert len(merged) == len(truth) and (merged["anchor_date"] == merged["anchor_date_truth"]).all()


def test_incremental_run_after_deleted_children_finds_the_ground_truth(tmp_path: Path) -> None:
    """Notes, time entries and attachments deleted in the tenant (logged in
    DeletedTicketActivityLogs) stop producing findings after the next incremental run."""
    tenant = generate_tenant(7, tickets=400)
    config = Config(extract=ExtractSettings(initial_days=120))
    store = Store(tmp_path / "store")
    _extract(tenant, store, config)
    changes = mutate_tenant(
        tenant, 0.02, seed=12, at=tenant.as_of + timedelta(days=1), deletions=2, deleted_children=15
    )
    assert all(changes["deleted_children"][e] for e in ("TicketNotes", "TimeEntries", "TicketAttachments"))
    _extract(tenant, Store(tmp_path / "store"), config)  # incremental: the store has a snapshot
    findings, _ = _evaluate_store(tenant, tmp_path / "store", config)
    truth = tenant.ground_truth[~tenant.ground_truth["needs_history"]]
    _assert_findings_are_the_truth(findings, truth)
