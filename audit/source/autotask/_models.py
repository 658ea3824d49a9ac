"""Plain value objects of the client: credentials, the zone, the request threshold.

Credentials are the one place secrets live. Their ``repr``/``str`` mask every value (the API
user name too: ``audit.core.logs`` treats it as a secret), so a stray ``print(client)``, a log line
or a traceback's locals never show them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from audit.core.errors import ApiError, ConfigError
from audit.core.logs import secret_forms

__all__ = [
    "DEFAULT_DISCOVERY_URL",
    "ENV_DISCOVERY_URL",
    "ENV_INTEGRATION_CODE",
    "ENV_SECRET",
    "ENV_USERNAME",
    "ENV_ZONE_URL",
    "Credentials",
    "ThresholdInfo",
    "ZoneInfo",
]

ENV_USERNAME = "AUTOTASK_USERNAME"
ENV_SECRET = "AUTOTASK_SECRET"
ENV_INTEGRATION_CODE = "AUTOTASK_INTEGRATION_CODE"
ENV_ZONE_URL = "AUTOTASK_ZONE_URL"
ENV_DISCOVERY_URL = "AUTOTASK_DISCOVERY_URL"
DEFAULT_DISCOVERY_URL = "https://webservices.autotask.net"

_MASK = "***"
# webservices14.autotask.net (API) <-> ww14.autotask.net (UI): Autotask's zone naming.
_AUTOTASK_API_HOST = re.compile(r"^webservices(\d+)\.autotask\.net$", re.IGNORECASE)


@dataclass(frozen=True, repr=False)
class Credentials:
    """The API user of an Autotask integration. Every value is masked in ``repr``/``str``."""

    username: str
    secret: str
    integration_code: str

    def __post_init__(self) -> None:
        empty = [
            name
            for name in ("username", "secret", "integration_code")
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip()
        ]
        if empty:
            # Name the fields, never their values.
            raise ConfigError(f"Autotask credentials: empty {', '.join(empty)}")

    def __repr__(self) -> str:
        return f"Credentials(username={_MASK!r}, secret={_MASK!r}, integration_code={_MASK!r})"

    __str__ = __repr__

    def headers(self) -> dict[str, str]:
        """The auth headers Autotask wants on every call (no basic auth, no impersonation)."""
        return {
            "ApiIntegrationCode": self.integration_code,
            "UserName": self.username,
            "Secret": self.secret,
            "Content-Type": "application/json",
        }

    def secret_values(self) -> tuple[str, ...]:
        """The values to scrub from any text that could reach a log or an error message.

        URL-encoded forms are included: discovery sends the user name as ``?user=``, and httpx
        logs that URL (``api%40tenant.example``).
        """
        return secret_forms((self.secret, self.integration_code, self.username))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        """Read ``AUTOTASK_USERNAME``/``AUTOTASK_SECRET``/``AUTOTASK_INTEGRATION_CODE``.

        Raises :class:`~audit.core.errors.ConfigError` naming every missing variable (exit 2).
        """
        env = os.environ if environ is None else environ
        names = (ENV_USERNAME, ENV_SECRET, ENV_INTEGRATION_CODE)
        missing = [name for name in names if not (env.get(name) or "").strip()]
        if missing:
            raise ConfigError(
                "missing Autotask credentials: set the environment variable(s) " + ", ".join(missing)
            )
        return cls(
            username=env[ENV_USERNAME].strip(),
            secret=env[ENV_SECRET].strip(),
            integration_code=env[ENV_INTEGRATION_CODE].strip(),
        )


def _normalise_base(url: str, *, what: str) -> str:
    """``url`` as an absolute http(s) base ending in ``/`` (Autotask answers both forms)."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{what} is empty")
    parsed = httpx.URL(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(f"{what} must be an absolute http(s) URL, got {url!r}")
    text = str(parsed.copy_with(query=None, fragment=None)).rstrip("/")
    # Tolerate a zone URL given with the version segment (".../ATServicesRest/V1.0").
    if text.lower().endswith("/v1.0"):
        text = text[: -len("/v1.0")]
    return text + "/"


@dataclass(frozen=True)
class ZoneInfo:
    """The answer of zone discovery: where the tenant's API and UI live."""

    zone_name: str
    url: str  # API base, always ending in "/" (e.g. https://webservices2.autotask.net/ATServicesRest/)
    web_url: str  # UI base, always ending in "/" (e.g. https://ww2.autotask.net/)
    ci: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", _normalise_base(self.url, what="Autotask zone url"))
        object.__setattr__(self, "web_url", _normalise_base(self.web_url, what="Autotask web url"))

    @property
    def api_base(self) -> str:
        """Prefix of every call: ``{url}V1.0/`` (the only version that exists)."""
        return f"{self.url}V1.0/"

    def ticket_url(self, ticket_id: int) -> str:
        """Link to a ticket in the Autotask UI."""
        return f"{self.web_url}Mvc/ServiceDesk/TicketDetail.mvc?ticketId={int(ticket_id)}"

    @classmethod
    def from_api(cls, data: Any) -> ZoneInfo:
        """Build from the ``zoneInformation`` JSON answer."""
        if not isinstance(data, Mapping) or not isinstance(data.get("url"), str):
            raise ApiError("zone discovery answered without a zone url", request="GET zoneInformation")
        url = data["url"]
        web_url = data.get("webUrl")
        ci = data.get("ci")
        return cls(
            zone_name=str(data.get("zoneName") or ""),
            url=url,
            web_url=web_url if isinstance(web_url, str) and web_url else _guess_web_url(url),
            ci=ci if isinstance(ci, int) and not isinstance(ci, bool) else None,
        )

    @classmethod
    def from_url(cls, url: str, web_url: str | None = None) -> ZoneInfo:
        """A zone known by its API url (``AUTOTASK_ZONE_URL``): no discovery call.

        The UI url is derived from Autotask's naming (``webservicesN`` -> ``wwN``); for any other
        host (the sandbox) it is the API host's origin.
        """
        base = _normalise_base(url, what="Autotask zone url")
        return cls(zone_name="", url=base, web_url=web_url or _guess_web_url(base))


def _guess_web_url(api_url: str) -> str:
    parsed = httpx.URL(api_url)
    match = _AUTOTASK_API_HOST.match(parsed.host)
    if match:
        return f"https://ww{match.group(1)}.autotask.net/"
    return str(parsed.copy_with(path="/", query=None, fragment=None))


def _int_field(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(
            f"ThresholdInformation answered without a numeric {key!r}",
            request="GET ThresholdInformation",
        )
    return int(value)


@dataclass(frozen=True)
class ThresholdInfo:
    """The tenant's hourly request budget (shared by every integration of the tenant)."""

    external_request_threshold: int
    request_threshold_timeframe: int  # minutes
    current_timeframe_request_count: int

    @property
    def remaining(self) -> int:
        """Requests left in the current timeframe (never negative)."""
        return max(0, self.external_request_threshold - self.current_timeframe_request_count)

    @classmethod
    def from_api(cls, data: Any) -> ThresholdInfo:
        if not isinstance(data, Mapping):
            raise ApiError(
                "ThresholdInformation answered with a non-object", request="GET ThresholdInformation"
            )
        return cls(
            external_request_threshold=_int_field(data, "externalRequestThreshold"),
            request_threshold_timeframe=_int_field(data, "requestThresholdTimeframe"),
            current_timeframe_request_count=_int_field(data, "currentTimeframeRequestCount"),
        )
