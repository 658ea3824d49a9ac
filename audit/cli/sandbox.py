"""``ticket-audit sandbox serve``: a thin shell over audit.sandbox._emu_serve (logic lives there)."""

from __future__ import annotations

import click

from audit.cli._options import sandbox_tickets_option
from audit.core.period import parse_as_of
from audit.sandbox._emu_serve import build_tenant, check_loopback, serve_forever
from audit.sandbox.emulator import FaultPlan

__all__ = ["COMMAND", "SANDBOX_AS_OF", "SANDBOX_WEEKS"]


#: The generator's defaults, spelled out for --help (a test checks they match the generator's).
SANDBOX_WEEKS = 10
SANDBOX_AS_OF = "2026-11-23T06:00:00Z"


@click.group("sandbox")
def sandbox_group() -> None:
    """The embedded Autotask sandbox (synthetic tenant + API emulator)."""


@sandbox_group.command("serve")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port to listen on (0 = any free port; the URL is printed).",
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Loopback address to bind (loopback only)."
)
@click.option("--seed", type=int, default=7, show_default=True, help="Tenant generator seed.")
@sandbox_tickets_option
@click.option(
    "--weeks",
    type=click.IntRange(1),
    default=SANDBOX_WEEKS,
    show_default=True,
    help="Weeks of history in the synthetic tenant.",
)
@click.option(
    "--as-of",
    "as_of",
    default=SANDBOX_AS_OF,
    show_default=True,
    metavar="INSTANT",
    help="The synthetic tenant's 'now', ISO date or date-time (the demo's).",
)
@click.option(
    "--fault-rate",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Share of API requests answered with an injected fault.",
)
@click.option("--fault-seed", type=int, default=0, show_default=True, help="Seed of the fault draws.")
@click.option("--tiny", is_flag=True, hidden=True, help="Serve the small hand-made test tenant.")
def sandbox_serve_command(
    port: int,
    host: str,
    seed: int,
    tickets: int,
    weeks: int,
    as_of: str,
    fault_rate: float,
    fault_seed: int,
    tiny: bool,
) -> None:
    """Serve the sandbox tenant over HTTP on loopback until Ctrl-C."""

    host = check_loopback(host)
    instant = parse_as_of(as_of)
    tenant = build_tenant(seed=seed, tickets=tickets, weeks=weeks, as_of=instant, tiny=tiny)
    faults = FaultPlan(rate=fault_rate, seed=fault_seed) if fault_rate > 0 else None
    serve_forever(tenant, host=host, port=port, faults=faults, echo=lambda line: click.echo(line))


COMMAND: click.Command = sandbox_group
