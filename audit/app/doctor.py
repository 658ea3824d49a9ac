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

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx
import pyarrow.parquet as pq

from audit.app.pipeline import prepare
from audit.core.config import Config, load_config
from audit.core.errors import (
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_RUNTIME,
    ApiError,
    ConfigError,
    CredentialsError,
    StoreError,
)
from audit.core.logs import SECRET_ENV_VARS, redact
from audit.core.suggest import close_matches, did_you_mean
from audit.engine.frames import MAPPING_LABELS, mapping_label_issues
from audit.results.waivers import load_waivers
from audit.source.autotask import (
    DEFAULT_DISCOVERY_URL,
    VISIBILITY_WINDOW_DAYS,
    AutotaskClient,
    Credentials,
    ZoneInfo,
    discover_zone,
    visibility_gaps,
)
from audit.store.snapshot import Store, picklists_frame

if TYPE_CHECKING:
    import pandas as pd

    from audit.source.autotask import ThresholdInfo

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

Status = Literal["ok", "warn", "fail"]
Category = Literal["config", "runtime"]

#: Above this share of the hourly request budget used, Autotask adds latency to every call
#: (and the job competes with the tenant's other integrations): a warning.
BUDGET_WARN_SHARE = 0.5

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

# The variable names the README documents (credentials come only from the environment);
# renaming one breaks every deployment.
_ENV_USERNAME = "AUTOTASK_USERNAME"
_ENV_SECRET = "AUTOTASK_SECRET"
_ENV_INTEGRATION_CODE = "AUTOTASK_INTEGRATION_CODE"
_ENV_ZONE_URL = "AUTOTASK_ZONE_URL"
_ENV_DISCOVERY_URL = "AUTOTASK_DISCOVERY_URL"
_REQUIRED_ENV = (_ENV_USERNAME, _ENV_SECRET, _ENV_INTEGRATION_CODE)

# Doctor is interactive: fail fast rather than spend the extractor's 6 retries with back-off.
_TIMEOUT = 15.0
_RETRIES = 1
_BACKOFF = 0.2

#: Mapping settings naming UDFs of Tickets, and the settings holding values of those UDFs.
_UDF_SETTINGS = ("impact_udf", "urgency_udf", "on_call_udf", "vendor_case_udf")
_UDF_VALUE_SETTINGS = {"impact_values": "impact_udf", "urgency_values": "urgency_udf"}
_MAX_LISTED = 12


@dataclass(frozen=True)
class EmbeddedApi:
    """An API answered in-process that ``doctor --sandbox`` checks instead of Autotask's: its
    built-in API user (the environment is not read), where zone discovery asks, the transport
    that answers, and its tenant's "now" (the default end of the visibility window)."""

    credentials: Credentials
    discovery_url: str
    transport: httpx.BaseTransport
    as_of: datetime


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check."""

    name: str
    status: Status
    message: str
    hint: str = ""
    #: Which exit code a failure means: "config" (2, nothing should run) or "runtime" (3).
    category: Category = "runtime"

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name, "status": self.status, "message": self.message,
            "hint": self.hint, "category": self.category,
        }  # fmt: skip


def _ok(name: str, message: str, hint: str = "", category: Category = "runtime") -> CheckResult:
    return CheckResult(name, "ok", message, hint, category)


def _warn(name: str, message: str, hint: str = "", category: Category = "runtime") -> CheckResult:
    return CheckResult(name, "warn", message, hint, category)


def _fail(name: str, message: str, hint: str = "", category: Category = "runtime") -> CheckResult:
    return CheckResult(name, "fail", message, hint, category)


def exit_code(results: Iterable[CheckResult]) -> int:
    """2 when a config check failed, else 3 when a runtime check failed, else 0 (2 > 3 > 0)."""
    failed = {r.category for r in results if r.status == "fail"}
    if "config" in failed:
        return EXIT_CONFIG
    if "runtime" in failed:
        return EXIT_RUNTIME
    return EXIT_OK


_SYMBOLS = {"ok": "✓", "warn": "!", "fail": "✗"}
_ASCII_SYMBOLS = {"ok": "+", "warn": "!", "fail": "x"}


def _symbols(encoding: str | None) -> Mapping[str, str]:
    # A cron job under a bare locale may have an ASCII stdout: degrade rather than crash.
    try:
        "✓✗".encode(encoding or "utf-8")
    except (LookupError, UnicodeEncodeError):
        return _ASCII_SYMBOLS
    return _SYMBOLS


def format_result(result: CheckResult, *, encoding: str | None = "utf-8") -> str:
    """One line: symbol, check name, message, and the hint after an em dash."""
    symbols = _symbols(encoding)
    dash = " — " if symbols is _SYMBOLS else " -- "
    message = " ".join(result.message.split())  # multi-line errors (rule files) stay on one line
    line = f"{symbols[result.status]} {result.name:<11} {message}"
    if result.hint:
        line += dash + " ".join(result.hint.split())
    return line


def format_report(results: Sequence[CheckResult], *, encoding: str | None = "utf-8") -> str:
    """Every check's line, then a one-line tally with the exit code."""
    lines = [format_result(r, encoding=encoding) for r in results]
    counts = {s: sum(1 for r in results if r.status == s) for s in ("ok", "warn", "fail")}
    code = exit_code(results)
    lines.append(
        f"doctor: {counts['ok']} ok, {counts['warn']} warning(s), {counts['fail']} failure(s); exit {code}"
    )
    return "\n".join(lines)


