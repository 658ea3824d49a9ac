"""``ticket-audit config init | validate | reference``: write, check and document the config file."""

from __future__ import annotations

from pathlib import Path

import click

from audit.app.preflight import prepare
from audit.core.config import load_config
from audit.core.config_docs import reference_markdown, starter_toml
from audit.core.errors import ConfigError

__all__ = ["COMMAND"]


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


COMMAND: click.Command = config_group
