"""``ticket-audit run``: the nightly job (extract, evaluate, report and gate)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from audit.app.pipeline import JobOptions, JobResult, run_job
from audit.app.preflight import check_delivery, check_mail_to, prepare
from audit.cli._options import break_lock_option, common_options, delivery_options, gate_options
from audit.core.config import Config, load_config
from audit.core.period import Period, describe_period, parse_as_of
from audit.core.safetext import console_text
from audit.engine.frames import FRAME_ENTITIES
from audit.render.outputs import check_out_dir
from audit.results.baseline import DEFAULT_TOLERANCE
from audit.results.thresholds import ThresholdResult
from audit.results.waivers import stale_waiver_lines
from audit.sandbox.client import DEFAULT_SANDBOX_AS_OF, sandbox_client
from audit.source.autotask import AutotaskClient, Credentials

__all__ = ["COMMAND", "echo_result", "run", "start_job"]

#: Detail lines shown per missed threshold (the rest are in junit.xml).
_MAX_DETAILS = 20


def _rule_statuses(summary: Mapping[str, Any]) -> str | None:
    """One line naming the rules not measured (with why) and the disabled ones, or None."""
    not_measured: list[str] = []
    disabled: list[str] = []
    for rule_id, entry in sorted((summary.get("rules") or {}).items()):
        if not isinstance(entry, Mapping):
            continue
        if entry.get("status") == "not_measured":
            not_measured.append(f"{rule_id} ({_needs(entry)})" if _needs(entry) else str(rule_id))
        elif entry.get("status") == "disabled":
            disabled.append(str(rule_id))
    parts = []
    if not_measured:
        parts.append(f"Not measured: {', '.join(not_measured)}")
    if disabled:
        parts.append(f"disabled: {', '.join(disabled)}" if parts else f"Disabled: {', '.join(disabled)}")
    return "; ".join(parts) or None


def _needs(entry: Mapping[str, Any]) -> str:
    """Why a rule was not measured, e.g. "needs TicketHistory" (the engine names frames: "needs history")."""

    why = str(entry.get("error") or "").split(", which", 1)[0].strip()
    if not why.startswith("needs "):
        return why
    needs = [FRAME_ENTITIES.get(n.strip(), n.strip()) for n in why[len("needs ") :].split(",")]
    return "needs " + ", ".join(needs)


def _gate_line(thresholds: Sequence[ThresholdResult]) -> str:
    if not thresholds:
        return "Gate: no thresholds configured"
    missed = sum(1 for t in thresholds if not t.passed)
    total = len(thresholds)
    noun = "threshold" if total == 1 else "thresholds"
    if missed:
        return f"Gate: {missed} of {total} {noun} missed"
    return f"Gate: {total} {noun} met"


def echo_result(result: JobResult, out_dir: Path) -> None:
    summary = result.summary
    if result.extract_report is not None:
        click.echo(result.extract_report.summary())
    if summary is not None:
        overall = summary["overall"]
        shown = "n/a" if overall["score"] is None else f"{overall['score']:.1f}"
        false_positive = (
            f", {overall['false_positive']} false positive" if overall.get("false_positive") else ""
        )
        click.echo(
            f"Score {shown} over {overall['applicable']} checks "
            f"({overall['failed']} failed, {overall['waived']} waived{false_positive}) "
            f"for {describe_period(summary['period'])}"
        )
        statuses = _rule_statuses(summary)
        if statuses:
            click.echo(statuses)
        for line in stale_waiver_lines(summary.get("waivers")):
            click.echo(console_text(line))
        if summary.get("noisy_rules"):
            click.echo(
                console_text(f"Noisy rules (low precision in QA review): {', '.join(summary['noisy_rules'])}")
            )
    # Technician and queue names are tenant text: each message is one line, controls escaped.
    for line in result.messages:
        click.echo(console_text(line))
    for t in result.thresholds:
        if not t.passed:
            click.echo(f"threshold missed: {console_text(t.message)}", err=True)
            # What failed, by name (e.g. the findings new since the baseline), as `check` prints it.
            for detail in t.details[:_MAX_DETAILS]:
                click.echo(f"    {console_text(detail)}", err=True)
            if len(t.details) > _MAX_DETAILS:
                click.echo(f"    … and {len(t.details) - _MAX_DETAILS} more", err=True)
    click.echo(_gate_line(result.thresholds))
    click.echo(f"Reports in {out_dir.resolve()}:")
    for name, path in sorted(result.outputs.items()):
        click.echo(f"  {name:<16} {Path(path).resolve()}")


def start_job(
    config: Config,
    *,
    store_dir: Path,
    out_dir: Path,
    period: Period,
    as_of_instant: object,
    client_factory: Callable[[], AutotaskClient] | None,
    fail_under: float | None,
    baseline: Path | None,
    write_baseline: Path | None,
    waivers: Path | None,
    rules_dir: Path | None,
    mail_to: tuple[str, ...],
    break_lock: bool = False,
    delivery: dict[str, Any] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> JobResult:
    check_mail_to(mail_to)  # a bad address fails now, not after every report was written
    check_delivery(**(delivery or {}))
    prepared = prepare(config, rules_dir=rules_dir, waivers_file=waivers)
    check_out_dir(
        out_dir
    )  # an unwritable --out fails before any request (exit 3), after config errors (exit 2)
    options = JobOptions(
        store_dir=store_dir,
        out_dir=out_dir,
        period=period,
        as_of=as_of_instant,  # type: ignore[arg-type]
        fail_under=fail_under,
        baseline=baseline,
        write_baseline=write_baseline,
        tolerance=tolerance,
        mail_to=mail_to,
        break_lock=break_lock,
        **(delivery or {}),
    )
    return run_job(config, prepared, options, client_factory=client_factory)


@click.command("run")
@common_options
@gate_options
@click.option("--mail-to", multiple=True, help="Mail the PDF to this address (repeatable).")
@click.option("--no-extract", is_flag=True, help="Skip extraction: audit the snapshot already in the store.")
@click.option("--sandbox", is_flag=True, help="Extract from the embedded sandbox tenant instead of Autotask.")
@break_lock_option
@delivery_options
def run(
    config_file: Path | None,
    store_dir: Path | None,
    out_dir: Path,
    start: str | None,
    end: str | None,
    week: str | None,
    as_of: str | None,
    fail_under: float | None,
    baseline: Path | None,
    write_baseline: Path | None,
    tolerance: float,
    waivers: Path | None,
    rules_dir: Path | None,
    mail_to: tuple[str, ...],
    no_extract: bool,
    sandbox: bool,
    break_lock: bool,
    per_technician: bool,
    mail_each: bool,
    notify: str | None,
    notify_format: str | None,
) -> None:
    """The nightly job: extract, evaluate, report and gate (exit 0 / 1 / 2 / 3)."""
    config = load_config(config_file)
    if as_of is None and sandbox:
        instant = DEFAULT_SANDBOX_AS_OF  # the sandbox tenant's "now", as `extract --sandbox` uses
    else:
        instant = parse_as_of(as_of)
    period = Period.from_options(start=start, end=end, week=week, as_of=instant, timezone=config.timezone)
    client_factory: Callable[[], AutotaskClient] | None = None
    if not no_extract:
        if sandbox:
            client_factory = sandbox_client
        else:
            Credentials.from_env()  # missing credentials: exit 2 before the lock is taken
            settings = config.extract

            def client_factory() -> AutotaskClient:
                return AutotaskClient.from_settings(settings)

    result = start_job(
        config,
        store_dir=store_dir or Path(config.store),
        out_dir=out_dir,
        period=period,
        as_of_instant=instant,
        client_factory=client_factory,
        fail_under=fail_under,
        baseline=baseline,
        write_baseline=write_baseline,
        tolerance=tolerance,
        waivers=waivers,
        rules_dir=rules_dir,
        mail_to=mail_to,
        break_lock=break_lock,
        delivery={
            "per_technician": per_technician or mail_each,
            "mail_each": mail_each,
            "notify": notify or None,
            "notify_format": notify_format,
        },
    )
    echo_result(result, out_dir)
    raise SystemExit(result.exit_code)


COMMAND: click.Command = run
