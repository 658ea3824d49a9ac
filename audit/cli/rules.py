"""``ticket-audit rules list | show ID | validate PATH | docs``: the rule catalog, read from the rule files."""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from audit.cli._options import config_option, rules_option
from audit.core.config import Config, load_config
from audit.core.errors import ConfigError
from audit.engine import load_ruleset
from audit.engine.docs import plain, render_rules_doc

__all__ = ["COMMAND"]


@click.group("rules")
def rules_group() -> None:
    """The rule catalog, read from the rule files themselves."""


@rules_group.command("list")
@rules_option
@config_option
def rules_list(rules_dir: Path | None, config_file: Path | None) -> None:
    """One line per rule: id, step, severity, enabled, name, title."""

    config = load_config(config_file)
    ruleset = load_ruleset(rules_dir or config.rules_dir, config)
    for rule in ruleset.rules:
        override = config.rules.get(rule.id)
        enabled = rule.spec.enabled if override is None or override.enabled is None else override.enabled
        severity = (override.severity if override and override.severity else None) or rule.spec.severity
        state = "on " if enabled else "off"
        click.echo(
            f"{rule.id:<7} {rule.step:<13} {severity:<8} {state} {rule.spec.name:<40} {rule.spec.title}"
        )


@rules_group.command("show")
@click.argument("rule_id")
@rules_option
@config_option
def rules_show(rule_id: str, rules_dir: Path | None, config_file: Path | None) -> None:
    """Everything about one rule, as declared."""

    config = load_config(config_file)
    ruleset = load_ruleset(rules_dir or config.rules_dir, config)
    try:
        rule = ruleset.get(rule_id)
    except KeyError:
        raise ConfigError(f"unknown rule id {rule_id!r}; known: {', '.join(ruleset.ids)}") from None
    data = plain(rule.spec.model_dump(exclude_none=True))
    # The settings the compiler derived, whether or not the file lists them.
    data = {"step": rule.step, **data, "settings": list(rule.settings), "file": f"{rule.file}:{rule.line}"}
    click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100).rstrip())


@rules_group.command("validate")
@click.argument("path", type=click.Path())
@config_option
def rules_validate(path: str, config_file: Path | None) -> None:
    """Validate a rule folder or file; problems name file, line and rule id (exit 2)."""

    ruleset = load_ruleset(path, load_config(config_file))
    click.echo(f"OK: {len(ruleset.rules)} rules in {path}")


@rules_group.command("docs")
@click.option("--out", type=click.Path(), default=None, help="Write here (default: print).")
def rules_docs(out: str | None) -> None:
    """Generate docs/rules.md from the predicate registry and the bundled rules."""

    text = render_rules_doc(load_ruleset(None, Config()))
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


COMMAND: click.Command = rules_group
