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
