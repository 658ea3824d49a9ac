"""Shared fixtures. Every test runs with a clean environment for Autotask credentials."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.e2e_support import Api

CREDENTIAL_VARS = (
    "AUTOTASK_USERNAME",
    "AUTOTASK_SECRET",
    "AUTOTASK_INTEGRATION_CODE",
    "AUTOTASK_ZONE_URL",
    "AUTOTASK_DISCOVERY_URL",
    "GITHUB_ACTIONS",
)

#: The installed console script, run as a user would.
TICKET_AUDIT = str(Path(sys.executable).with_name("ticket-audit"))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in CREDENTIAL_VARS:
        monkeypatch.delenv(var, raising=False)


@dataclass(frozen=True)
class DemoRun:
    out: Path
    returncode: int
    stdout: str
    stderr: str


def run_demo(out: Path) -> DemoRun:
    proc = subprocess.run(
        [TICKET_AUDIT, "demo", "--out", str(out)], capture_output=True, text=True, timeout=600
    )
    return DemoRun(out=out, returncode=proc.returncode, stdout=proc.stdout, stderr=proc.stderr)


@pytest.fixture(scope="session")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One `ticket-audit demo` through the installed console script, shared by the session."""
    return run_demo(tmp_path_factory.mktemp("demo") / "out")


@pytest.fixture
def demo_runner() -> Callable[[Path], DemoRun]:
    """Run `ticket-audit demo --out DIR` again (for reproducibility checks)."""
    return run_demo


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    """The small sandbox tenant served over loopback HTTP (one per test module)."""
    from tests.e2e_support import loopback_api

    with loopback_api() as served:
        yield served


@pytest.fixture(scope="module")
def extracted_store(api: Api, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding one extraction of the served tenant (tests copy it before changing it)."""
    from tests.e2e_support import AS_OF, ticket_audit

    where = tmp_path_factory.mktemp("extracted")
    proc = ticket_audit("extract", "--store", where / "store", "--as-of", AS_OF, cwd=where, env=api.env)
    assert proc.returncode == 0, proc.stderr
    return where / "store"
