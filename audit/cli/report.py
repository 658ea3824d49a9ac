"""``ticket-audit report``: evaluate the store over the trend range, score, write every output."""

from __future__ import annotations

from pathlib import Path

import click

from audit.app.assess import assess_stored
from audit.app.preflight import check_delivery, check_mail_to
from audit.cli._options import common_options, delivery_options
from audit.core.config import load_config
from audit.core.period import Period, parse_as_of
from audit.render.outputs import Delivery, render_all
from audit.results.thresholds import evaluate_thresholds

__all__ = ["COMMAND", "report"]


@click.command("report")
@common_options
@click.option("--mail-to", "mail_to", multiple=True, help="Mail the PDF to this address (repeatable).")
@delivery_options
def report(
    config_file: Path | None,
    store_dir: Path | None,
    out_dir: Path,
    start: str | None,
    end: str | None,
    week: str | None,
    as_of: str | None,
    rules_dir: Path | None,
    waivers: Path | None,
    mail_to: tuple[str, ...],
    per_technician: bool,
    mail_each: bool,
    notify: str | None,
    notify_format: str | None,
) -> None:
    """Write scorecards.pdf/.html, qa-review.xlsx, findings.csv, summary.json, junit.xml and summary.md."""

    check_mail_to(mail_to)  # a bad address fails now, not after every report was written
    check_delivery(notify=notify, notify_format=notify_format)
    config = load_config(config_file)
    instant = parse_as_of(as_of)
    period = Period.from_options(start=start, end=end, week=week, as_of=instant, timezone=config.timezone)

    # One shared path with `run`: evaluate over the trend range, apply waivers, score.
    assessment = assess_stored(
        config, store_dir=store_dir, period=period, as_of=instant, rules_dir=rules_dir, waivers_file=waivers
    )
    # The cover shows the gate as `run` would judge it (the exit code stays 0: `report` does not gate).
    thresholds = evaluate_thresholds(assessment.summary, config.thresholds)
    delivery = Delivery(
        per_technician=per_technician or mail_each,
        mail_each=mail_each,
        addresses=assessment.addresses,
        notify=notify or None,
        notify_format=notify_format,
    )
    written = render_all(
        assessment.evaluation,
        assessment.summary,
        out_dir,
        config,
        mail_to=mail_to,
        findings=assessment.findings,
        scoring=assessment.inputs,
        thresholds=thresholds,
        delivery=delivery,
    )
    for name in sorted(written):
        click.echo(str(written[name]))


COMMAND: click.Command = report
