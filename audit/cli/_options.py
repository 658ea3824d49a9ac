"""The command-line options several commands share, defined once.

``run``, ``evaluate``, ``report`` (and ``check``, ``review import``, ``extract``, ``rules``,
``doctor``, ``history``) take the same ``--config``, ``--store``, ``--out``, period, ``--rules``
and ``--waivers`` options, and ``run`` and ``check`` the same gate options; defining each here
once keeps their names, metavars, types, defaults and help texts identical everywhere. Each
decorator passes a fixed parameter name to the command:

=============  ==========================  ============================
option         parameter                   type
=============  ==========================  ============================
``--config``   ``config_file``             ``Path | None``
``--store``    ``store_dir``               ``Path | None``
``--out``      ``out_dir``                 ``Path`` (default audit-output)
``--from``     ``start``                   ``str | None``
``--to``       ``end``                     ``str | None``
``--week``     ``week``                    ``str | None``
``--as-of``    ``as_of``                   ``str | None``
``--rules``    ``rules_dir``               ``Path | None``
``--waivers``  ``waivers``                 ``Path | None``
=============  ==========================  ============================

====================  ==================  =============================
gate option           parameter           type
====================  ==================  =============================
``--fail-under``      ``fail_under``      ``float | None`` (0..100)
``--baseline``        ``baseline``        ``Path | None``
``--write-baseline``  ``write_baseline``  ``Path | None``
``--tolerance``       ``tolerance``       ``float`` (>= 0, default 0.5)
====================  ==================  =============================
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from audit.core.config import Config
from audit.results.baseline import DEFAULT_TOLERANCE

__all__ = [
    "DEFAULT_OUT",
    "SANDBOX_TICKETS",
    "as_of_option",
    "break_lock_option",
    "common_options",
    "config_option",
    "delivery_options",
    "gate_options",
    "out_option",
    "period_options",
    "rules_option",
    "sandbox_tickets_option",
    "store_option",
    "waivers_file",
    "waivers_option",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Where run / evaluate / report write (and check reads) when --out is not given.
DEFAULT_OUT = "audit-output"

config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="TOML config file (every key has a default, so it is optional).",
)

# Not file_okay=False: a store that is not a folder is an unreadable store (exit 3, or doctor's
# finding), not a usage error.
store_option = click.option(
    "--store",
    "store_dir",
    type=click.Path(path_type=Path),
    default=None,
    metavar="DIR",
    help="Snapshot store folder (default: the config's `store`).",
)

out_option = click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    metavar="DIR",
    show_default=True,
    help="Folder the outputs are written to (and, for `check`, read from).",
)

rules_option = click.option(
    "--rules",
    "rules_dir",
    type=click.Path(path_type=Path),
    default=None,
    metavar="PATH",
    help="Rule folder or file (default: the config's `rules_dir`, else the bundled rules).",
)

waivers_option = click.option(
    "--waivers",
    "waivers",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Waivers file, YAML or TOML (default: the config's `waivers.file`).",
)


def waivers_file(option: Path | None, config: Config) -> Path | None:
    """The waivers file a command reads: ``--waivers``, else the config's ``waivers.file``, else none."""
    if option is not None:
        return option
    return Path(config.waivers.file) if config.waivers.file else None


# `run --sandbox` audits the sandbox tenant's "now"; `check` re-checks a run at that run's instant.
as_of_option = click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="INSTANT",
    help="The instant the audit is evaluated at and waivers expire against, ISO date or date-time "
    "(default: now; with --sandbox, the sandbox tenant's as-of; for `check`, the checked run's as-of).",
)

_PERIOD = (
    click.option(
        "--from",
        "start",
        default=None,
        metavar="DATE",
        help="First day of the period, YYYY-MM-DD (with --to).",
    ),
    click.option(
        "--to",
        "end",
        default=None,
        metavar="DATE",
        help="Last day of the period, YYYY-MM-DD, inclusive (with --from).",
    ),
    click.option(
        "--week",
        default=None,
        metavar="WEEK",
        help="ISO week, e.g. 2026-W47 (default: the last full week before --as-of).",
    ),
    as_of_option,
)


