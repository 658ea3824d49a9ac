"""Sending one request: per-entity concurrency slot, deadline, retries, backoff, counting, logging.

Retry policy (what is retried and why):

* **429** and **throttling answered as 500**, **5xx** (502/503/504 are gateway hiccups), **408**,
  timeouts, dropped connections (``httpx.TransportError``: ``RemoteProtocolError``,
  ``ReadError``, ``ConnectError``…) and a 2xx whose body is not valid JSON (a truncated body):
  retried with exponential backoff and full jitter, ``uniform(0, min(backoff_max,
  backoff_base * 2**(n-1)))`` before retry ``n``, from a seeded RNG. A ``Retry-After`` header
  (seconds or HTTP date) replaces the jittered delay.
* **Throttling answered as 500.** Autotask limits each integration to 3 threads per object
  endpoint (Autotask developer help, "API thread limiting", ThreadLimiting.htm, since 2023.1)
  and each database to 10,000 requests an hour; clients run against live tenants report these
  rejections as HTTP 500 whose message names the thread or request threshold ("thread
  threshold ... exceeded", code Itgenatr005; msoukhomlinov/n8n-nodes-autotask,
  ``isThreadLimitError``). Any answer whose message says so is throttling: retried like a 429,
  never reported as a validation error.
* **Bad credentials** come back as 500 with a message, not 401: an unknown API user answers 500
  ("Zone information could not be determined for user ...") and an invalid integration code
  500 ("IntegrationCode is invalid"), a wrong secret 401 (apigrate/autotask-restapi issue #19).
  These raise :class:`~audit.core.errors.CredentialsError` at once, naming the variable to check.
* **Other 500 with ``{"errors": [...]}``**: Autotask reports *validation* errors this way (a bad
  field name, ``userDefinedFields`` in IncludeFields, a missing body). Those are deterministic:
  retrying six times only burns the tenant's shared hourly budget and minutes of backoff. But
  the same shape also carries genuine server faults ("An unexpected error has occurred"). So a
  500 whose messages are specific is retried at most ``validation_retries`` times (default 1:
  one retry in case it was a fluke), then an :class:`~audit.core.errors.ApiError` is raised that
  quotes the server's messages. A 500 whose messages read as a fault (``_answers``:
  "unexpected error", "timeout", "try again"…) or that has no such body (HTML, empty) is
  treated as transient and gets the full ``max_retries``.
* **403, 404, 405** and other 4xx: never retried (a wrong path or method will not fix itself);
  the error quotes the server's message.

Time: every attempt has a total deadline (``_deadline``: a server dribbling one byte at a time
cannot hold it longer), and the whole client has one **retry budget** — the seconds it may
spend on failed attempts and waiting between them, across every request and thread. A retry
that would overrun it is not made: the request fails at once, and a ``Retry-After`` longer than
what is left fails fast quoting the server's wait.

Concurrency: the server rejects more than 3 concurrent requests per entity endpoint, so every
attempt holds a slot of a per-entity :class:`threading.BoundedSemaphore` (shared by every thread
using the client) for the time of the HTTP exchange — never while sleeping between retries, so a
backing-off thread does not starve the others. After a *timeout* the slot is kept until the
server's own execution limit has passed since the request was sent (``server_limit``): Autotask
goes on running a query the client gave up on, so a retry in a freed slot would be a fourth
thread on the server.

Secrets: the auth headers are set on the ``httpx.Client`` once and never formatted anywhere.
Log lines carry method, path (no query string: discovery's ``?user=`` is the user name), status,
duration and attempt; every log line and error message is also passed through
:func:`audit.core.logs.redact` with the credential values as a second line of defence (server text is
masked before it is cut to length), and a filter does the same for the ``httpx``/``httpcore``
loggers (httpx logs full URLs at INFO).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from audit.core.errors import ApiError, BudgetExceededError, CredentialsError
from audit.core.logs import redact
from audit.core.safetext import decode_json_body

from ._answers import (
    VARIABLE_MEANING,
    credential_variables,
    error_list,
    is_throttling,
    is_validation_error,
    parse_retry_after,
    retryable_status,
    server_text,
)
from ._deadline import deadline, install_deadlines
from ._models import Credentials

__all__ = ["AUTOTASK_EXECUTION_LIMIT", "LOGGER_NAME", "Requester", "RetryPolicy"]

LOGGER_NAME = "audit.source.autotask"
logger = logging.getLogger(LOGGER_NAME)

#: How long Autotask may go on executing a request after the client gave up on it: 5 minutes, as
#: clients run against live tenants measure it (n8n-nodes-autotask sizes its thread leases above
#: "Autotask's 5-min (300s) REST exec timeout"); Autotask's developer help does not state it.
AUTOTASK_EXECUTION_LIMIT = 300.0

_NOT_RETRIED_TRANSPORT = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL)


class RetryPolicy:
    """Backoff schedule (exponential, full jitter, seeded, thread-safe) and the retry budget."""

    def __init__(
        self,
        *,
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        validation_retries: int = 1,
        retry_budget: float = 120.0,
        seed: int | None = None,
    ) -> None:
        if max_retries < 0 or validation_retries < 0:
            raise ValueError("max_retries and validation_retries must be >= 0")
        if backoff_base < 0 or backoff_max < 0 or not retry_budget >= 0:
            raise ValueError("backoff_base, backoff_max and retry_budget must be >= 0")
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.validation_retries = validation_retries
        self.retry_budget = float(retry_budget)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def backoff(self, retry: int) -> float:
        """Jittered delay before retry number ``retry`` (1-based)."""
        cap = min(self.backoff_max, self.backoff_base * 2 ** (retry - 1))
        with self._lock:  # random.Random is not documented as thread-safe
            return self._rng.uniform(0.0, cap)

    def delay(self, retry: int, retry_after: float | None) -> float:
        """The server's ``Retry-After`` when given, else the jittered backoff."""
        if retry_after is not None:
            return max(retry_after, 0.0)
        return self.backoff(retry)


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


