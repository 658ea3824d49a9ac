"""Doctor checks of the API: credentials, zone, the API itself, the request budget, what the API
user can see. Every message from the network is redacted with the credential values added."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import httpx

from audit.app.checks.result import CheckResult, fail, ok, warn
from audit.core.config import Config
from audit.core.errors import (
    ApiError,
    ConfigError,
    CredentialsError,
)
from audit.core.logs import redact
from audit.source.autotask import (
    DEFAULT_DISCOVERY_URL,
    VISIBILITY_WINDOW_DAYS,
    AutotaskClient,
    Credentials,
    ZoneInfo,
    discover_zone,
    visibility_gaps,
)

if TYPE_CHECKING:
    from audit.source.autotask import ThresholdInfo

#: Above this share of the hourly request budget used, Autotask adds latency to every call
#: (and the job competes with the tenant's other integrations): a warning.
BUDGET_WARN_SHARE = 0.5

# The variable names the README documents (credentials come only from the environment);
# renaming one breaks every deployment.
ENV_USERNAME = "AUTOTASK_USERNAME"
ENV_SECRET = "AUTOTASK_SECRET"
ENV_INTEGRATION_CODE = "AUTOTASK_INTEGRATION_CODE"
ENV_ZONE_URL = "AUTOTASK_ZONE_URL"
ENV_DISCOVERY_URL = "AUTOTASK_DISCOVERY_URL"
REQUIRED_ENV = (ENV_USERNAME, ENV_SECRET, ENV_INTEGRATION_CODE)

# Doctor is interactive: fail fast rather than spend the extractor's 6 retries with back-off.
_TIMEOUT = 15.0
_RETRIES = 1
_BACKOFF = 0.2


@dataclass(frozen=True)
class EmbeddedApi:
    """An API answered in-process that ``doctor --sandbox`` checks instead of Autotask's: its
    built-in API user (the environment is not read), where zone discovery asks, the transport
    that answers, and its tenant's "now" (the default end of the visibility window)."""

    credentials: Credentials
    discovery_url: str
    transport: httpx.BaseTransport
    as_of: datetime


@dataclass
class Api:
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


def check_credentials(env: Mapping[str, str], sandbox: EmbeddedApi | None, api: Api) -> CheckResult:
    if sandbox is not None:
        api.credentials = sandbox.credentials
        api.secrets = api.credentials.secret_values()
        return ok(
            "credentials",
            "sandbox: the emulator's built-in API user (the environment is not read)",
            category="config",
        )
    missing = [name for name in REQUIRED_ENV if not (env.get(name) or "").strip()]
    # Collect whatever is set before deciding, so even a partial set is scrubbed from output.
    api.secrets = tuple(v for v in (env.get(n) for n in REQUIRED_ENV) if v and v.strip())
    if missing:
        return fail(
            "credentials",
            f"missing environment variable(s): {', '.join(missing)}",
            "export them for the job (the API-only user of the Autotask integration); "
            "or use --sandbox to check against the embedded tenant",
            category="config",
        )
    try:
        api.credentials = Credentials.from_env(env)
    except ConfigError as exc:  # blank values: from_env names the variables, never the values
        return fail("credentials", api.clean(str(exc)), category="config")
    api.secrets = api.credentials.secret_values()
    return ok("credentials", f"{', '.join(REQUIRED_ENV)} are set", category="config")


