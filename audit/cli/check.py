"""``ticket-audit check``: the CI gate over a previous run's output.

Parses the options, checks the configuration (exit 2 before anything is read) and prints what
:func:`audit.app.check.check_run_folder` reports: one line per check (plus GitHub annotations under
GitHub Actions). Exits 0 / 1 / 2 / 3.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from audit.app.check import check_run_folder
from audit.cli._options import (
    as_of_option,
    config_option,
    gate_options,
    out_option,
    waivers_file,
    waivers_option,
)
from audit.core.config import load_config
from audit.core.period import parse_as_of
from audit.core.safetext import console_text
from audit.results.baseline import load_baseline
from audit.results.gate import GATE_FILE
from audit.results.thresholds import resolve_thresholds
from audit.results.waivers import load_waivers

__all__ = ["COMMAND", "GATE_FILE"]


def _one_line(echo: Callable[[str], None]) -> Callable[[str], None]:
    def echo_line(line: str) -> None:
        echo(console_text(line))

    return echo_line


@click.command("check")
@out_option
@config_option
@gate_options
@waivers_option
@as_of_option
@click.pass_context
def check_command(
    ctx: click.Context,
    out_dir: Path,
    config_file: Path | None,
    fail_under: float | None,
    baseline: Path | None,
    write_baseline: Path | None,
    tolerance: float,
    waivers: Path | None,
    as_of: str | None,
) -> None:
    """Gate a previous run: thresholds and baseline -> exit 0 (met), 1 (breached), 2 (config), 3 (runtime).

    Reads summary.json and findings.csv of the run from --out, and writes gate.json there.
    """
    # Configuration first (exit 2, nothing read), then the run's outputs (exit 3).
    config = load_config(config_file)
    thresholds = resolve_thresholds(config.thresholds, fail_under=fail_under)
    waiver_file = waivers_file(waivers, config)
    waiver_doc = load_waivers(waiver_file) if waiver_file is not None else None
    baseline_doc = load_baseline(baseline) if baseline is not None else None
    instant = parse_as_of(as_of) if as_of else None
    checked = check_run_folder(
        out_dir,
        thresholds,
        # Technician and queue names are tenant text: one message, one line.
        echo=_one_line(click.echo),
        baseline=baseline_doc,
        write_baseline_to=write_baseline,
        waivers=waiver_doc,
        as_of=instant,
        tolerance=tolerance,
    )
    ctx.exit(checked.exit_code)


COMMAND: click.Command = check_command