def _quote_list(values: Iterable[str], limit: int = _MAX_LISTED) -> str:
    items = list(values)
    text = ", ".join(repr(v) for v in items[:limit])
    if len(items) > limit:
        text += f", … ({len(items) - limit} more)"
    return text or "(none)"


# ---------------------------------------------------------------------------- config, rules


def _check_config(config_file: str | None) -> tuple[CheckResult, Config | None]:
    if config_file is None:
        return _ok("config", "no config file: every key at its catalog default", category="config"), Config()
    try:
        config = load_config(config_file)
    except ConfigError as exc:
        return (
            _fail(
                "config",
                str(exc),
                "fix the file; `ticket-audit config validate FILE` checks it alone",
                category="config",
            ),
            None,
        )
    explicit = len(config.explicit_mapping_keys)
    return _ok("config", f"{config_file} is valid ({explicit} mapping key(s) set)", category="config"), config


def _check_waivers(config: Config) -> CheckResult | None:
    if not config.waivers.file:
        return None

    try:
        load_waivers(config.waivers.file)
    except ConfigError as exc:
        return _fail("waivers", str(exc), "fix the waivers file or unset waivers.file", category="config")
    return _ok("waivers", f"{config.waivers.file} is valid", category="config")


def _rules_hint(config: Config, exc: ConfigError) -> str:
    """The command that lists every problem of the rules as this config loads them."""
    with_config = f" --config {config.source}" if config.source else ""
    if config.source and exc.file == config.source:  # a threshold or override naming no rule or step
        return f"`ticket-audit config validate {config.source}` lists every problem"
    if config.rules_dir:
        return f"`ticket-audit rules validate {config.rules_dir}{with_config}` lists every problem"
    if config.source:  # the bundled rules are fine on their own: this config is what they reject
        return f"`ticket-audit config validate {config.source}` lists every problem"
    return "the bundled rules are broken: reinstall ticket-audit"


def _check_rules(config: Config | None) -> CheckResult:
    # With an invalid config the rules are still worth checking, against the defaults.
    cfg = config or Config()
    try:
        # The checks `run` makes before reading any data (rule files, and the config's threshold
        # and override names against them); the waivers file has a check of its own.
        no_waivers = cfg.waivers.model_copy(update={"file": None})
        ruleset = prepare(cfg.model_copy(update={"waivers": no_waivers})).ruleset
    except ConfigError as exc:
        problems = getattr(exc, "problems", None) or [exc]
        shown = "; ".join(str(p) for p in problems[:3])
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        return _fail("rules", f"{shown}{more}", _rules_hint(cfg, exc), category="config")
    except Exception as exc:  # a loader bug must still be a line, not a traceback
        return _fail("rules", f"loading the rules failed: {type(exc).__name__}: {exc}", category="config")
    source = "bundled rules" if ruleset.source == "bundled" else ruleset.source
    return _ok(
        "rules", f"{len(ruleset.rules)} rules valid ({source}, version {ruleset.digest})", category="config"
    )


