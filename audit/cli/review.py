"""``ticket-audit review import``: the QA review loop (reviewers' verdicts from qa-review.xlsx)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from audit.app.assess import tenant_id
from audit.cli._options import config_option, store_option, waivers_file, waivers_option
from audit.core.config import Config, load_config
from audit.core.errors import ConfigError
from audit.core.period import parse_as_of
from audit.core.safetext import console_text
from audit.engine import load_ruleset
from audit.engine.frames import tenant_display_name
from audit.results.review import import_review
from audit.results.verdicts import verdicts_path
from audit.store.snapshot import Store

__all__ = ["ANY_RULESET", "COMMAND"]


@click.group("review")
def review_group() -> None:
    """The QA review loop: import reviewers' verdicts from qa-review.xlsx."""


#: ``--ruleset-version any`` skips the rule-set check (a workbook from before versions were recorded).
ANY_RULESET = "any"


@dataclass
class _Expected:
    """What the store says a workbook must be about (the same values the reports carry)."""

    tenant_name: str
    tenant_id: str | None
    ruleset_version: str | None
    tickets: set[int] | None  # the snapshot's ticket ids; None without a snapshot


def _expected_identity(store_dir: Path, config: Config) -> _Expected:
    """The tenant (id and display name), rule-set version and tickets the store audits.

    The id is the store's (:func:`audit.app.assess.tenant_id`, as ``assess`` writes it into the
    workbook); a store without a snapshot has none, and only the display name (config
    ``report.tenant_name``, else the zone, else "Sandbox") can be compared. The rule-set version
    is the store's record, else the digest of the rules that would run now — verdicts are about
    those rules.
    """

    zone, ident, version, tickets = None, None, None, None
    store = Store(store_dir)
    if store.exists():  # an unreadable store raises StoreError (exit 3)
        state = store.state
        zone, ident, version = state.zone_name, tenant_id(state), state.ruleset_version
        ids = store.read("Tickets")["id"].dropna()
        tickets = {int(i) for i in ids}
    if not version:
        version = load_ruleset(config.rules_dir, config).digest or None
    return _Expected(tenant_display_name(config, zone), ident, version, tickets)


@review_group.command("import")
@click.argument("workbook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@store_option
@config_option
@waivers_option
@click.option(
    "--reviewer",
    default=None,
    help="Reviewer for rows without a Reviewer cell (default: the workbook's last editor).",
)
@click.option(
    "--tenant",
    "tenant",
    default=None,
    help="Expected tenant id, or name for a workbook without one (default: the store's).",
)
@click.option(
    "--ruleset-version",
    "ruleset_version",
    default=None,
    help="Expected rule-set version (default: the store's, else the current rules' digest; 'any': do not check).",
)
@click.option(
    "--as-of", "as_of", default=None, help="Import instant (waiver start and expiry; default: now)."
)
def review_import(
    workbook: Path,
    store_dir: Path | None,
    config_file: Path | None,
    waivers: Path | None,
    reviewer: str | None,
    tenant: str | None,
    ruleset_version: str | None,
    as_of: str | None,
) -> None:
    """Import verdicts: Waived -> appended to the waivers file; Confirmed / False positive ->
    the verdicts store (<store>/reviews/verdicts.json)."""
    config = load_config(config_file)
    store = store_dir or Path(config.store)
    if not store.is_dir():
        # Verdicts written into a new folder would be lost to every run that reads the real store.
        raise ConfigError(
            f"--store {store}: no such store folder (verdicts are recorded in the store the runs use)"
        )
    expected = _expected_identity(store, config)
    expected_version = expected.ruleset_version
    if ruleset_version is not None:
        expected_version = None if ruleset_version.strip().lower() == ANY_RULESET else ruleset_version
    instant = parse_as_of(as_of)
    report = import_review(
        workbook,
        waivers_path=waivers_file(waivers, config),
        verdicts_path=verdicts_path(store),
        # --tenant names the expected tenant by id (or, for a workbook without an id, by name).
        expected_tenant=tenant or expected.tenant_name,
        expected_tenant_id=tenant or expected.tenant_id,
        expected_ruleset_version=expected_version,
        default_expiry_days=config.waivers.default_expiry_days,
        as_of=instant,
        reviewer=reviewer,
        known_tickets=expected.tickets,
    )
    for line in report.lines():
        click.echo(console_text(line))


COMMAND: click.Command = review_group