def _stack(f: F, options: tuple[Callable[[F], F], ...]) -> F:
    for option in reversed(options):  # the first listed shows first in --help
        f = option(f)
    return f


# The gate `run` ends with and `check` re-runs over a finished run's outputs (the same run_gate).
# A --fail-under outside 0..100 is a usage error (exit 2), not a threshold no run can meet.
_GATE = (
    click.option(
        "--fail-under",
        "fail_under",
        type=click.FloatRange(0, 100),
        default=None,
        metavar="SCORE",
        help="Fail (exit 1) below this overall score (overrides the config's thresholds.overall).",
    ),
    click.option(
        "--baseline",
        "baseline",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        metavar="FILE",
        help="Fail (exit 1) on a score drop beyond --tolerance or on findings new since this baseline file.",
    ),
    click.option(
        "--write-baseline",
        "write_baseline",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        metavar="FILE",
        help="Record the run's scores and unwaived findings as a baseline in this file.",
    ),
    click.option(
        "--tolerance",
        "tolerance",
        type=click.FloatRange(min=0),
        default=DEFAULT_TOLERANCE,
        show_default=True,
        metavar="POINTS",
        help="Score drop (points) the baseline tolerates.",
    ),
)

break_lock_option = click.option(
    "--break-lock",
    is_flag=True,
    help="Take over the store's lock even though its holder looks alive (only when that run is surely gone).",
)


def period_options(f: F) -> F:
    """``--from``, ``--to``, ``--week``, ``--as-of`` (see :meth:`audit.core.period.Period.from_options`)."""
    return _stack(f, _PERIOD)


def common_options(f: F) -> F:
    """The options of the commands that audit the store: ``run``, ``evaluate`` and ``report``.

    ``--config``, ``--store``, ``--out``, the period options, ``--rules`` and ``--waivers``.
    """
    return _stack(f, (config_option, store_option, out_option, period_options, rules_option, waivers_option))


_DELIVERY = (
    click.option(
        "--per-technician",
        "per_technician",
        is_flag=True,
        help="Also write technicians/<id>-<name>.pdf: each technician's private scorecard.",
    ),
    click.option(
        "--mail-each",
        "mail_each",
        is_flag=True,
        help="Mail each technician their private scorecard (address from Autotask Resources); "
        "implies --per-technician.",
    ),
    click.option(
        "--notify",
        "notify",
        default=None,
        metavar="URL",
        envvar="TICKET_AUDIT_WEBHOOK",
        help="Post the headline to this Slack or Teams incoming webhook (env TICKET_AUDIT_WEBHOOK); "
        "a failed post is a warning.",
    ),
    click.option(
        "--notify-format",
        "notify_format",
        type=click.Choice(["slack", "teams"]),
        default=None,
        help="The webhook's format when its host does not say (default: from the URL's host).",
    ),
)


def gate_options(f: F) -> F:
    """``--fail-under``, ``--baseline``, ``--write-baseline``, ``--tolerance`` (``run`` and ``check``)."""
    return _stack(f, _GATE)


def delivery_options(f: F) -> F:
    """``--per-technician``, ``--mail-each``, ``--notify``, ``--notify-format`` (``run`` and ``report``)."""
    return _stack(f, _DELIVERY)


#: The synthetic tenant's size: ``demo`` and ``sandbox serve`` accept the same range.
SANDBOX_TICKETS = click.IntRange(50, 200_000)


def sandbox_tickets_option(f: F) -> F:
    """``--tickets`` of the synthetic sandbox tenant (``demo`` and ``sandbox serve``)."""
    return click.option(
        "--tickets",
        type=SANDBOX_TICKETS,
        default=600,
        show_default=True,
        help="Tickets in the synthetic tenant.",
    )(f)