# ---------------------------------------------------------------------------- API checks


@dataclass
class _Api:
    """What the API checks learned, for the checks after them."""

    credentials: Credentials | None = None
    zone: ZoneInfo | None = None
    client: AutotaskClient | None = None
    threshold: ThresholdInfo | None = None
    transport: httpx.BaseTransport | None = None
    secrets: tuple[str, ...] = ()

    def clean(self, text: str) -> str:
        # Every value, however short: redact masks a short one only as a whole token.
        return redact(text, extra=self.secrets)


def _check_credentials(env: Mapping[str, str], sandbox: EmbeddedApi | None, api: _Api) -> CheckResult:
    if sandbox is not None:
        api.credentials = sandbox.credentials
        api.secrets = api.credentials.secret_values()
        return _ok(
            "credentials",
            "sandbox: the emulator's built-in API user (the environment is not read)",
            category="config",
        )
    missing = [name for name in _REQUIRED_ENV if not (env.get(name) or "").strip()]
    # Collect whatever is set before deciding, so even a partial set is scrubbed from output.
    api.secrets = tuple(v for v in (env.get(n) for n in _REQUIRED_ENV) if v and v.strip())
    if missing:
        return _fail(
            "credentials",
            f"missing environment variable(s): {', '.join(missing)}",
            "export them for the job (the API-only user of the Autotask integration); "
            "or use --sandbox to check against the embedded tenant",
            category="config",
        )
    try:
        api.credentials = Credentials.from_env(env)
    except ConfigError as exc:  # blank values: from_env names the variables, never the values
        return _fail("credentials", api.clean(str(exc)), category="config")
    api.secrets = api.credentials.secret_values()
    return _ok("credentials", f"{', '.join(_REQUIRED_ENV)} are set", category="config")


def _check_zone(env: Mapping[str, str], sandbox: EmbeddedApi | None, api: _Api) -> CheckResult:
    if api.credentials is None:
        return _warn("zone", "skipped: no credentials", "fix the credentials first")
    zone_url = "" if sandbox else (env.get(_ENV_ZONE_URL) or "").strip()
    if zone_url:
        try:
            api.zone = ZoneInfo.from_url(zone_url)
        except ConfigError as exc:
            return _fail(
                "zone",
                f"{_ENV_ZONE_URL}: {exc}",
                "give the zone's API url, e.g. https://webservices2.autotask.net/ATServicesRest/",
                category="config",
            )
        return _ok("zone", f"{api.zone.url} (from {_ENV_ZONE_URL}; discovery skipped)")
    if sandbox is not None:
        discovery = sandbox.discovery_url
    else:
        discovery = (env.get(_ENV_DISCOVERY_URL) or "").strip() or DEFAULT_DISCOVERY_URL
    try:
        api.zone = discover_zone(
            api.credentials, discovery_url=discovery, transport=api.transport,
            timeout=_TIMEOUT, max_retries=_RETRIES, backoff_base=_BACKOFF,
        )  # fmt: skip
    except CredentialsError as exc:
        return _fail("zone", api.clean(f"zone discovery on {discovery}: {exc}"), _refused_hint(exc))
    except (ApiError, ConfigError, httpx.HTTPError) as exc:
        return _fail(
            "zone",
            api.clean(f"zone discovery on {discovery} failed: {exc}"),
            f"check the network path to {discovery} and {_ENV_USERNAME}; or set {_ENV_ZONE_URL} "
            "to skip discovery",
        )
    name = f"zone {api.zone.zone_name!r}" if api.zone.zone_name else "zone"
    return _ok("zone", f"discovered {name} at {api.zone.url} (web {api.zone.web_url})")


