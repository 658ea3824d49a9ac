"""Sending one request: per-entity concurrency slot, retries, backoff, counting, logging.

Retry policy (what is retried and why):

* **429** (thread or request limit) and **5xx** (502/503/504 are gateway hiccups), **408**,
  timeouts, dropped connections (``httpx.TransportError``: ``RemoteProtocolError``,
  ``ReadError``, ``ConnectError``…) and a 2xx whose body is not valid JSON (a truncated body):
  retried with exponential backoff and full jitter, ``uniform(0, min(backoff_max,
  backoff_base * 2**(n-1)))`` before retry ``n``, from a seeded RNG. A ``Retry-After`` header
  (seconds or HTTP date) replaces the jittered delay (capped at ``retry_after_max``).
* **500 with ``{"errors": [...]}``**: Autotask reports *validation* errors this way (a bad
  field name, ``userDefinedFields`` in IncludeFields, a missing body). Those are deterministic:
  retrying six times only burns the tenant's shared hourly budget and minutes of backoff. But
  the same shape also carries genuine server faults ("An unexpected error has occurred"). So a
  500 whose messages are specific is retried at most ``validation_retries`` times (default 1:
  one retry in case it was a fluke), then an :class:`~audit.errors.ApiError` is raised that
  quotes the server's messages. A 500 whose messages read as a fault (``_TRANSIENT_HINTS``:
  "unexpected error", "timeout", "try again"…) or that has no such body (HTML, empty) is
  treated as transient and gets the full ``max_retries``.
* **401, 403, 404, 405** and other 4xx: never retried (wrong credentials, path or method will not
  fix themselves); the error quotes the server's message.

Concurrency: the server answers 429 above 3 concurrent requests per entity endpoint, so every
attempt holds a slot of a per-entity :class:`threading.BoundedSemaphore` (shared by every thread
using the client) for exactly the time of the HTTP exchange — never while sleeping between
retries, so a backing-off thread does not starve the others.

Secrets: the auth headers are set on the ``httpx.Client`` once and never formatted anywhere.
Log lines carry method, path (no query string: discovery's ``?user=`` is the user name), status,
duration and attempt; every log line and error message is also passed through
:func:`audit.logs.redact` with the credential values as a second line of defence, and a filter
does the same for the ``httpx``/``httpcore`` loggers (httpx logs full URLs at INFO).
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from audit.errors import ApiError
from audit.logs import redact
from audit.safetext import decode_json_body

from ._models import Credentials

__all__ = ["LOGGER_NAME", "Requester", "RetryPolicy", "parse_retry_after"]

LOGGER_NAME = "audit.autotask"
logger = logging.getLogger(LOGGER_NAME)

_NOT_RETRIED_TRANSPORT = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL)


class RetryPolicy:
    """Backoff schedule: exponential with full jitter from a seeded, thread-safe RNG."""

    def __init__(
        self,
        *,
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        validation_retries: int = 1,
        retry_after_max: float = 300.0,
        seed: int | None = None,
    ) -> None:
        if max_retries < 0 or validation_retries < 0:
            raise ValueError("max_retries and validation_retries must be >= 0")
        if backoff_base < 0 or backoff_max < 0 or retry_after_max < 0:
            raise ValueError("backoff_base, backoff_max and retry_after_max must be >= 0")
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.validation_retries = validation_retries
        self.retry_after_max = retry_after_max
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def backoff(self, retry: int) -> float:
        """Jittered delay before retry number ``retry`` (1-based)."""
        cap = min(self.backoff_max, self.backoff_base * 2 ** (retry - 1))
        with self._lock:  # random.Random is not documented as thread-safe
            return self._rng.uniform(0.0, cap)

    def delay(self, retry: int, retry_after: float | None) -> float:
        """The server's ``Retry-After`` when given (capped), else the jittered backoff."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_max)
        return self.backoff(retry)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/garbled."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if seconds == seconds else None  # NaN check


class _Scrubber(logging.Filter):
    """Masks registered credential values in records of loggers we do not own (httpx)."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def register(self, values: tuple[str, ...]) -> None:
        with self._lock:
            self._secrets.update(v for v in values if v)  # redact() decides how a short value is masked

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = list(self._secrets)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to break
            return True
        cleaned = redact(message, secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_SCRUBBER = _Scrubber()
_SCRUBBED_LOGGERS = (LOGGER_NAME, "httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2")


def _install_scrubber(credentials: Credentials) -> None:
    _SCRUBBER.register(credentials.secret_values())
    for name in _SCRUBBED_LOGGERS:
        target = logging.getLogger(name)
        if _SCRUBBER not in target.filters:
            target.addFilter(_SCRUBBER)


def _server_message(response: httpx.Response) -> str:
    """What the server said: ``{"errors": [...]}``, ASP.NET's ``{"Message": ...}``, or a text snippet."""
    try:
        data = json.loads(response.content)
    except ValueError:
        return response.text.strip().replace("\n", " ")[:300]
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(str(e) for e in errors[:5])[:1000]
        for key in ("Message", "message"):
            if isinstance(data.get(key), str):
                return str(data[key])[:1000]
    return ""


# Words of a 500 that is a server fault, not a verdict on the request: retried in full.
_TRANSIENT_HINTS = (
    "unexpected error", "timeout", "timed out", "try again", "temporarily", "deadlock",
    "unavailable", "transport-level", "connection",
)  # fmt: skip


def _is_validation_error(response: httpx.Response) -> bool:
    """A 500 with a specific ``{"errors": [...]}`` verdict (not a generic server fault)."""
    if response.status_code != 500:
        return False
    try:
        data = json.loads(response.content)
    except ValueError:
        return False
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list) or not errors:
        return False
    text = " ".join(str(e) for e in errors).lower()
    return not any(hint in text for hint in _TRANSIENT_HINTS)


