"""``ticket-audit doctor``: check that the nightly job can run, before it runs.

Each check returns a :class:`CheckResult` (``ok`` / ``warn`` / ``fail``, a message, a hint on
how to fix it). The checks have no side effects: nothing is written to the store (no lock, no
staging folder, no ``history.jsonl``), no file is created anywhere the job owns. The only
network traffic is a handful of read requests (zone discovery, ``ThresholdInformation``, a few
counts for the visibility check ``run`` makes too, the entity field lists), the same the
extractor makes first.

Exit code (:func:`exit_code`), as in the design's precedence: **2** when a configuration check
fails (config file, rule files, waivers, the tenant mapping, credentials), else **3** when a
runtime check fails (API unreachable or refusing, store unreadable, WeasyPrint broken), else 0.
Warnings never change the exit code.

Secrets: the credential check names variables, never values, and every message that comes from
the network is passed through :func:`audit.core.logs.redact` with the credential values added, so an
error echoing a URL or a header cannot print them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import httpx

from audit.app.checks.api import (
    BUDGET_WARN_SHARE,
    Api,
    EmbeddedApi,
    check_api,
    check_budget,
    check_credentials,
    check_visibility,
    check_zone,
)
from audit.app.checks.config import check_config, check_rules, check_waivers
from audit.app.checks.mapping import check_mapping
from audit.app.checks.pdf import check_pdf
from audit.app.checks.result import CheckResult, Status, exit_code, fail, format_report, format_result
from audit.app.checks.store import check_store
from audit.core.config import Config
from audit.core.logs import SECRET_ENV_VARS, redact

__all__ = [
    "BUDGET_WARN_SHARE",
    "CHECK_NAMES",
    "CheckResult",
    "EmbeddedApi",
    "Status",
    "exit_code",
    "format_report",
    "format_result",
    "run_doctor",
]

#: The checks in the order they run and print.
CHECK_NAMES: tuple[str, ...] = (
    "config",
    "rules",
    "credentials",
    "zone",
    "api",
    "budget",
    "visibility",
    "mapping",
    "store",
    "pdf",
)


def _doctor_as_of(as_of: datetime | None, sandbox: EmbeddedApi | None) -> datetime:
    if as_of is not None:
        return as_of
    if sandbox is not None:
        return sandbox.as_of
    return datetime.now(UTC)


def run_doctor(
    *,
    config_file: str | os.PathLike[str] | None = None,
    store_dir: str | os.PathLike[str] | None = None,
    sandbox: EmbeddedApi | None = None,
    environ: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    pdf: bool = True,
    as_of: datetime | None = None,
) -> list[CheckResult]:
    """Run every check; never raises for a problem it can report.

    ``environ`` defaults to ``os.environ``; ``transport`` routes the API checks (tests);
    ``sandbox`` answers them in-process instead (the CLI builds it for ``--sandbox``).
    ``pdf=False`` skips the WeasyPrint check (it is the slowest). ``as_of`` ends the window of the
    visibility check (default: now; the sandbox tenant's own "now" with ``sandbox``).
    """
    env = os.environ if environ is None else environ
    results: list[CheckResult] = []

    def run(name: str, check: Callable[[], CheckResult | list[CheckResult] | None]) -> None:
        # A bug in one check must not hide the others (nor print a traceback): it becomes
        # that check's failure, and the remaining checks still run.
        try:
            outcome = check()
        except Exception as exc:
            # The exception text may echo a credential (a URL, a header): redact it like every
            # other message this command prints.
            secrets = [v for v in (env.get(k) for k in SECRET_ENV_VARS) if v]
            outcome = fail(
                name, redact(f"the check itself crashed: {type(exc).__name__}: {exc}", extra=secrets)
            )
        if isinstance(outcome, CheckResult):
            results.append(outcome)
        elif outcome is not None:
            results.extend(outcome)

    config_result, config = check_config(None if config_file is None else str(config_file))
    results.append(config_result)
    if config is not None:
        run("waivers", lambda: check_waivers(config))
    run("rules", lambda: check_rules(config))
    store_path = Path(store_dir) if store_dir is not None else Path((config or Config()).store)

    api = Api(transport=transport)
    try:
        if sandbox is not None:
            api.transport = sandbox.transport
        run("credentials", lambda: check_credentials(env, sandbox, api))
        run("zone", lambda: check_zone(env, sandbox, api))
        run("api", lambda: check_api(api))
        run("budget", lambda: check_budget(api, config))
        run("visibility", lambda: check_visibility(api, _doctor_as_of(as_of, sandbox)))
        run("mapping", lambda: check_mapping(config, api, store_path))
    finally:
        if api.client is not None:
            api.client.close()
    run("store", lambda: check_store(store_path))
    if pdf:
        run("pdf", check_pdf)
    return results
