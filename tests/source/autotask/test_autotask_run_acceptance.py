"""The nightly run against an Autotask that answers as the real one does, through the console script.

Throttling answered as HTTP 500 naming the thread threshold is retried and the run succeeds;
refused credentials (HTTP 500 with a message, or 401) end the run with exit 3 and name the
environment variable to check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.sandbox.emulator import Emulator, FaultPlan, serve_http
from tests.e2e_support import AS_OF, Api, small_tenant, ticket_audit


@pytest.fixture(scope="module")
def throttling_api() -> Iterator[Api]:
    tenant = small_tenant()
    emulator = Emulator(tenant, faults=FaultPlan(0.15, seed=4, kinds=("threads",)))
    with serve_http(emulator) as server:
        yield Api(tenant, emulator, server)


def test_thread_threshold_500s_are_retried_and_the_run_succeeds(throttling_api: Api, tmp_path: Path) -> None:
    proc = ticket_audit(
        "run",
        "--store",
        tmp_path / "store",
        "--out",
        tmp_path / "out",
        "--as-of",
        AS_OF,
        cwd=tmp_path,
        env=throttling_api.env,
    )
    assert proc.returncode == 0, proc.stderr
    assert throttling_api.emulator.stats.faults["threads"] >= 3  # the server did throttle, as 500s
    assert json.loads((tmp_path / "out" / "gate.json").read_text())["exit_code"] == 0
    assert "validation" not in proc.stderr


@pytest.mark.parametrize(
    ("variable", "wrong", "said"),
    [
        ("AUTOTASK_INTEGRATION_CODE", "NOT-THE-CODE", "IntegrationCode is invalid"),
        ("AUTOTASK_USERNAME", "nobody@tenant.invalid", "Zone information could not be determined"),
        ("AUTOTASK_SECRET", "not-the-secret", "HTTP 401"),
    ],
)
def test_refused_credentials_exit_3_naming_the_variable(
    variable: str, wrong: str, said: str, throttling_api: Api, tmp_path: Path
) -> None:
    env = {**throttling_api.env, variable: wrong}
    proc = ticket_audit(
        "run",
        "--store",
        tmp_path / "store",
        "--out",
        tmp_path / "out",
        "--as-of",
        AS_OF,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 3, proc.stderr
    assert "refused the API user's credentials" in proc.stderr and said in proc.stderr
    assert f"Check {variable}" in proc.stderr
    assert wrong not in proc.stderr or variable == "AUTOTASK_USERNAME"  # the secret never printed
    assert not (tmp_path / "store" / "CURRENT").exists()


def test_an_unknown_user_at_discovery_names_the_user_variable(throttling_api: Api, tmp_path: Path) -> None:
    env = {k: v for k, v in throttling_api.env.items() if k != "AUTOTASK_ZONE_URL"}
    env["AUTOTASK_DISCOVERY_URL"] = throttling_api.server.base_url
    env["AUTOTASK_USERNAME"] = "nobody@tenant.invalid"
    proc = ticket_audit("extract", "--store", tmp_path / "store", "--as-of", AS_OF, cwd=tmp_path, env=env)
    assert proc.returncode == 3, proc.stderr
    assert (
        "Zone information could not be determined" in proc.stderr and "Check AUTOTASK_USERNAME" in proc.stderr
    )