def _retryable_status(status: int) -> bool:
    return status in (408, 429) or (500 <= status <= 599 and status not in (501, 505))


class Requester:
    """Sends requests for one client. Thread-safe: share one instance across threads."""

    def __init__(
        self,
        client: httpx.Client,
        credentials: Credentials,
        policy: RetryPolicy,
        *,
        max_in_flight: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1:
            raise ValueError(f"max_in_flight must be an int >= 1, got {max_in_flight!r}")
        self._client = client
        self._secrets = [v for v in credentials.secret_values() if v]
        self.policy = policy
        self.max_in_flight = max_in_flight
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._total = 0
        self._by_entity: dict[str, int] = {}
        _install_scrubber(credentials)

    # -- counters -------------------------------------------------------------------------
    @property
    def request_count(self) -> int:
        with self._lock:
            return self._total

    def request_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._by_entity)

    def _count(self, entity: str) -> None:
        with self._lock:
            self._total += 1
            self._by_entity[entity] = self._by_entity.get(entity, 0) + 1

    @contextmanager
    def _slot(self, entity: str) -> Iterator[None]:
        key = entity.lower()  # path case does not matter to the server: one endpoint, one limit
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = threading.BoundedSemaphore(self.max_in_flight)
        with slot:
            yield

    # -- helpers --------------------------------------------------------------------------
    def _clean(self, text: str) -> str:
        return redact(text, self._secrets)

    def _log(self, level: int, message: str) -> None:
        if logger.isEnabledFor(level):
            logger.log(level, self._clean(message))

    def _error(self, message: str, *, entity: str, request: str, status: int | None) -> ApiError:
        return ApiError(self._clean(message), entity=entity, request=self._clean(request), status=status)

    # -- the loop -------------------------------------------------------------------------
    def send(
        self,
        method: str,
        url: str,
        *,
        entity: str,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """Send with retries and return the decoded JSON answer; raise ApiError when it fails."""
        target = httpx.URL(url)
        request_text = f"{method} {target.path}"  # never the query string
        content = None if body is None else json.dumps(body, allow_nan=False).encode("utf-8")
        attempts = self.policy.max_retries + 1
        validation_failures = 0
        last_status: int | None = None
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            response: httpx.Response | None = None
            delay = 0.0
            with self._slot(entity):
                self._count(entity)
                started = time.perf_counter()
                try:
                    response = self._client.request(method, target, content=content, params=params)
                except _NOT_RETRIED_TRANSPORT as exc:
                    raise self._error(
                        f"request could not be sent ({type(exc).__name__}: {exc})",
                        entity=entity,
                        request=request_text,
                        status=None,
                    ) from None  # our message carries the cause, redacted
                except httpx.TransportError as exc:
                    elapsed = time.perf_counter() - started
                    last_status = None
                    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                    self._log(
                        logging.DEBUG,
                        f"{request_text} -> {type(exc).__name__} in {elapsed:.3f}s (attempt {attempt}/{attempts})",
                    )
                    if attempt == attempts:
                        raise self._error(
                            f"Autotask request failed after {attempts} attempts: {reason}",
                            entity=entity,
                            request=request_text,
                            status=None,
                        ) from None  # our message carries the cause, redacted
                    delay = self.policy.delay(attempt, None)
                    self._log(logging.INFO, f"{request_text}: {reason}; retry {attempt} in {delay:.2f}s")
            if response is None:  # a transport error: back off outside the slot
                self._sleep(delay)
                continue
            elapsed = time.perf_counter() - started
            status = last_status = response.status_code
            self._log(
                logging.DEBUG,
                f"{request_text} -> {status} in {elapsed:.3f}s (attempt {attempt}/{attempts})",
            )
            if 200 <= status < 300:
                try:
                    # Tolerant: invalid UTF-8 or a lone surrogate in one title must not fail every
                    # nightly run until someone edits the ticket (audit.safetext).
                    data, repaired = decode_json_body(response.content)
                except ValueError as exc:
                    reason = f"invalid JSON body ({len(response.content)} bytes, truncated?: {exc})"
                else:
                    if repaired:
                        self._log(logging.WARNING, f"{entity} id {', '.join(map(str, repaired))}: invalid UTF-8 "
                                  "or a lone surrogate in the text, replaced with U+FFFD")
                    return data
            elif _retryable_status(status):
                said = _server_message(response)
                reason = f"HTTP {status}" + (f": {said}" if said else "")
                if _is_validation_error(response):
                    validation_failures += 1
                    if validation_failures > self.policy.validation_retries:
                        raise self._error(
                            f"Autotask rejected the request (HTTP 500, a validation error; "
                            f"not retried further): {said}",
                            entity=entity,
                            request=request_text,
                            status=status,
                        )
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            else:
                said = _server_message(response)
                hint = {
                    401: " (check the API user, secret and integration code)",
                    404: " (unknown entity or path)",
                    405: " (wrong HTTP method)",
                }.get(status, "")
                raise self._error(
                    f"Autotask refused the request with HTTP {status}{hint}" + (f": {said}" if said else ""),
                    entity=entity,
                    request=request_text,
                    status=status,
                )
            if attempt == attempts:
                raise self._error(
                    f"Autotask request failed after {attempts} attempts: {reason}",
                    entity=entity,
                    request=request_text,
                    status=last_status,
                )
            delay = self.policy.delay(attempt, retry_after)
            self._log(logging.INFO, f"{request_text}: {reason}; retry {attempt} in {delay:.2f}s")
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises
