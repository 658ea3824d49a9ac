"""Shared fixtures. Every test runs with a clean environment for Autotask credentials."""

from __future__ import annotations

import pytest

CREDENTIAL_VARS = (
    "AUTOTASK_USERNAME",
    "AUTOTASK_SECRET",
    "AUTOTASK_INTEGRATION_CODE",
    "AUTOTASK_ZONE_URL",
    "AUTOTASK_DISCOVERY_URL",
    "GITHUB_ACTIONS",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in CREDENTIAL_VARS:
        monkeypatch.delenv(var, raising=False)
