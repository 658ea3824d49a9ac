"""An Autotask REST API emulator serving a synthetic :class:`~audit.sandbox.model.Tenant`.

The core is a pure, thread-safe request handler, :meth:`Emulator.handle` (method, url, headers,
body) -> :class:`EmuResponse`, wrapped two ways:

* :meth:`Emulator.transport` — an ``httpx.BaseTransport`` for in-process use (demo, fast tests);
* :func:`serve_http` — a loopback HTTP/1.1 (keep-alive) server in a background thread, for
  network-path tests and ``ticket-audit sandbox serve``.

It honours every fact of ``../shared/autotask-api.md`` the audit depends on (see that file and
``docs/architecture.md``): zone discovery, auth headers, POST queries with paging by POST to
``nextPageUrl`` with the same body, 405 on GET next, 500 without a body, ``IncludeFields``,
counts, ``entityInformation``, ``ThresholdInformation`` with a rolling-hour request count, the
per-entity thread limit, the ``TicketHistory`` one-condition rule, the attachment rule (a
``TicketAttachments`` query or count names its tickets: a top-level ``ticketID eq|in``
condition, as Autotask requires since 2021.1), 500 validation errors.
Deterministic fault injection (:class:`FaultPlan`) lets client retry logic be tested.

``Emulator.stats`` counts requests by ``(method, entity, kind)`` — kind one of ``zone``,
``threshold``, ``query``, ``next``, ``count``, ``get``, ``child``, ``entity_info``, ``fields``,
``udfs``, ``unknown`` — plus statuses, rows served per entity and injected faults per kind.

Zone discovery is never faulted, throttled or counted (it is not a tenant API call).
Rows are served from the tenant's own lists (no copy when a list is already sorted by ``id``,
as the generator's are): edits of a row, or a row replaced at the same index, are visible at
once; a list replaced, grown or shrunk is re-indexed on the next request. After changing an
``id``/``ticketID``/``parentID`` in place, or editing an unsorted list, call
:meth:`Emulator.refresh`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from audit.sandbox._emu_filters import EntityTable, FilterError, Plan, compile_filter
from audit.sandbox.model import SANDBOX_CREDENTIALS, SandboxCredentials, Tenant
from audit.source.schema import ENTITIES

__all__ = [
    "FAULT_KINDS",
    "MAX_RECORDS",
    "EmuResponse",
    "Emulator",
    "EmulatorStats",
    "EmulatorTransport",
    "FaultPlan",
    "SandboxServer",
    "serve_http",
]

#: Largest page the API serves (and the largest accepted ``MaxRecords``).
MAX_RECORDS = 500
FAULT_KINDS = ("429", "500", "drop", "slow", "truncate")
#: Opt-in fault kinds (not drawn by default): ``threads`` answers as Autotask does when the
#: integration's thread threshold is exceeded (HTTP 500 naming it).
EXTRA_FAULT_KINDS = ("threads",)
_API_PREFIX = "/atservicesrest/v1.0/"
_ZONE_PATH = "/atservicesrest/v1.0/zoneinformation"
_WINDOW_SECONDS = 3600.0
#: Child collection URLs (``/Tickets/{id}/Notes``) -> the entity they list, by ``ticketID``.
_CHILD_URLS = {
    ("Tickets", "notes"): "TicketNotes",
    ("Tickets", "attachments"): "TicketAttachments",
    ("Tickets", "timeentries"): "TimeEntries",
}
_JSON_HEADERS = {"content-type": "application/json; charset=utf-8"}


# --------------------------------------------------------------------------- data types


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


class _Reply(Exception):
    """Raised inside the handler to answer early (errors)."""

    def __init__(self, response: EmuResponse) -> None:
        super().__init__(response.status)
        self.response = response


def _json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> EmuResponse:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return EmuResponse(status, {**_JSON_HEADERS, **(headers or {})}, body)


def _errors(status: int, *messages: str) -> _Reply:
    return _Reply(_json_response(status, {"errors": list(messages)}))


def _method_not_allowed(method: str) -> _Reply:
    # ASP.NET Web API's body for a 405, not Autotask's errors list.
    return _Reply(
        _json_response(
            405,
            {"Message": f"The requested resource does not support http method '{method}'."},
            {"allow": "POST"},
        )
    )


def _encode_token(after: int | None) -> str:
    # The token carries the position only (never the filter), as the real API's does.
    raw = f"v1:{'' if after is None else after}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        version, _, after = raw.partition(":")
        if version != "v1":
            raise ValueError(raw)
        return int(after) if after else None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _errors(500, "Invalid paging token.") from None


# --------------------------------------------------------------------------- the emulator


@dataclass
class _Ctx:
    """What one request turned out to be, for the stats and the clean-up."""

    kind: str = "unknown"
    entity: str = "-"
    fault: str | None = None
    rows: int = 0
    acquired: bool = False
    counts: bool = False  # reached the endpoint: uses the hourly budget


@dataclass
class _Route:
    kind: str  # zone, threshold, query, next, count, get, child, entity_info, fields, udfs
    entity: str  # canonical entity name ("-" when none)
    allowed: tuple[str, ...]  # methods
    item_id: int | None = None


class Emulator:
    """A pure, thread-safe Autotask REST API handler over one tenant."""

    def __init__(
        self,
        tenant: Tenant,
        *,
        credentials: SandboxCredentials = SANDBOX_CREDENTIALS,
        faults: FaultPlan | None = None,
        thread_limit: int = 3,
        request_threshold: int = 10_000,
        base_url: str = "http://sandbox.invalid/",
        latency: float = 0.0,
        throttle_latency: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``latency`` adds a fixed delay to every API call (simulating a WAN);
        ``throttle_latency`` adds the real API's +0.5 s past 50% / +1 s past 75% of the hourly
        threshold; ``clock`` is injectable so tests can move the rolling hour."""
        self.tenant = tenant
        self.credentials = credentials
        self.faults = faults
        self.thread_limit = thread_limit
        self.request_threshold = request_threshold
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.latency = latency
        self.throttle_latency = throttle_latency
        self.stats = EmulatorStats()
        self._clock = clock
        self._lock = threading.Lock()
        self._tables: dict[str, tuple[list[dict[str, Any]], int, EntityTable]] = {}
        self._in_flight: Counter[str] = Counter()
        self._window: deque[float] = deque()
        self._seen: Counter[str] = Counter()  # occurrences per request key (fault draws)
        self._entity_names = self._known_entities()

    # ------------------------------------------------------------------ public helpers

    def refresh(self) -> None:
        """Forget the pre-built tables (call after mutating the tenant's records in place)."""
        with self._lock:
            self._tables.clear()
            self._entity_names = self._known_entities()

    def transport(self) -> EmulatorTransport:
        """An in-process ``httpx`` transport answering from this emulator."""
        return EmulatorTransport(self)

    @property
    def zone_url(self) -> str:
        return self.base_url + "ATServicesRest/"

    def request_count(self) -> int:
        """Requests counted in the current rolling hour (what ThresholdInformation reports)."""
        with self._lock:
            self._prune(self._clock())
            return len(self._window)

    # ------------------------------------------------------------------ the handler

    def handle(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> EmuResponse:
        """Answer one request. ``url`` is absolute; its scheme and host become the base of
        every URL the answer contains (zone url, ``nextPageUrl``)."""
        method = method.upper()
        ctx = _Ctx()
        try:
            response = self._handle(ctx, method, url, headers, body)
        except _Reply as reply:
            response = reply.response
        except Exception as exc:  # a bug must answer 500 (as a server would), never kill a thread
            response = _json_response(
                500, {"errors": [f"Internal emulator error: {type(exc).__name__}: {exc}"]}
            )
        finally:
            if ctx.acquired:
                self._release(ctx.entity)
        if ctx.counts and response.status not in (401, 404, 405, 429):
            self._count_request()  # served requests (validation errors included) use the budget
        self.stats.record(method, ctx.entity, ctx.kind, response.status, ctx.rows, ctx.fault)
        return response

    def _handle(
        self,
        ctx: _Ctx,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
    ) -> EmuResponse:
        hdrs = {k.lower(): v for k, v in (headers or {}).items()}
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}/" if parts.netloc else self.base_url
        path = "/" + "/".join(s for s in parts.path.split("/") if s)
        query = parse_qs(parts.query, keep_blank_values=True)
        lowered = path.lower()
        if lowered == _ZONE_PATH:
            ctx.kind = "zone"
            if method != "GET":
                raise _method_not_allowed(method)
            return self._zone(query, base)
        if not (lowered + "/").startswith(_API_PREFIX):
            raise _errors(404, f"No HTTP resource was found that matches the request URI '{path}'.")
        self._authenticate(hdrs)
        route = self._route(path[len(_API_PREFIX) :])
        ctx.kind, ctx.entity = route.kind, route.entity
        self._check_method(route, method, query)
        if "impersonationresourceid" in hdrs and route.kind in ("query", "next", "count", "get", "child"):
            raise _errors(500, "ImpersonationResourceId is not supported on read requests.")
        if not self._acquire(route.entity):
            raise _Reply(self._thread_threshold_exceeded(route.entity))
        ctx.acquired = True
        over = self._over_threshold(route)
        if over is not None:
            raise over
        draw = self._draw_fault(method, route, parts.path, parts.query, body)
        if draw is not None and draw[0] != "slow":
            ctx.fault = draw[0]  # a faulted request has no effect: not counted, no rows
            return self._fault_response(route, method, hdrs, body, base, query, draw)
        if draw is not None:
            ctx.fault = "slow"
            time.sleep(self.faults.slow_seconds if self.faults else 0.0)
        self._delay()
        ctx.counts = True
        response, ctx.rows = self._dispatch(route, method, hdrs, body, base, query)
        return response

    # ------------------------------------------------------------------ steps

    def _thread_threshold_exceeded(self, entity: str) -> EmuResponse:
        # Autotask limits each integration to 3 threads per object endpoint (developer help,
        # "API thread limiting", ThreadLimiting.htm) and answers an excess thread as clients run
        # against live tenants report it: HTTP 500 naming the thread threshold (code
        # Itgenatr005), not 429.
        return _json_response(500, {"errors": [
            f"Itgenatr005: Thread threshold exceeded: the thread threshold of {self.thread_limit} threads "
            f"for this integration and the {entity} endpoint has been exceeded."
        ]})  # fmt: skip

    def _authenticate(self, hdrs: dict[str, str]) -> None:
        # As Autotask answers (apigrate/autotask-restapi issue #19, from live tenants): an unknown
        # API user is HTTP 500, a wrong integration code HTTP 500, a known user's wrong secret 401.
        c = self.credentials
        user = hdrs.get("username")
        if user is None or user.lower() != c.username.lower():
            raise _errors(500, f"Zone information could not be determined for user '{user or ''}'.")
        if hdrs.get("apiintegrationcode") != c.integration_code:
            raise _errors(500, "IntegrationCode is invalid.")
        if hdrs.get("secret") != c.secret:
            raise _errors(401, "Authorization has been denied for this request.")

    def _known_entities(self) -> dict[str, str]:
        names = [*ENTITIES, *self.tenant.records, *self.tenant.fields, *self.tenant.udfs]
        return {n.lower(): n for n in names}

    def _route(self, rest: str) -> _Route:
        segs = [s for s in rest.split("/") if s]
        if not segs:
            raise _errors(404, "No HTTP resource was found that matches the request URI.")
        low = [s.lower() for s in segs]
        if low == ["thresholdinformation"]:
            return _Route("threshold", "ThresholdInformation", ("GET",))
        entity = self._entity_names.get(low[0])
        if entity is None:
            raise _errors(404, f"No HTTP resource was found for entity '{segs[0]}'.")
        tail = low[1:]
        if tail == ["query"]:
            return _Route("query", entity, ("POST", "GET"))
        if tail == ["query", "next"]:
            return _Route("next", entity, ("POST",))
        if tail == ["query", "count"]:
            return _Route("count", entity, ("POST", "GET"))
        if tail == ["entityinformation"]:
            return _Route("entity_info", entity, ("GET",))
        if tail == ["entityinformation", "fields"]:
            return _Route("fields", entity, ("GET",))
        if tail == ["entityinformation", "userdefinedfields"]:
            return _Route("udfs", entity, ("GET",))
        if len(tail) == 1 and tail[0].isdigit():
            return _Route("get", entity, ("GET",), item_id=int(tail[0]))
        if len(tail) == 2 and tail[0].isdigit() and (entity, tail[1]) in _CHILD_URLS:
            # /Tickets/{id}/Notes: GET-only, one request per parent (why extractors avoid it)
            return _Route("child", _CHILD_URLS[(entity, tail[1])], ("GET",), item_id=int(tail[0]))
        raise _errors(404, f"No HTTP resource was found that matches '{rest}'.")

    def _check_method(self, route: _Route, method: str, query: dict[str, list[str]] | None = None) -> None:
        if method in route.allowed:
            return
        if route.kind == "next" and method == "GET" and query and "search" in query:
            return  # a GET query's next page carries its filter in ``search``: allowed
        raise _method_not_allowed(method)

    def _acquire(self, entity: str) -> bool:
        with self._lock:
            if self._in_flight[entity] >= self.thread_limit:
                return False
            self._in_flight[entity] += 1
            return True

    def _release(self, entity: str) -> None:
        with self._lock:
            self._in_flight[entity] -= 1

    def _prune(self, now: float) -> None:
        window = self._window
        while window and window[0] <= now - _WINDOW_SECONDS:
            window.popleft()

    def _count_request(self) -> None:
        with self._lock:
            now = self._clock()
            self._prune(now)
            self._window.append(now)

    def _over_threshold(self, route: _Route) -> _Reply | None:
        if route.kind == "threshold":
            return None  # reading the budget stays possible while suspended
        with self._lock:
            self._prune(self._clock())
            used = len(self._window)
        if used >= self.request_threshold:
            # Like thread-limit rejections, reported as HTTP 500 naming the threshold.
            return _errors(
                500,
                f"The request threshold of {self.request_threshold} requests per hour is exceeded; "
                "the API is suspended until usage drops.",
            )
        return None

    def _delay(self) -> None:
        delay = self.latency
        if self.throttle_latency and self.request_threshold > 0:
            share = self.request_count() / self.request_threshold
            delay += 1.0 if share > 0.75 else 0.5 if share > 0.5 else 0.0
        if delay > 0:
            time.sleep(delay)

    def _draw_fault(
        self, method: str, route: _Route, path: str, query: str, body: bytes | None
    ) -> tuple[str, float] | None:
        plan = self.faults
        if plan is None or plan.rate <= 0:
            return None
        if plan.endpoints is not None and route.kind not in plan.endpoints:
            return None
        body_hash = hashlib.blake2b(body or b"", digest_size=8).hexdigest()
        key = f"{method}|{path.lower()}|{query}|{body_hash}"
        with self._lock:
            nth = self._seen[key]
            self._seen[key] = nth + 1
        return plan.draw(f"{key}|{nth}")

    def _fault_response(
        self,
        route: _Route,
        method: str,
        hdrs: dict[str, str],
        body: bytes | None,
        base: str,
        query: dict[str, list[str]],
        draw: tuple[str, float],
    ) -> EmuResponse:
        kind, variant = draw
        plan = self.faults
        assert plan is not None
        if kind == "429":
            headers: dict[str, str] = {}
            if plan.retry_after is not None and variant < 0.5:
                headers["retry-after"] = str(plan.retry_after)
            return _json_response(429, {"errors": ["Too many requests (injected fault)."]}, headers)
        if kind == "500":
            return _json_response(500, {"errors": ["An unexpected error has occurred (injected fault)."]})
        if kind == "threads":
            return self._thread_threshold_exceeded(route.entity)
        # Truncate and drop spoil a real answer, computed as usual but not counted: the client
        # never got usable data.
        try:
            real, _ = self._dispatch(route, method, hdrs, body, base, query)
        except _Reply as reply:
            real = reply.response
        if kind == "truncate":
            cut = max(1, len(real.body) // 2)
            return EmuResponse(real.status, dict(real.headers), real.body[:cut])
        # drop: "before" sends nothing; "mid" sends the headers and half the body
        real.drop = "before" if variant < 0.5 else "mid"
        return real

    # ------------------------------------------------------------------ endpoints

    def _dispatch(
        self,
        route: _Route,
        method: str,
        hdrs: dict[str, str],
        body: bytes | None,
        base: str,
        query: dict[str, list[str]],
    ) -> tuple[EmuResponse, int]:
        kind, entity = route.kind, route.entity
        if kind == "threshold":
            return _json_response(
                200,
                {
                    "externalRequestThreshold": self.request_threshold,
                    "requestThresholdTimeframe": 60,
                    # +1: this request counts, as it does on the real API
                    "currentTimeframeRequestCount": self.request_count() + 1,
                },
            ), 0
        if kind == "fields":
            return _json_response(200, {"fields": self.tenant.fields.get(entity, [])}), 0
        if kind == "udfs":
            return _json_response(200, {"fields": self.tenant.udfs.get(entity, [])}), 0
        if kind == "entity_info":
            return _json_response(
                200,
                {
                    "info": {
                        "name": entity[:-1] if entity.endswith("s") else entity,
                        "canCreate": False,
                        "canDelete": False,
                        "canQuery": True,
                        "canUpdate": False,
                        "hasUserDefinedFields": bool(self.tenant.udfs.get(entity)),
                        "supportsWebhookCallouts": entity in ("Tickets", "TicketNotes"),
                    }
                },
            ), 0
        table = self._table(entity)
        if kind == "get":
            assert route.item_id is not None
            pos = table.position_of(route.item_id)
            if pos is None:
                raise _errors(404, f"{entity} {route.item_id} was not found.")
            return _json_response(200, {"item": table.rows[pos]}), 1
        if kind == "child":
            assert route.item_id is not None
            plan = compile_filter(table, [{"op": "eq", "field": "ticketID", "value": route.item_id}])
            items, _ = plan.page(None, MAX_RECORDS)
            return _json_response(
                200,
                {
                    "items": items,
                    "pageDetails": {
                        "count": len(items),
                        "requestCount": MAX_RECORDS,
                        "prevPageUrl": None,
                        "nextPageUrl": None,
                    },
                },
            ), len(items)
        search = self._search(method, body, query)
        plan = self._plan(table, entity, search)
        if kind == "count":
            return _json_response(200, {"queryCount": plan.count()}), 0
        size = self._max_records(search)
        include = self._include_fields(table, search)
        after: int | None = None
        if kind == "next":
            tokens = query.get("paging") or []
            if not tokens or not tokens[0]:
                raise _errors(500, "The paging parameter is required.")
            after = _decode_token(tokens[0])
        items, more = plan.page(after, size)
        prev_url = None
        if after is not None and items:
            prev_url = self._next_url(
                base, entity, plan.previous_start(_row_id(items[0]), size), method, query
            )
        elif after is not None:
            prev_url = self._next_url(base, entity, plan.previous_start(after + 1, size), method, query)
        next_url = self._next_url(base, entity, _row_id(items[-1]), method, query) if more else None
        out = items if include is None else [_project(r, include) for r in items]
        payload = {
            "items": out,
            "pageDetails": {
                "count": len(out),
                "requestCount": size,
                "prevPageUrl": prev_url,
                "nextPageUrl": next_url,
            },
        }
        return _json_response(200, payload), len(out)

    def _zone(self, query: dict[str, list[str]], base: str) -> EmuResponse:
        users = query.get("user") or []
        if not users or not users[0]:
            raise _errors(500, "The user parameter is required.")
        if users[0].lower() != self.credentials.username.lower():
            raise _errors(500, f"Zone information could not be determined for user '{users[0]}'.")
        zone = dict(self.tenant.zone)
        zone["url"] = base + "ATServicesRest/"  # rewrite the host to the serving address
        zone.setdefault("webUrl", "https://ww.sandbox.invalid/")
        return _json_response(200, zone)

    def _table(self, entity: str) -> EntityTable:
        records = self.tenant.records.get(entity, [])
        # Identity (the cache keeps the list alive, so its id cannot be reused) and length:
        # what the tenant's mutations change when they add, delete or replace rows.
        cached = self._tables.get(entity)
        if cached is not None and cached[0] is records and cached[1] == len(records):
            return cached[2]
        with self._lock:
            cached = self._tables.get(entity)
            if cached is not None and cached[0] is records and cached[1] == len(records):
                return cached[2]
            table = EntityTable.build(
                entity, records, self.tenant.fields.get(entity), self.tenant.udfs.get(entity)
            )
            self._tables[entity] = (records, len(records), table)
            return table

    @staticmethod
    def _search(method: str, body: bytes | None, query: dict[str, list[str]]) -> dict[str, Any]:
        if method == "GET":
            raw = (query.get("search") or [""])[0]
            if not raw:
                raise _errors(500, "The search parameter is required.")
        else:
            if not body or not body.strip():
                raise _errors(500, "The request body is required: a query with a filter.")
            raw = body.decode("utf-8", errors="replace")
        try:
            search = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _errors(500, f"The request body is not valid JSON: {exc}.") from None
        if not isinstance(search, dict):
            raise _errors(500, "The query must be a JSON object.")
        return {k.lower(): v for k, v in search.items() if isinstance(k, str)}

    @staticmethod
    def _plan(table: EntityTable, entity: str, search: dict[str, Any]) -> Plan:
        conditions = search.get("filter")
        if entity == "TicketHistory" and not _single_ticket_condition(conditions):
            raise _errors(500, "TicketHistory queries must have exactly one condition: ticketID eq <id>.")
        if entity == "TicketAttachments" and not _names_tickets(conditions):
            # Autotask developer help, "Changes to Attachment entities" (2021.1): a request to
            # TicketAttachments "will require a value for the ticketID field".
            raise _errors(
                500, "TicketAttachments queries require a ticketID: add a ticketID eq or in condition."
            )
        try:
            return compile_filter(table, conditions)
        except FilterError as exc:
            raise _errors(500, str(exc)) from None

    @staticmethod
    def _max_records(search: dict[str, Any]) -> int:
        value = search.get("maxrecords")
        if value is None:
            return MAX_RECORDS
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RECORDS:
            raise _errors(500, f"MaxRecords must be an integer between 1 and {MAX_RECORDS}, got {value!r}.")
        return value

    @staticmethod
    def _include_fields(table: EntityTable, search: dict[str, Any]) -> list[str] | None:
        value = search.get("includefields")
        if value is None or value == []:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _errors(500, "IncludeFields must be a list of field names.")
        names = ["id"]
        for name in value:
            if name.lower() == "userdefinedfields":
                raise _errors(500, "userDefinedFields cannot be listed in IncludeFields.")
            canonical = table.fields.get(name.lower())
            if canonical is not None and canonical not in names:
                names.append(canonical)  # unknown names are ignored, as the real API does
        return names

    @staticmethod
    def _next_url(base: str, entity: str, after: int | None, method: str, query: dict[str, list[str]]) -> str:
        url = f"{base}ATServicesRest/V1.0/{entity}/query/next?paging={_encode_token(after)}"
        if method == "GET" and query.get("search"):
            url += "&search=" + quote(query["search"][0], safe="")
        return url


def _row_id(row: Mapping[str, Any]) -> int:
    value = row.get("id")
    return value if isinstance(value, int) else 0


def _project(row: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    out = {name: row.get(name) for name in names}
    out["userDefinedFields"] = []
    return out


def _single_ticket_condition(conditions: Any) -> bool:
    if not isinstance(conditions, list) or len(conditions) != 1 or not isinstance(conditions[0], dict):
        return False
    cond = {str(k).lower(): v for k, v in conditions[0].items()}
    return (
        str(cond.get("op", "")).lower() == "eq"
        and str(cond.get("field", "")).lower() == "ticketid"
        and cond.get("udf") is not True
        and cond.get("value") is not None
        and not isinstance(cond.get("value"), list | dict | bool)
    )


def _names_tickets(conditions: Any) -> bool:
    """A top-level ``ticketID eq <id>`` or ``ticketID in [...]`` condition (not inside a group)."""
    if not isinstance(conditions, list):
        return False
    for item in conditions:
        if not isinstance(item, dict):
            continue
        cond = {str(k).lower(): v for k, v in item.items()}
        if str(cond.get("field", "")).lower() != "ticketid" or cond.get("udf") is True:
            continue
        op, value = str(cond.get("op", "")).lower(), cond.get("value")
        if (op == "eq" and value is not None and not isinstance(value, list | dict | bool)) or (
            op == "in" and isinstance(value, list) and value
        ):
            return True
    return False


# --------------------------------------------------------------------------- in-process


class EmulatorTransport(httpx.BaseTransport):
    """An ``httpx`` transport answering from an :class:`Emulator`, without sockets."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        response = self.emulator.handle(request.method, str(request.url), dict(request.headers), body)
        if response.drop == "before":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        if response.drop == "mid":
            raise httpx.ReadError("Connection reset while reading the response body.", request=request)
        return httpx.Response(
            response.status,
            headers={**response.headers, "content-length": str(len(response.body))},
            content=response.body,
            request=request,
        )


# serve_http lives in its own module (socket plumbing); re-exported here as the public API.
from audit.sandbox._emu_server import SandboxServer, serve_http  # noqa: E402
