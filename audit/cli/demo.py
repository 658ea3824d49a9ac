"""``ticket-audit demo``: the nightly job on the embedded sandbox tenant (no credentials)."""

from __future__ import annotations

from pathlib import Path

import click

from audit.cli._options import sandbox_tickets_option
from audit.cli.run import echo_result, start_job
from audit.core.config import Config
from audit.core.period import Period
from audit.sandbox.client import DEFAULT_SANDBOX_AS_OF, sandbox_client
from audit.sandbox.generator import generate_tenant

__all__ = ["COMMAND", "demo"]


@click.command("demo")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Folder for the sandbox store and every report.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the synthetic tenant.")
@sandbox_tickets_option
def demo(out_dir: Path, seed: int, tickets: int) -> None:
    """Run the whole job on the embedded sandbox tenant (no credentials needed)."""

    config = Config()
    click.echo(f"Generating the sandbox tenant (seed {seed}, {tickets} tickets)…")
    tenant = generate_tenant(seed, tickets=tickets, as_of=DEFAULT_SANDBOX_AS_OF)
    period = Period.last_full_week(tenant.as_of)
    result = start_job(
        config,
        store_dir=out_dir / "store",
        out_dir=out_dir,
        period=period,
        as_of_instant=tenant.as_of,
        client_factory=lambda: sandbox_client(tenant),
        fail_under=None,
        baseline=None,
        write_baseline=None,
        waivers=None,
        rules_dir=None,
        mail_to=(),
    )
    echo_result(result, out_dir)
    raise SystemExit(result.exit_code)


COMMAND: click.Command = demo
