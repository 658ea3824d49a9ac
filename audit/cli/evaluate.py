"""``ticket-audit evaluate``: evaluate the rules over the store (findings.csv and summary.json)."""

from __future__ import annotations

from pathlib import Path

import click

from audit.app.assess import assess_stored
from audit.cli._options import common_options
from audit.core.config import load_config
from audit.core.errors import EXIT_RUNTIME
from audit.core.period import Period, describe_period, parse_as_of
from audit.core.safetext import console_text
from audit.render.outputs import render_all
from audit.results.thresholds import rule_errors

__all__ = ["COMMAND", "evaluate_command"]


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

    config = load_config(config_file)
    instant = parse_as_of(as_of)
    period = Period.from_options(start=start, end=end, week=week, as_of=instant, timezone=config.timezone)
    # The shared path of `run` and `report`: evaluate over the trend range, apply waivers, score.
    assessment = assess_stored(
        config, store_dir=store_dir, period=period, as_of=instant, rules_dir=rules_dir, waivers_file=waivers
    )
    out = out_dir
    render_all(
        assessment.evaluation,
        assessment.summary,
        out,
        config,
        outputs=("findings.csv", "summary.json"),
        findings=assessment.findings,
        scoring=assessment.inputs,
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


COMMAND: click.Command = evaluate_command
