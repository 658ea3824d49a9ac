"""Zone discovery: which Autotask data centre (zone) serves the API user's tenant.

``GET {discovery}/atservicesrest/v1.0/zoneInformation?user=<user>``. Whether the call needs the
auth headers is unconfirmed, so they are sent (the server accepts either). The call goes through
the same retrying :class:`~._retry.Requester` as every other call (the discovery host throttles
and drops connections like any other).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import httpx

from ._models import DEFAULT_DISCOVERY_URL, ENV_DISCOVERY_URL, ENV_ZONE_URL, Credentials, ZoneInfo
from ._retry import Requester, RetryPolicy

__all__ = ["discover_zone", "zone_from_env"]


def _discovery_endpoint(discovery_url: str) -> str:
    base = discovery_url.strip().rstrip("/")
    if base.lower().endswith("/atservicesrest"):  # tolerate a discovery url given with the service path
        base = base[: -len("/atservicesrest")]
    return f"{base}/atservicesrest/v1.0/zoneInformation"


def discover_zone(
    credentials: Credentials,
    *,
    discovery_url: str = DEFAULT_DISCOVERY_URL,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 60.0,
    max_retries: int = 6,
    backoff_base: float = 0.5,
    backoff_max: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    seed: int | None = None,
    retry_budget: float = 120.0,
) -> ZoneInfo:
    """Ask the discovery host for the API user's zone. Raises ApiError when it cannot answer
    (:class:`~audit.core.errors.CredentialsError` when it does not know the API user)."""
    policy = RetryPolicy(
        max_retries=max_retries, backoff_base=backoff_base, backoff_max=backoff_max, seed=seed,
        retry_budget=retry_budget,
    )  # fmt: skip
    with httpx.Client(
        transport=transport, timeout=timeout, headers=credentials.headers(), follow_redirects=False
    ) as client:
        requester = Requester(client, credentials, policy, max_in_flight=1, timeout=timeout, sleep=sleep)
        data = requester.send(
            "GET",
            _discovery_endpoint(discovery_url),
            entity="zoneInformation",
            params={"user": credentials.username},
        )
    return ZoneInfo.from_api(data)


def zone_from_env(
    credentials: Credentials,
    environ: Mapping[str, str],
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 60.0,
    max_retries: int = 6,
    backoff_base: float = 0.5,
    backoff_max: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    seed: int | None = None,
    retry_budget: float = 120.0,
) -> ZoneInfo:
    """``AUTOTASK_ZONE_URL`` when set (no network call), else discovery on ``AUTOTASK_DISCOVERY_URL``."""
    zone_url = (environ.get(ENV_ZONE_URL) or "").strip()
    if zone_url:
        return ZoneInfo.from_url(zone_url)
    return discover_zone(
        credentials,
        discovery_url=(environ.get(ENV_DISCOVERY_URL) or "").strip() or DEFAULT_DISCOVERY_URL,
        transport=transport,
        timeout=timeout,
        max_retries=max_retries,
        backoff_base=backoff_base,
        backoff_max=backoff_max,
        sleep=sleep,
        seed=seed,
        retry_budget=retry_budget,
    )