def _check_api(api: _Api) -> CheckResult:
    if api.credentials is None or api.zone is None:
        return _warn("api", "skipped: no zone", "fix the checks above first")
    api.client = AutotaskClient(
        api.zone, api.credentials, transport=api.transport,
        timeout=_TIMEOUT, max_retries=_RETRIES, backoff_base=_BACKOFF, validation_retries=0,
    )  # fmt: skip
    started = time.monotonic()
    try:
        api.threshold = api.client.threshold()
    except CredentialsError as exc:
        return _fail("api", api.clean(f"{api.zone.url}: {exc}"), _refused_hint(exc))
    except (ApiError, httpx.HTTPError) as exc:
        hint = f"check that {api.zone.url} is reachable from this host (proxy, firewall, DNS)"
        return _fail("api", api.clean(f"{api.zone.url} did not answer: {exc}"), hint)
    ms = (time.monotonic() - started) * 1000
    return _ok("api", f"{api.zone.url} answered, credentials accepted ({ms:.0f} ms)")


def _refused_hint(exc: CredentialsError) -> str:
    return (
        f"the API refused the credentials: check {' and '.join(exc.variables)} against the API user "
        "in Autotask (Admin > Resources/Users: its Username (Key), Password (Secret) and API Tracking Identifier)"
    )


def _check_visibility(api: _Api, as_of: datetime) -> list[CheckResult]:
    """Rows the API user cannot see (the same check ``run`` logs): one warning per gap."""

    if api.client is None or api.threshold is None:
        return [_warn("visibility", "skipped: the API did not answer", "fix the checks above first")]
    try:
        gaps = visibility_gaps(api.client.count, as_of)
    except ApiError as exc:
        return [_warn("visibility", api.clean(f"not checked: {exc}"))]
    if not gaps:
        return [
            _ok(
                "visibility",
                f"non-billable time entries and internal notes of the last "
                f"{VISIBILITY_WINDOW_DAYS} days are visible to the API user",
            )
        ]
    return [_warn("visibility", gap.message, gap.grant) for gap in gaps]


def _check_budget(api: _Api, config: Config | None) -> CheckResult:
    t = api.threshold
    if t is None:
        return _warn("budget", "skipped: ThresholdInformation not read", "fix the checks above first")
    limit, used = t.external_request_threshold, t.current_timeframe_request_count
    share = used / limit if limit > 0 else 1.0
    budget_share = (config or Config()).extract.budget_share
    allowed = int(budget_share * t.remaining)
    text = (
        f"{used} of {limit} requests used in the last {t.request_threshold_timeframe} min ({share:.0%}); "
        f"{t.remaining} left, this job may plan up to {allowed} (extract.budget_share {budget_share:.0%})"
    )
    if used >= limit:
        return _fail(
            "budget",
            text + "; the tenant's API is suspended",
            "wait for the rolling hour to drain; find the integration that burst the budget",
        )
    if share > BUDGET_WARN_SHARE:
        return _warn(
            "budget",
            text,
            "above 50% Autotask slows every call; schedule the job when other integrations are quiet",
        )
    return _ok("budget", text)


# ---------------------------------------------------------------------------- mapping


@dataclass
class _Tenant:
    """The tenant's picklists and UDFs, live from the API or from the store's snapshot."""

    picklists: pd.DataFrame
    udf_names: tuple[str, ...]
    udf_values: dict[str, tuple[str, ...]]  # UDF name -> picklist labels (picklist UDFs only)
    source: str


def _tenant_from_api(api: _Api) -> _Tenant | str:
    if api.client is None or api.threshold is None:
        return "the API was not reached"
    entities = sorted({ent for ent, _ in MAPPING_LABELS.values()})
    try:
        fields = {ent: api.client.entity_fields(ent) for ent in entities}
        udfs = api.client.entity_udfs("Tickets")
    except (ApiError, httpx.HTTPError) as exc:
        return api.clean(f"reading the field lists failed: {exc}")
    names = tuple(sorted(str(u.get("name")) for u in udfs if u.get("name")))
    values = {
        str(u.get("name")): tuple(
            sorted(str(v.get("label")) for v in u.get("picklistValues") or [] if v.get("label"))
        )
        for u in udfs
        if u.get("isPickList") and u.get("picklistValues")
    }
    return _Tenant(picklists_frame(fields), names, values, "live from the API")


