"""The emulator's data types: the fault plan, the response, the request counters, and the
error answers and paging tokens every endpoint shares."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EXTRA_FAULT_KINDS",
    "FAULT_KINDS",
    "JSON_HEADERS",
    "EmuResponse",
    "EmulatorStats",
    "FaultPlan",
    "Reply",
    "api_errors",
    "decode_token",
    "encode_token",
    "json_response",
    "method_not_allowed",
]

FAULT_KINDS = ("429", "500", "drop", "slow", "truncate")
#: Opt-in fault kinds (not drawn by default): ``threads`` answers as Autotask does when the
#: integration's thread threshold is exceeded (HTTP 500 naming it).
EXTRA_FAULT_KINDS = ("threads",)
JSON_HEADERS = {"content-type": "application/json; charset=utf-8"}


@dataclass(frozen=True)
class FaultPlan:
    """Which requests fail, and how. Deterministic for a seed.

    A request's fate is a hash of (seed, method, path, query string, body, how many times that
    same request was seen before): the same request sequence gives the same faults whatever the
    thread interleaving, and a retry of a faulted request gets a fresh draw.
    ``drop`` closes the connection either before any response or mid-body (alternating by
    draw); ``truncate`` answers 200 with half the JSON body; ``slow`` sleeps ``slow_seconds``
    and then answers normally; ``429`` carries ``Retry-After: retry_after`` on about half the
    draws when ``retry_after`` is not None. A faulted request has no effect on the emulator's
    state (it is not counted against the request threshold); ``slow`` is a served request.
    """

    rate: float
    seed: int = 0
    kinds: tuple[str, ...] = FAULT_KINDS
    slow_seconds: float = 0.5
    retry_after: int | None = 0
    #: Limit faults to these endpoint kinds (``query``, ``next``, ``count``...); None = all API calls.
    endpoints: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be within [0, 1], got {self.rate}")
        unknown = set(self.kinds) - set(FAULT_KINDS) - set(EXTRA_FAULT_KINDS)
        if unknown or not self.kinds:
            raise ValueError(
                f"fault kinds must be a non-empty subset of {FAULT_KINDS + EXTRA_FAULT_KINDS}, got {self.kinds}"
            )

    def draw(self, key: str) -> tuple[str, float] | None:
        """The fault for a request key (or None) and a second uniform draw for its variant."""
        digest = hashlib.blake2b(f"{self.seed}|{key}".encode(), digest_size=16).digest()
        u1 = int.from_bytes(digest[:6], "big") / 2**48
        if u1 >= self.rate:
            return None
        u2 = int.from_bytes(digest[6:12], "big") / 2**48
        u3 = int.from_bytes(digest[12:16], "big") / 2**32
        return self.kinds[int(u2 * len(self.kinds)) % len(self.kinds)], u3


@dataclass
class EmuResponse:
    """What the handler answers. ``drop`` asks the wrapper to break the connection."""

    status: int
    headers: dict[str, str]
    body: bytes
    drop: str | None = None  # None, "before" (no response) or "mid" (half the body, then close)

    def json(self) -> Any:
        return json.loads(self.body)

    def __iter__(self) -> Iterator[Any]:
        """Unpacks as ``status, headers, body`` (the handler's contract)."""
        return iter((self.status, self.headers, self.body))


@dataclass
class EmulatorStats:
    """Counters of what the emulator saw; thread-safe. Keys: (method, entity, kind)."""

    requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)  # items served per entity
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, method: str, entity: str, kind: str, status: int, rows: int, fault: str | None) -> None:
        with self._lock:
            self.requests[(method, entity, kind)] += 1
            self.statuses[status] += 1
            if rows:
                self.rows[entity] += rows
            if fault:
                self.faults[fault] += 1

    def count(self, *, method: str | None = None, entity: str | None = None, kind: str | None = None) -> int:
        """Requests matching every given criterion (entity compared case-insensitively)."""
        with self._lock:
            items = list(self.requests.items())
        return sum(
            n
            for (m, e, k), n in items
            if (method is None or m == method.upper())
            and (entity is None or e.lower() == entity.lower())
            and (kind is None or k == kind)
        )

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.requests.values())

    @property
    def faulted(self) -> int:
        with self._lock:
            return sum(self.faults.values())

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy (for benchmark records)."""
        with self._lock:
            return {
                "requests": {f"{m} {e} {k}": n for (m, e, k), n in sorted(self.requests.items())},
                "statuses": {str(s): n for s, n in sorted(self.statuses.items())},
                "faults": dict(sorted(self.faults.items())),
                "rows": dict(sorted(self.rows.items())),
                "total": sum(self.requests.values()),
            }

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.statuses.clear()
            self.faults.clear()
            self.rows.clear()


class Reply(Exception):
    """Raised inside the handler to answer early (errors)."""

    def __init__(self, response: EmuResponse) -> None:
        super().__init__(response.status)
        self.response = response


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> EmuResponse:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return EmuResponse(status, {**JSON_HEADERS, **(headers or {})}, body)


def api_errors(status: int, *messages: str) -> Reply:
    return Reply(json_response(status, {"errors": list(messages)}))


def method_not_allowed(method: str) -> Reply:
    # ASP.NET Web API's body for a 405, not Autotask's errors list.
    return Reply(
        json_response(
            405,
            {"Message": f"The requested resource does not support http method '{method}'."},
            {"allow": "POST"},
        )
    )


def encode_token(after: int | None) -> str:
    # The token carries the position only (never the filter), as the real API's does.
    raw = f"v1:{'' if after is None else after}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        version, _, after = raw.partition(":")
        if version != "v1":
            raise ValueError(raw)
        return int(after) if after else None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise api_errors(500, "Invalid paging token.") from None
