"""``ticket-audit sandbox serve``: build a tenant, serve it on loopback until interrupted.

The CLI module stays thin; this holds the logic (tenant construction, the banner with the
environment variables to export, the serve loop).
"""

from __future__ import annotations

import contextlib
import gc
import ipaddress
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from audit.core.errors import AuditRuntimeError, ConfigError
from audit.sandbox._emu_tiny import tiny_tenant
from audit.sandbox.emulator import Emulator, FaultPlan, SandboxServer, serve_http
from audit.sandbox.model import SANDBOX_CREDENTIALS, Tenant

__all__ = ["as_of_text", "build_tenant", "check_loopback", "env_lines", "serve_forever"]


def check_loopback(host: str) -> str:
    """``host`` if it is a loopback address; the sandbox never listens beyond this machine."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ConfigError(f"--host {host!r} is not a loopback address: the sandbox only serves 127.0.0.1/::1")


def build_tenant(
    *, seed: int, tickets: int | None, weeks: int | None, as_of: datetime | None, tiny: bool = False
) -> Tenant:
    """The tenant to serve: the generator's (imported lazily: it is a separate, heavier module)."""
    if tiny:
        return tiny_tenant()
    try:
        from audit.sandbox.generator import generate_tenant  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError as exc:
        if exc.name != "audit.sandbox.generator":
            raise
        raise ConfigError(
            "the sandbox tenant generator (audit.sandbox.generator) is not available; use --tiny"
        ) from None
    kwargs: dict[str, Any] = {}
    if tickets is not None:
        kwargs["tickets"] = tickets
    if weeks is not None:
        kwargs["weeks"] = weeks
    if as_of is None:
        # The demo's fixed "now", so a served tenant is the one `ticket-audit demo` audits.
        try:
            from audit.sandbox.client import DEFAULT_SANDBOX_AS_OF
        except ImportError:
            pass
        else:
            as_of = DEFAULT_SANDBOX_AS_OF
    if as_of is not None:
        kwargs["as_of"] = as_of
    tenant: Tenant = generate_tenant(seed, **kwargs)
    return tenant


def as_of_text(tenant: Tenant) -> str:
    """The tenant's "now" as ``--as-of`` takes it (UTC, second precision)."""
    return tenant.as_of.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def env_lines(server: SandboxServer) -> list[str]:
    """``KEY=value`` lines to export for a client (the sandbox credentials are not secret)."""
    c = server.emulator.credentials
    return [
        f"AUTOTASK_ZONE_URL={server.zone_url}",
        f"AUTOTASK_DISCOVERY_URL={server.discovery_url}",
        f"AUTOTASK_USERNAME={c.username}",
        f"AUTOTASK_SECRET={c.secret}",
        f"AUTOTASK_INTEGRATION_CODE={c.integration_code}",
    ]


def serve_forever(
    tenant: Tenant,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: FaultPlan | None = None,
    echo: Callable[[str], None] = print,
    stop: threading.Event | None = None,
) -> None:
    """Serve ``tenant`` and print the banner; return on Ctrl-C, SIGTERM or ``stop``."""
    host = check_loopback(host)
    emulator = Emulator(tenant, credentials=SANDBOX_CREDENTIALS, faults=faults)
    # The tenant lives as long as the process: take its millions of objects out of the cyclic
    # GC's sight, or every full collection walks them (measured: ~30% of page-serving time).
    gc.collect()
    gc.freeze()
    stop = stop or threading.Event()
    previous: Any = None
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (e.g. a test's terminate()) ends the loop cleanly, like Ctrl-C.
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with contextlib.ExitStack() as stack:
            try:
                server = stack.enter_context(serve_http(emulator, host=host, port=port))
            except OSError as exc:  # address in use, permission denied (port < 1024)...
                raise AuditRuntimeError(
                    f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                    "(choose another --port, or --port 0 for any free port)"
                ) from exc
            echo(f"Autotask sandbox ({tenant.name}) serving on {server.base_url}")
            echo(f"Zone URL: {server.zone_url}")
            echo("Environment for a client:")
            for line in env_lines(server):
                echo(f"  export {line}")
            # The tenant's weeks lie before its own "now", not the machine's: without this
            # as-of a client audits the last week before today, which the sandbox has no data for.
            as_of = as_of_text(tenant)
            echo(f"The sandbox's now is {as_of}; audit its weeks with --as-of {as_of}, for example:")
            echo(f"  ticket-audit run --store sandbox-store --out sandbox-reports --as-of {as_of}")
            if faults is not None:
                echo(
                    f"Injecting faults at rate {faults.rate} (seed {faults.seed}): {', '.join(faults.kinds)}"
                )
            echo("Press Ctrl-C to stop.")
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
            echo(f"Stopped. Requests served: {emulator.stats.total}")
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
