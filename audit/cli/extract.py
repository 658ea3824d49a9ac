"""``ticket-audit extract``: extract Autotask data incrementally into the snapshot store."""

from __future__ import annotations

from pathlib import Path

import click

from audit.app.extract import run_extract
from audit.cli._options import break_lock_option, config_option, store_option

__all__ = ["COMMAND"]


@click.command("extract")
@config_option
@store_option
@click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="INSTANT",
    help="The run's instant, ISO date or date-time (default: now; sandbox: its tenant's as-of).",
)
@click.option("--sandbox", is_flag=True, help="Extract from the embedded sandbox tenant instead of Autotask.")
@break_lock_option
def extract_command(
    config_file: Path | None, store_dir: Path | None, as_of: str | None, sandbox: bool, break_lock: bool
) -> None:
    """Extract Autotask data incrementally into the local snapshot store."""

    report = run_extract(
        store_dir=None if store_dir is None else str(store_dir),
        config_file=None if config_file is None else str(config_file),
        as_of=as_of,
        sandbox=sandbox,
        break_lock=break_lock,
    )
    click.echo(report.summary())


COMMAND: click.Command = extract_command
