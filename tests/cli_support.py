"""Helpers for tests that check documented command lines against the real CLI."""

from __future__ import annotations

import click

from audit.cli import cli

__all__ = ["assert_cli_accepts"]


def assert_cli_accepts(args: list[str]) -> None:
    """The arguments parse as a ticket-audit command line (commands and options exist, values fit).

    Parsing only: no command runs. Raises click.UsageError (or a subclass) otherwise.
    """
    command: click.Command = cli
    name, rest, parent = "ticket-audit", list(args), None
    while isinstance(command, click.Group):
        ctx = command.make_context(name, rest, parent=parent, resilient_parsing=False)
        rest = [*ctx._protected_args, *ctx.args]
        sub_name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None and sub_name is not None
        command, name, parent = sub, sub_name, ctx
    command.make_context(name, rest, parent=parent)
