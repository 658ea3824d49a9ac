"""Support for the end-to-end tests: the installed console script, run as a user runs it, against
a small sandbox tenant served over real HTTP on loopback (``AUTOTASK_*`` in the environment).

The tenant lives in the test process, so a test can slow the emulator down or change the
tenant between two runs (new violations, a later state) exactly as a live Autotask would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from audit.sandbox.client import DEFAULT_SANDBOX_AS_OF
from audit.sandbox.emulator import Emulator, SandboxServer, serve_http
from audit.sandbox.generator import generate_tenant
from audit.sandbox.model import Tenant

__all__ = [
    "AS_OF",
    "Api",
    "closed_port_url",
    "loopback_api",
    "small_tenant",
    "start",
    "ticket_audit",
    "wait_for",
]

#: The installed console script (the same one tests/conftest.py names).
TICKET_AUDIT = str(Path(sys.executable).with_name("ticket-audit"))

#: The sandbox tenant's "now"; its last full week is 2026-W47.
AS_OF = DEFAULT_SANDBOX_AS_OF.isoformat().replace("+00:00", "Z")

#: A few technicians keep the PDF short (one page per technician) and the tests fast.
TICKETS = 300
TECHNICIANS = 2


def small_tenant(seed: int = 11) -> Tenant:
    return generate_tenant(seed, tickets=TICKETS, technicians=TECHNICIANS, as_of=DEFAULT_SANDBOX_AS_OF)


@dataclass
class Api:
    """A tenant served over loopback HTTP, and the environment pointing ticket-audit at it."""

    tenant: Tenant
    emulator: Emulator
    server: SandboxServer

    @property
    def env(self) -> dict[str, str]:
        creds = self.emulator.credentials
        return {
            "AUTOTASK_ZONE_URL": self.server.zone_url,
            "AUTOTASK_USERNAME": creds.username,
            "AUTOTASK_SECRET": creds.secret,
            "AUTOTASK_INTEGRATION_CODE": creds.integration_code,
        }


@contextmanager
def loopback_api(tenant: Tenant | None = None, *, latency: float = 0.0) -> Iterator[Api]:
    tenant = tenant if tenant is not None else small_tenant()
    emulator = Emulator(tenant, latency=latency)
    with serve_http(emulator) as server:
        yield Api(tenant, emulator, server)


def closed_port_url() -> str:
    """A zone URL on a loopback port nobody listens on (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/ATServicesRest/"


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    # The autouse fixture has removed every AUTOTASK_* variable from os.environ.
    return {**os.environ, **(extra or {})}


def ticket_audit(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the installed console script to completion."""
    return subprocess.run(
        [TICKET_AUDIT, *map(str, args)],
        cwd=cwd,
        env=_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start the installed console script in the background."""
    return subprocess.Popen(
        [TICKET_AUDIT, *map(str, args)],
        cwd=cwd,
        env=_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], *, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
