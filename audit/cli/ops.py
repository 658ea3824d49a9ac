"""CLI commands: config, and (at integration) run, demo, history, doctor."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from audit.app.doctor import exit_code, format_report, run_doctor
from audit.app.pipeline import prepare
from audit.cli._options import config_option, store_option
from audit.core.config import load_config
from audit.core.config_docs import reference_markdown, starter_toml
from audit.core.errors import ConfigError
from audit.core.safetext import console_lines
from audit.store.history import format_table, latest, read_history

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
    """Check a config file as `run` would: the file, and the rules and waivers with it.

    Exit 2 with file and line when anything is wrong: a bad key or value, an invalid regex, a
    rule override or threshold naming a rule or step the rule set does not have, rules that do
    not compile with this mapping, an invalid waivers file.
    """

    config = load_config(path)
    prepared = prepare(config)  # the same checks `run` makes before it reads any data
    rules = prepared.ruleset
    source = "bundled rules" if rules.source == "bundled" else rules.source
    click.echo(f"{path}: ok ({len(rules.rules)} rules, {source})")


@config_group.command("reference")
def config_reference() -> None:
    """Print the Markdown reference of every key (docs/configuration.md)."""
    click.echo(reference_markdown(), nl=False)


COMMANDS.append(config_group)


# --------------------------------------------------------------------------- doctor
# A thin shell over audit.app.doctor (the checks and their exit code live there).


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


COMMANDS.append(doctor_command)


# --------------------------------------------------------------------------- history
# A thin shell over audit.store.history (reading, merging and formatting live there).


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


COMMANDS.append(history_command)
