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


@pytest.fixture(scope="session")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> "DemoRun":
    """One `ticket-audit demo` through the installed console script, shared by the session."""
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path_factory.mktemp("demo") / "out"
    script = Path(sys.executable).with_name("ticket-audit")
    proc = subprocess.run([str(script), "demo", "--out", str(out)], capture_output=True, text=True, timeout=600)
    return DemoRun(out=out, returncode=proc.returncode, stdout=proc.stdout, stderr=proc.stderr)


class DemoRun:
    def __init__(self, *, out: "Path", returncode: int, stdout: str, stderr: str) -> None:  # noqa: F821
        self.out, self.returncode, self.stdout, self.stderr = out, returncode, stdout, stderr