def _tenant_from_store(store_path: Path) -> _Tenant | str:
    store = Store(store_path)
    try:
        if not store.exists():
            return "the store holds no snapshot yet"
        picklists = store.picklists()
        udfs = store.udf_definitions()
    except StoreError as exc:
        return f"the store is unreadable ({exc})"
    tickets = udfs[udfs["entity"].astype("string").str.lower() == "tickets"]
    names = tuple(sorted(str(n) for n in tickets["name"].dropna()))
    return _Tenant(picklists, names, {}, f"from the store snapshot {store.snapshot_id} (API not checked)")


def _label_problem(
    setting: str, label: str, available: Sequence[str], where: str, explicit: bool, config: Config
) -> CheckResult:
    suggestions = close_matches(label, available)
    message = f"mapping.{setting}: {label!r} not found"
    message += f"; {did_you_mean(suggestions)}" if suggestions else f" in the tenant's {where}"
    hint = f"labels are case-sensitive; the tenant's {where}: {_quote_list(available)}"
    if explicit:
        return _fail(
            "mapping",
            message,
            f"fix [mapping] {setting} in {config.source or 'the config'}; {hint}",
            category="config",
        )
    return _warn(
        "mapping",
        message + " (catalog default)",
        f"set [mapping] {setting} to the tenant's labels; {hint}",
        category="config",
    )


def _check_mapping(config: Config | None, api: _Api, store_path: Path | None) -> list[CheckResult]:
    if config is None:
        return [
            _warn("mapping", "skipped: the config file is invalid", "fix the config first", category="config")
        ]
    tenant = _tenant_labels(api, store_path)
    if isinstance(tenant, str):
        return [
            _warn(
                "mapping",
                f"not checked: {tenant}",
                "run doctor where the API is reachable",
                category="config",
            )
        ]
    results = _picklist_label_problems(config, tenant) + _udf_problems(config, tenant)
    if not results:
        mapping = config.mapping
        checked = sum(len(getattr(mapping, s)) for s in MAPPING_LABELS) + len(_UDF_SETTINGS)
        results.append(
            _ok(
                "mapping",
                f"all {checked} mapping labels found in the tenant's picklists and UDFs ({tenant.source})",
                category="config",
            )
        )
    return results


def _tenant_labels(api: _Api, store_path: Path | None) -> _Tenant | str:
    """The tenant's picklists and UDFs, live from the API, else from the store's snapshot; or
    why neither could be read."""
    tenant = _tenant_from_api(api)
    if isinstance(tenant, str) and store_path is not None:
        api_reason = tenant
        tenant = _tenant_from_store(store_path)
        if isinstance(tenant, str):
            tenant = f"{api_reason} and {tenant}"
    return tenant


def _picklist_label_problems(config: Config, tenant: _Tenant) -> list[CheckResult]:
    """Picklist labels: the same judgement build_frames makes (explicit -> error, default ->
    warning); a setting's missing default labels are one warning together."""
    results: list[CheckResult] = []
    defaults: dict[str, list[Any]] = {}
    for issue in mapping_label_issues(config, tenant.picklists):
        where = f"{issue.entity}.{issue.field} picklist"
        if issue.explicit:
            results.append(_label_problem(issue.setting, issue.label, issue.available, where, True, config))
        else:
            defaults.setdefault(issue.setting, []).append(issue)
    for setting, group in defaults.items():
        first = group[0]
        where = f"{first.entity}.{first.field} picklist"
        if len(group) == 1:
            results.append(_label_problem(setting, first.label, first.available, where, False, config))
            continue
        labels = [i.label for i in group]
        suggestions = [s for i in group for s in close_matches(i.label, i.available)]
        message = f"mapping.{setting}: default labels {_quote_list(labels)} are not in the tenant's {where}"
        if suggestions:
            message += f"; {did_you_mean(list(dict.fromkeys(suggestions)))}"
        results.append(
            _warn(
                "mapping",
                message,
                f"harmless when the tenant does not use them; set [mapping] {setting} to the tenant's labels "
                f"to silence this ({_quote_list(first.available)})",
                category="config",
            )
        )
    return results


