"""``ticket-audit doctor``: a thin shell over audit.app.doctor (the checks and their exit code live there)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from audit.app.doctor import exit_code, format_report, run_doctor
from audit.cli._options import config_option, store_option
from audit.core.safetext import console_lines

__all__ = ["COMMAND"]


@click.command("doctor")
@config_option
@store_option
@click.option(
    "--sandbox", is_flag=True, help="Check against the embedded sandbox tenant instead of Autotask."
)
@click.pass_context
def doctor_command(
    ctx: click.Context, config_file: Path | None, store_dir: Path | None, sandbox: bool
) -> None:
    """Check credentials, API, budget, mapping, store, rules and PDF rendering; change nothing.

    Exit 0 when nothing failed, 2 when the config, rules, mapping or credentials are wrong,
    3 when a runtime check failed (API unreachable, store unreadable, WeasyPrint broken).
    """

    results = run_doctor(config_file=config_file, store_dir=store_dir, sandbox=sandbox)
    click.echo(console_lines(format_report(results, encoding=getattr(sys.stdout, "encoding", None))))
    ctx.exit(exit_code(results))


COMMAND: click.Command = doctor_command
