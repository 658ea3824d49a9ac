"""The ``ticket-audit`` command line.

Each command group lives in its own module and exposes ``COMMANDS``; this module only builds
the group and maps errors to the design's exit codes (2 config/usage, 3 runtime).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from audit import __version__
from audit.errors import EXIT_CONFIG, EXIT_RUNTIME, TicketAuditError

__all__ = ["cli", "main"]


class _AuditGroup(click.Group):
    """Turns ticket-audit errors into one clear line on stderr and the right exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TicketAuditError as exc:
            click.echo(f"ticket-audit: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("ticket-audit: interrupted", err=True)
            ctx.exit(EXIT_RUNTIME)
        except Exception as exc:  # an unexpected failure is a runtime error, never a traceback dump
            if logging.getLogger("audit").isEnabledFor(logging.DEBUG):
                raise
            click.echo(f"ticket-audit: internal error: {type(exc).__name__}: {exc}", err=True)
            ctx.exit(EXIT_RUNTIME)


@click.group(cls=_AuditGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ticket-audit")
@click.option("-v", "--verbose", is_flag=True, help="Log each step (and each API request, secrets redacted).")
def cli(verbose: bool) -> None:
    """Audit how an Autotask service desk follows its ticket-handling procedure."""
    from audit.logs import configure_logging

    configure_logging(verbose=verbose)


def _register() -> None:
    from audit.cli import evaluate, extract, gate, job, ops, report

    for module in (job, extract, evaluate, report, gate, ops):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    try:
        cli.main(args=argv, prog_name="ticket-audit", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        click.echo(str(code), err=True)
        return EXIT_CONFIG
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