def _udf_problems(config: Config, tenant: _Tenant) -> list[CheckResult]:
    """UDF names and picklist values, with the same explicit/default rule (frames only adds a
    missing UDF as an empty column, so a typo would silently make the impact/urgency rules "not
    measured")."""
    results: list[CheckResult] = []
    mapping = config.mapping
    for setting in _UDF_SETTINGS:
        name = getattr(mapping, setting)
        if name not in tenant.udf_names:
            results.append(
                _label_problem(
                    setting,
                    name,
                    tenant.udf_names,
                    "Tickets UDFs",
                    setting in config.explicit_mapping_keys,
                    config,
                )
            )
    for setting, udf_setting in _UDF_VALUE_SETTINGS.items():
        allowed = tenant.udf_values.get(getattr(mapping, udf_setting))
        if not allowed:  # a free-text UDF: any value may appear
            continue
        for value in getattr(mapping, setting):
            if value not in allowed:
                where = f"Tickets UDF {getattr(mapping, udf_setting)!r} picklist"
                results.append(
                    _label_problem(
                        setting, value, allowed, where, setting in config.explicit_mapping_keys, config
                    )
                )
    return results


# ---------------------------------------------------------------------------- store


def _nearest_existing(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return None


def _check_store(store_path: Path) -> list[CheckResult]:
    # Everything below only reads: Store.exists/state/picklists/failed_runs never write, and
    # the lock is inspected as a file, never taken.
    if not store_path.exists():
        parent = _nearest_existing(store_path.absolute().parent)
        if parent is None or not os.access(parent, os.W_OK | os.X_OK):
            return [
                _fail(
                    "store",
                    f"{store_path} does not exist and {parent} is not writable",
                    "create the folder for the job's user, or point --store / `store` elsewhere",
                )
            ]
        return [_warn("store", f"{store_path} does not exist yet: the first run will create it")]
    if not store_path.is_dir():
        return [_fail("store", f"{store_path} is not a folder", "point --store / `store` at a folder")]
    store = Store(store_path)
    results: list[CheckResult] = []
    try:
        if not store.exists():
            results.append(
                _warn(
                    "store",
                    f"{store_path} holds no published snapshot yet: the next run extracts "
                    "everything (initial_days)",
                )
            )
        else:
            state = store.state
            snap = store.snapshot_dir
            assert snap is not None  # exists() said CURRENT names a snapshot
            store.picklists()
            store.udf_definitions()
            # Parquet footers are cheap to read and catch truncated or foreign files.
            files = sorted(snap.glob("*.parquet"))
            for f in files:
                try:
                    pq.read_metadata(f)
                except Exception as exc:
                    raise StoreError(f"{f} is unreadable or corrupt: {exc}") from exc
            last = state.runs[-1] if state.runs else None
            as_of = state.as_of.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if state.as_of else "unknown"
            message = f"snapshot {store.snapshot_id} readable ({len(files)} files, as of {as_of}"
            message += f", {len(state.runs)} run(s) logged)" if last else ")"
            results.append(_ok("store", message))
        failed = store.failed_runs()
        if failed:
            err = failed[-1].error or failed[-1].status
            results.append(
                _warn(
                    "store",
                    f"{len(failed)} run(s) stopped without publishing since the last "
                    f"snapshot; the last: {err}",
                    "see `ticket-audit history`",
                )
            )
    except StoreError as exc:
        return [
            _fail("store", str(exc), "fix or move the store aside; a new store is rebuilt by the next run")
        ]
    except OSError as exc:
        return [_fail("store", f"{store_path} is unreadable: {exc}", "check the folder's permissions")]
    lock = store_path / "lock"
    if lock.exists():
        with contextlib.suppress(OSError):
            holder = lock.read_text(encoding="utf-8").strip()
            results.append(
                _warn(
                    "store",
                    f"locked by {holder or 'an unknown process'}",
                    "a run is in progress, or a killed one left its lock (taken over when stale)",
                )
            )
    if not os.access(store_path, os.W_OK | os.X_OK):
        results.append(
            _fail(
                "store",
                f"{store_path} is not writable by this user",
                "the nightly run writes here: fix the folder's owner or permissions",
            )
        )
    return results


# ---------------------------------------------------------------------------- PDF


def _fonts(run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run) -> tuple[int, bool] | None:
    """(font families, DejaVu Sans present) from fontconfig, or None without fc-list."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        out = run([fc_list, ":", "family"], capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    families = {f.strip() for line in out.splitlines() for f in line.split(",") if f.strip()}
    return len(families), any(f.lower() == "dejavu sans" for f in families)


def _check_pdf() -> CheckResult:
    try:
        import weasyprint
    except Exception as exc:  # ImportError, or OSError when pango/cairo libraries are missing
        return _fail(
            "pdf",
            f"WeasyPrint cannot be imported: {type(exc).__name__}: {exc}",
            "install WeasyPrint's system libraries (pango, harfbuzz, fontconfig)",
        )
    try:
        # Rendered to bytes in memory (no target path): nothing is written.
        pdf = weasyprint.HTML(
            string="<html><body><p style='font-family: \"DejaVu Sans\", sans-serif'>ticket-audit ✓</p></body></html>"
        ).write_pdf()
    except Exception as exc:
        return _fail(
            "pdf",
            f"WeasyPrint failed to render a test page: {type(exc).__name__}: {exc}",
            "check WeasyPrint's system libraries (pango, cairo, fontconfig)",
        )
    if not isinstance(pdf, bytes) or not pdf.startswith(b"%PDF"):
        return _fail("pdf", "WeasyPrint rendered something that is not a PDF")
    version = getattr(weasyprint, "__version__", "?")
    fonts = _fonts()
    if fonts is None:
        return _ok(
            "pdf", f"WeasyPrint {version} renders ({len(pdf)} bytes); fc-list not found, fonts not listed"
        )
    count, dejavu = fonts
    if count == 0:
        return _warn(
            "pdf",
            f"WeasyPrint {version} renders but fontconfig lists no fonts: text will be missing",
            "install a font package (e.g. fonts-dejavu-core)",
        )
    if not dejavu:
        return _warn(
            "pdf",
            f"WeasyPrint {version} renders; {count} font families, but not DejaVu Sans "
            "(the report's font): another sans-serif is used",
            "install fonts-dejavu-core",
        )
    return _ok("pdf", f"WeasyPrint {version} renders a test page; {count} font families incl. DejaVu Sans")


# ---------------------------------------------------------------------------- the run


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
            outcome = _fail(
                name, redact(f"the check itself crashed: {type(exc).__name__}: {exc}", extra=secrets)
            )
        if isinstance(outcome, CheckResult):
            results.append(outcome)
        elif outcome is not None:
            results.extend(outcome)

    config_result, config = _check_config(None if config_file is None else str(config_file))
    results.append(config_result)
    if config is not None:
        run("waivers", lambda: _check_waivers(config))
    run("rules", lambda: _check_rules(config))
    store_path = Path(store_dir) if store_dir is not None else Path((config or Config()).store)

    api = _Api(transport=transport)
    try:
        if sandbox is not None:
            api.transport = sandbox.transport
        run("credentials", lambda: _check_credentials(env, sandbox, api))
        run("zone", lambda: _check_zone(env, sandbox, api))
        run("api", lambda: _check_api(api))
        run("budget", lambda: _check_budget(api, config))
        run("visibility", lambda: _check_visibility(api, _doctor_as_of(as_of, sandbox)))
        run("mapping", lambda: _check_mapping(config, api, store_path))
    finally:
        if api.client is not None:
            api.client.close()
    run("store", lambda: _check_store(store_path))
    if pdf:
        run("pdf", _check_pdf)
    return results
