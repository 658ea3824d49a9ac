"""CLI commands: ``rules list | show ID | validate PATH | docs`` and ``evaluate``."""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from audit.app.pipeline import assess, prepare
from audit.cli._options import common_options, config_option, rules_option
from audit.core.config import Config, load_config
from audit.core.errors import EXIT_RUNTIME, AuditRuntimeError, ConfigError
from audit.core.period import Period, describe_period, parse_as_of
from audit.core.safetext import console_text
from audit.engine import load_ruleset
from audit.engine.docs import plain, render_rules_doc
from audit.engine.memory import use_system_allocator
from audit.render.outputs import render_all
from audit.results.gate import rule_errors
from audit.store.snapshot import Store

__all__ = ["COMMANDS", "evaluate_command", "rules_group"]


def _config(path: str | Path | None) -> Config:
    return load_config(path)


@click.group("rules")
def rules_group() -> None:
    """The rule catalog, read from the rule files themselves."""


@rules_group.command("list")
@rules_option
@config_option
def rules_list(rules_dir: Path | None, config_file: Path | None) -> None:
    """One line per rule: id, step, severity, enabled, name, title."""

    config = _config(config_file)
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

    config = _config(config_file)
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

    ruleset = load_ruleset(path, _config(config_file))
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


@click.command("evaluate")
@common_options
def evaluate_command(
    config_file: Path | None,
    store_dir: Path | None,
    out_dir: Path,
    start: str | None,
    end: str | None,
    week: str | None,
    as_of: str | None,
    rules_dir: Path | None,
    waivers: Path | None,
) -> None:
    """Evaluate the rules over the store: findings.csv and summary.json (the files `report` writes)."""

    use_system_allocator()  # freed text buffers go back to the OS (peak RSS at scale)

    config = _config(config_file)
    instant = parse_as_of(as_of)
    period = Period.from_options(start=start, end=end, week=week, as_of=instant, timezone=config.timezone)
    prepared = prepare(
        config, rules_dir=rules_dir, waivers_file=waivers
    )  # validated before data is read (exit 2)
    store = Store(store_dir or config.store)
    if not store.exists():
        raise AuditRuntimeError(f"no snapshot in {store.path}: run `ticket-audit extract` first")
    # The shared path of `run` and `report`: evaluate over the trend range, apply waivers, score.
    assessment = assess(store, config, prepared, period=period, as_of=instant)
    out = out_dir
    render_all(
        assessment.evaluation,
        assessment.summary,
        out,
        config,
        outputs=("findings.csv", "summary.json"),
        findings=assessment.findings,
    )
    overall = assessment.summary["overall"]
    click.echo(
        f"{describe_period(period.as_dict())}: score {overall['score']} over {overall['applicable']} checks, "
        f"{len(assessment.findings)} findings -> {out}"
    )
    errors = rule_errors(assessment.summary)
    for error in errors:
        click.echo(console_text(error), err=True)
    if errors:
        raise click.exceptions.Exit(EXIT_RUNTIME)


COMMANDS: list[click.Command] = [rules_group, evaluate_command]
