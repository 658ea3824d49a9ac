"""CLI commands: config, and (at integration) run, demo, history, doctor."""

from __future__ import annotations

from pathlib import Path

import click

from audit.config import load_config
from audit.config_docs import reference_markdown, starter_toml
from audit.errors import ConfigError

COMMANDS: list[click.Command] = []


@click.group("config")
def config_group() -> None:
    """Write, check and document the configuration file."""


@config_group.command("init")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default="ticket-audit.toml")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def config_init(path: Path, force: bool) -> None:
    """Write a commented starter config with every key at its default."""
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; use --force to overwrite it")
    path.write_text(starter_toml(), encoding="utf-8")
    click.echo(f"wrote {path}")


@config_group.command("validate")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def config_validate(path: Path) -> None:
    """Check a config file (exit 2 with file and line when it is wrong)."""
    load_config(path)
    click.echo(f"{path}: ok")


@config_group.command("reference")
def config_reference() -> None:
    """Print the Markdown reference of every key (docs/configuration.md)."""
    click.echo(reference_markdown(), nl=False)


COMMANDS.append(config_group)


# --------------------------------------------------------------------------- doctor
# A thin shell over audit.doctor (the checks and their exit code live there).


@click.command("doctor")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="TOML config file to check (every key has a default).")
@click.option("--store", "store_dir", type=click.Path(), default=None,
              help="Snapshot store folder (default: the config's `store`).")
@click.option("--sandbox", is_flag=True, help="Check against the embedded sandbox tenant instead of Autotask.")
@click.pass_context
def doctor_command(ctx: click.Context, config_file: str | None, store_dir: str | None, sandbox: bool) -> None:
    """Check credentials, API, budget, mapping, store, rules and PDF rendering; change nothing.

    Exit 0 when nothing failed, 2 when the config, rules, mapping or credentials are wrong,
    3 when a runtime check failed (API unreachable, store unreadable, WeasyPrint broken).
    """
    import sys

    from audit.doctor import exit_code, format_report, run_doctor

    results = run_doctor(config_file=config_file, store_dir=store_dir, sandbox=sandbox)
    click.echo(format_report(results, encoding=getattr(sys.stdout, "encoding", None)))
    ctx.exit(exit_code(results))


COMMANDS.append(doctor_command)


# --------------------------------------------------------------------------- history
# A thin shell over audit.history (reading, merging and formatting live there).


@click.command("history")
@click.option("--store", "store_dir", type=click.Path(), default=None,
              help="Snapshot store folder (default: the config's `store`).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="TOML config file (only its `store` is read).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (newest first) instead of a table.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show only the N most recent runs.")
def history_command(store_dir: str | None, config_file: str | None, as_json: bool, limit: int | None) -> None:
    """Show the runs recorded in the store: when, as-of, fetched rows, requests, status, score."""
    import json

    from audit.history import format_table, latest, read_history

    store = store_dir or load_config(config_file).store
    entries = latest(read_history(store), limit)
    if as_json:
        click.echo(json.dumps(entries, indent=2, sort_keys=True, ensure_ascii=False))
    elif not entries:
        click.echo(f"no runs recorded in {store}")
    else:
        click.echo(format_table(entries))


COMMANDS.append(history_command)
