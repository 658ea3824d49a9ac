"""``ticket-audit history``: a thin shell over audit.store.history (reading, merging and formatting live there)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from audit.cli._options import config_option, store_option
from audit.core.config import load_config
from audit.core.errors import ConfigError
from audit.store.history import format_table, latest, read_history

__all__ = ["COMMAND"]


@click.command("history")
@config_option
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (newest first) instead of a table.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show only the N most recent runs.")
def history_command(
    config_file: Path | None, store_dir: Path | None, as_json: bool, limit: int | None
) -> None:
    """Show the runs recorded in the store: when, as-of, fetched rows, requests, status, score."""

    store = store_dir or load_config(config_file).store
    if not Path(store).is_dir():
        # A typo in --store must not read as "no runs" (nor create anything).
        raise ConfigError(f"--store {store}: no such store folder")
    entries = latest(read_history(store), limit)
    if as_json:
        click.echo(json.dumps(entries, indent=2, sort_keys=True, ensure_ascii=False))
    elif not entries:
        click.echo(f"no runs recorded in {store}")
    else:
        click.echo(format_table(entries))


COMMAND: click.Command = history_command