@dataclass
class _Failure:
    """A failed attempt that may be retried."""

    reason: str
    status: int | None
    retry_after: float | None = None
    validation: bool = False  # a 500 validation verdict: retried only ``validation_retries`` times
    elapsed: float = 0.0  # how long the exchange took (not the wait for a slot)


class Requester:
    """Sends requests for one client. Thread-safe: share one instance across threads."""

    def __init__(
        self,
        client: httpx.Client,
        credentials: Credentials,
        policy: RetryPolicy,
        *,
        max_in_flight: int = 3,
        timeout: float = 60.0,
        server_limit: float = AUTOTASK_EXECUTION_LIMIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1:
            raise ValueError(f"max_in_flight must be an int >= 1, got {max_in_flight!r}")
        if not timeout > 0 or not server_limit >= 0:
            raise ValueError("timeout must be > 0 and server_limit >= 0")
        self._client = client
        install_deadlines(client)
        self._secrets = [v for v in credentials.secret_values() if v]
        self.policy = policy
        self.max_in_flight = max_in_flight
        self.timeout = timeout
        self.server_limit = server_limit
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._held: list[threading.Timer] = []
        self._total = 0
        self._by_entity: dict[str, int] = {}
        self._request_limit: int | None = None
        self._retry_spent = 0.0
        _install_scrubber(credentials)

    # -- counters -------------------------------------------------------------------------
    @property
    def request_count(self) -> int:
        with self._lock:
            return self._total

    def request_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._by_entity)

    @property
    def retry_seconds(self) -> float:
        """Seconds spent so far on failed attempts and waiting between them."""
        with self._lock:
            return self._retry_spent

    def limit_requests(self, total: int | None) -> None:
        """Refuse to send once ``request_count`` reaches ``total`` (None: no limit)."""
        with self._lock:
            self._request_limit = total

    def _count(self, entity: str, request_text: str) -> None:
        with self._lock:
            limit = self._request_limit
            if limit is not None and self._total >= limit:
                raise BudgetExceededError(
                    f"this run has used the {limit} Autotask API requests its plan was granted "
                    "(its share of the tenant's hourly budget) and stops rather than take more from "
                    "the tenant's other integrations; the server answered more pages or retries "
                    "than planned. Run again later, or raise extract.budget_share",
                    entity=entity, request=request_text,
                )  # fmt: skip
            self._total += 1
            self._by_entity[entity] = self._by_entity.get(entity, 0) + 1

    # -- slots ----------------------------------------------------------------------------
    def _slot(self, entity: str) -> threading.BoundedSemaphore:
        key = entity.lower()  # path case does not matter to the server: one endpoint, one limit
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = threading.BoundedSemaphore(self.max_in_flight)
        return slot

    def _release(self, slot: threading.BoundedSemaphore, sent_at: float, timed_out: bool) -> None:
        """Free the slot now, or — after a timeout — once the server has stopped running the request."""
        hold = sent_at + self.server_limit - time.monotonic() if timed_out else 0.0
        if hold <= 0:
            slot.release()
            return
        timer = threading.Timer(hold, slot.release)
        timer.daemon = True
        with self._lock:
            self._held = [t for t in self._held if t.is_alive()]
            self._held.append(timer)
        timer.start()

    def close(self) -> None:
        """Stop the timers of slots held after timeouts (the client is going away)."""
        with self._lock:
            held, self._held = self._held, []
        for timer in held:
            timer.cancel()

    # -- helpers --------------------------------------------------------------------------
    def _clean(self, text: str, limit: int | None = None) -> str:
        return redact(text, self._secrets, limit=limit)

    def _log(self, level: int, message: str) -> None:
        if logger.isEnabledFor(level):
            logger.log(level, self._clean(message))

    def _error(self, message: str, *, entity: str, request: str, status: int | None) -> ApiError:
        return ApiError(self._clean(message), entity=entity, request=self._clean(request), status=status)

    def _said(self, response: httpx.Response) -> str:
        text, limit = server_text(response)
        return self._clean(text, limit)

    def _credentials_error(
        self, response: httpx.Response, variables: tuple[str, ...], *, entity: str, request: str
    ) -> CredentialsError:
        said = self._said(response)
        check = "; ".join(f"{name} ({VARIABLE_MEANING[name]})" for name in variables)
        message = (
            f"Autotask refused the API user's credentials (HTTP {response.status_code}"
            + (f": {said}" if said else "")
            + f"). Check {check}"
        )
        return CredentialsError(
            self._clean(message), variables=variables, entity=entity, request=request,
            status=response.status_code,
        )  # fmt: skip

    # -- the loop -------------------------------------------------------------------------
    def send(
        self,
        method: str,
        url: str,
        *,
        entity: str,
        body: Any = None,
        params: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send with retries and return the decoded JSON answer; raise ApiError when it fails.

        ``timeout`` (default: the client's) is the total deadline of each attempt.
        """
        target = httpx.URL(url)
        request_text = f"{method} {target.path}"  # never the query string
        content = None if body is None else json.dumps(body, allow_nan=False).encode("utf-8")
        limit = self.timeout if timeout is None else timeout
        attempts = self.policy.max_retries + 1
        validation_failures = 0
        for attempt in range(1, attempts + 1):
            outcome = self._attempt(
                method, target, content, params, limit, entity, request_text, attempt, attempts
            )
            if not isinstance(outcome, _Failure):
                return outcome.value
            failure = outcome
            if failure.validation:
                validation_failures += 1
                if validation_failures > self.policy.validation_retries:
                    raise self._error(
                        f"Autotask rejected the request (HTTP 500, a validation error; "
                        f"not retried further): {failure.reason.removeprefix('HTTP 500: ')}",
                        entity=entity, request=request_text, status=500,
                    )  # fmt: skip
            if attempt == attempts:
                raise self._error(
                    f"Autotask request failed after {attempts} attempts: {failure.reason}",
                    entity=entity, request=request_text, status=failure.status,
                )  # fmt: skip
            delay = self.policy.delay(attempt, failure.retry_after)
            self._spend(failure.elapsed, delay, failure, entity=entity, request_text=request_text)
            self._log(logging.INFO, f"{request_text}: {failure.reason}; retry {attempt} in {delay:.2f}s")
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises

    def _spend(
        self, failed_for: float, delay: float, failure: _Failure, *, entity: str, request_text: str
    ) -> None:
        """Charge a failed attempt and the wait before the next one to the retry budget, or
        raise when the wait does not fit in what is left of it."""
        budget = self.policy.retry_budget
        with self._lock:
            self._retry_spent += failed_for
            left = budget - self._retry_spent
            fits = delay <= left
            if fits:
                self._retry_spent += delay
        if fits:
            return
        if failure.retry_after is not None:
            raise self._error(
                f"Autotask asked to wait {failure.retry_after:.0f} s before retrying (Retry-After), more "
                f"than the {max(left, 0.0):.0f} s left of this run's retry budget "
                f"(extract.retry_budget_seconds = {budget:g}); giving up now: {failure.reason}",
                entity=entity, request=request_text, status=failure.status,
            )  # fmt: skip
        raise self._error(
            f"Autotask request failed and this run's retry budget is spent ({budget:g} s on failed "
            f"attempts and waits, extract.retry_budget_seconds): {failure.reason}",
            entity=entity, request=request_text, status=failure.status,
        )  # fmt: skip

    def _attempt(
        self,
        method: str,
        target: httpx.URL,
        content: bytes | None,
        params: dict[str, str] | None,
        limit: float,
        entity: str,
        request_text: str,
        attempt: int,
        attempts: int,
    ) -> _Answer | _Failure:
        """One exchange inside an entity slot: the decoded answer, a retryable failure, or a raise."""
        slot = self._slot(entity)
        slot.acquire()
        sent_at = time.monotonic()
        timed_out = False
        try:
            self._count(entity, request_text)
            with deadline(limit):
                response = self._client.request(
                    method, target, content=content, params=params, timeout=httpx.Timeout(limit)
                )
        except BudgetExceededError:
            slot.release()
            raise
        except _NOT_RETRIED_TRANSPORT as exc:
            slot.release()
            raise self._error(
                f"request could not be sent ({type(exc).__name__}: {exc})",
                entity=entity,
                request=request_text,
                status=None,
            ) from None  # our message carries the cause, redacted
        except httpx.TransportError as exc:
            timed_out = isinstance(exc, httpx.TimeoutException)
            self._release(slot, sent_at, timed_out)
            elapsed = time.monotonic() - sent_at
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if timed_out:
                reason += f" (deadline {limit:g} s)"
            self._log(
                logging.DEBUG,
                f"{request_text} -> {type(exc).__name__} in {elapsed:.3f}s (attempt {attempt}/{attempts})",
            )
            return _Failure(reason, None, elapsed=elapsed)
        except BaseException:
            slot.release()
            raise
        slot.release()
        elapsed = time.monotonic() - sent_at
        status = response.status_code
        self._log(
            logging.DEBUG, f"{request_text} -> {status} in {elapsed:.3f}s (attempt {attempt}/{attempts})"
        )
        outcome = self._judge(response, entity=entity, request_text=request_text)
        if isinstance(outcome, _Failure):
            outcome.elapsed = elapsed
        return outcome

    def _judge(self, response: httpx.Response, *, entity: str, request_text: str) -> _Answer | _Failure:
        status = response.status_code
        if 200 <= status < 300:
            try:
                # Tolerant: invalid UTF-8 or a lone surrogate in one title must not fail every
                # nightly run until someone edits the ticket (audit.core.safetext).
                data, repaired = decode_json_body(response.content)
            except ValueError as exc:
                return _Failure(
                    f"invalid JSON body ({len(response.content)} bytes, truncated?: {exc})", status
                )
            if repaired:
                self._log(
                    logging.WARNING,
                    f"{entity} id {', '.join(map(str, repaired))}: invalid UTF-8 "
                    "or a lone surrogate in the text, replaced with U+FFFD",
                )
            return _Answer(data)
        said = self._said(response)
        reason = f"HTTP {status}" + (f": {said}" if said else "")
        raw, _ = server_text(response)  # matched uncut; never shown
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if is_throttling(status, raw):
            return _Failure(reason, status, retry_after)
        variables = credential_variables(status, raw)
        if variables is not None and status in (401, 403, 500):
            raise self._credentials_error(response, variables, entity=entity, request=request_text)
        if retryable_status(status):
            if status == 500 and is_validation_error(error_list(response)):
                return _Failure(reason, status, validation=True)
            return _Failure(reason, status, retry_after)
        hint = {404: " (unknown entity or path)", 405: " (wrong HTTP method)"}.get(status, "")
        raise self._error(
            f"Autotask refused the request with HTTP {status}{hint}" + (f": {said}" if said else ""),
            entity=entity, request=request_text, status=status,
        )  # fmt: skip


@dataclass
class _Answer:
    value: Any