def check_zone(env: Mapping[str, str], sandbox: EmbeddedApi | None, api: Api) -> CheckResult:
    if api.credentials is None:
        return warn("zone", "skipped: no credentials", "fix the credentials first")
    zone_url = "" if sandbox else (env.get(ENV_ZONE_URL) or "").strip()
    if zone_url:
        try:
            api.zone = ZoneInfo.from_url(zone_url)
        except ConfigError as exc:
            return fail(
                "zone",
                f"{ENV_ZONE_URL}: {exc}",
                "give the zone's API url, e.g. https://webservices2.autotask.net/ATServicesRest/",
                category="config",
            )
        return ok("zone", f"{api.zone.url} (from {ENV_ZONE_URL}; discovery skipped)")
    if sandbox is not None:
        discovery = sandbox.discovery_url
    else:
        discovery = (env.get(ENV_DISCOVERY_URL) or "").strip() or DEFAULT_DISCOVERY_URL
    try:
        api.zone = discover_zone(
            api.credentials, discovery_url=discovery, transport=api.transport,
            timeout=_TIMEOUT, max_retries=_RETRIES, backoff_base=_BACKOFF,
        )  # fmt: skip
    except CredentialsError as exc:
        return fail("zone", api.clean(f"zone discovery on {discovery}: {exc}"), _refused_hint(exc))
    except (ApiError, ConfigError, httpx.HTTPError) as exc:
        return fail(
            "zone",
            api.clean(f"zone discovery on {discovery} failed: {exc}"),
            f"check the network path to {discovery} and {ENV_USERNAME}; or set {ENV_ZONE_URL} "
            "to skip discovery",
        )
    name = f"zone {api.zone.zone_name!r}" if api.zone.zone_name else "zone"
    return ok("zone", f"discovered {name} at {api.zone.url} (web {api.zone.web_url})")


def check_api(api: Api) -> CheckResult:
    if api.credentials is None or api.zone is None:
        return warn("api", "skipped: no zone", "fix the checks above first")
    api.client = AutotaskClient(
        api.zone, api.credentials, transport=api.transport,
        timeout=_TIMEOUT, max_retries=_RETRIES, backoff_base=_BACKOFF, validation_retries=0,
    )  # fmt: skip
    started = time.monotonic()
    try:
        api.threshold = api.client.threshold()
    except CredentialsError as exc:
        return fail("api", api.clean(f"{api.zone.url}: {exc}"), _refused_hint(exc))
    except (ApiError, httpx.HTTPError) as exc:
        hint = f"check that {api.zone.url} is reachable from this host (proxy, firewall, DNS)"
        return fail("api", api.clean(f"{api.zone.url} did not answer: {exc}"), hint)
    ms = (time.monotonic() - started) * 1000
    return ok("api", f"{api.zone.url} answered, credentials accepted ({ms:.0f} ms)")


def _refused_hint(exc: CredentialsError) -> str:
    return (
        f"the API refused the credentials: check {' and '.join(exc.variables)} against the API user "
        "in Autotask (Admin > Resources/Users: its Username (Key), Password (Secret) and API Tracking Identifier)"
    )


def check_visibility(api: Api, as_of: datetime) -> list[CheckResult]:
    """Rows the API user cannot see (the same check ``run`` logs): one warning per gap."""

    if api.client is None or api.threshold is None:
        return [warn("visibility", "skipped: the API did not answer", "fix the checks above first")]
    try:
        gaps = visibility_gaps(api.client.count, as_of)
    except ApiError as exc:
        return [warn("visibility", api.clean(f"not checked: {exc}"))]
    if not gaps:
        return [
            ok(
                "visibility",
                f"non-billable time entries and internal notes of the last "
                f"{VISIBILITY_WINDOW_DAYS} days are visible to the API user",
            )
        ]
    return [warn("visibility", gap.message, gap.grant) for gap in gaps]


def check_budget(api: Api, config: Config | None) -> CheckResult:
    t = api.threshold
    if t is None:
        return warn("budget", "skipped: ThresholdInformation not read", "fix the checks above first")
    limit, used = t.external_request_threshold, t.current_timeframe_request_count
    share = used / limit if limit > 0 else 1.0
    budget_share = (config or Config()).extract.budget_share
    allowed = int(budget_share * t.remaining)
    text = (
        f"{used} of {limit} requests used in the last {t.request_threshold_timeframe} min ({share:.0%}); "
        f"{t.remaining} left, this job may plan up to {allowed} (extract.budget_share {budget_share:.0%})"
    )
    if used >= limit:
        return fail(
            "budget",
            text + "; the tenant's API is suspended",
            "wait for the rolling hour to drain; find the integration that burst the budget",
        )
    if share > BUDGET_WARN_SHARE:
        return warn(
            "budget",
            text,
            "above 50% Autotask slows every call; schedule the job when other integrations are quiet",
        )
    return ok("budget", text)
