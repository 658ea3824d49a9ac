"""Shared fixtures. Every test runs with a clean environment for Autotask credentials."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

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
    proc = subprocess.run([TICKET_AUDIT, "demo", "--out", str(out)], capture_output=True, text=True, timeout=600)
    return DemoRun(out=out, returncode=proc.returncode, stdout=proc.stdout, stderr=proc.stderr)


@pytest.fixture(scope="session")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One `ticket-audit demo` through the installed console script, shared by the session."""
    return run_demo(tmp_path_factory.mktemp("demo") / "out")


@pytest.fixture
def demo_runner() -> Callable[[Path], DemoRun]:
    """Run `ticket-audit demo --out DIR` again (for reproducibility checks)."""
    return run_demo
