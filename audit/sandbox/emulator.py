"""An Autotask REST API emulator serving a synthetic :class:`~audit.sandbox.model.Tenant`.

The core is a pure, thread-safe request handler, :meth:`Emulator.handle` (method, url, headers,
body) -> :class:`EmuResponse`, wrapped two ways:

* :meth:`Emulator.transport` — an ``httpx.BaseTransport`` for in-process use (demo, fast tests);
* :func:`serve_http` — a loopback HTTP/1.1 (keep-alive) server in a background thread, for
  network-path tests and ``ticket-audit sandbox serve``.

It honours every fact of the Autotask REST API the audit depends on (see
``docs/architecture.md``): zone discovery, auth headers, POST queries with paging by POST to
``nextPageUrl`` with the same body, 405 on GET next, 500 without a body, ``IncludeFields``,
counts, ``entityInformation``, ``ThresholdInformation`` with a rolling-hour request count, the
per-entity thread limit, the ``TicketHistory`` one-condition rule, the attachment rule (a
``TicketAttachments`` query or count names its tickets: a top-level ``ticketID eq|in``
condition, as Autotask requires since 2021.1), 500 validation errors.
Deterministic fault injection (:class:`FaultPlan`) lets client retry logic be tested.
The routes (``_emu_routes``), the query endpoints (``_emu_query``), the filter language
(``_emu_filters``, ``_emu_tables``) and the shared data types (``_emu_types``) live beside it.

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

import hashlib
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from audit.sandbox._emu_query import MAX_RECORDS, Paging, child_page, compile_query, parse_search, query_page
from audit.sandbox._emu_routes import API_PREFIX, ZONE_PATH, Route, check_method, known_entities, parse_route
from audit.sandbox._emu_tables import EntityTable
from audit.sandbox._emu_types import (
    FAULT_KINDS,
    EmulatorStats,
    EmuResponse,
    FaultPlan,
    Reply,
    api_errors,
    json_response,
    method_not_allowed,
)
from audit.sandbox.model import SANDBOX_CREDENTIALS, SandboxCredentials, Tenant

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

_WINDOW_SECONDS = 3600.0


# --------------------------------------------------------------------------- the emulator


@dataclass
class _RequestRecord:
    """What one request turned out to be, for the stats and the clean-up."""

    kind: str = "unknown"
    entity: str = "-"
    fault: str | None = None
    rows: int = 0
    acquired: bool = False
    counts: bool = False  # reached the endpoint: uses the hourly budget


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
        self._entity_names = known_entities(self.tenant)

    # ------------------------------------------------------------------ public helpers

    def refresh(self) -> None:
        """Forget the pre-built tables (call after mutating the tenant's records in place)."""
        with self._lock:
            self._tables.clear()
            self._entity_names = known_entities(self.tenant)

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
        ctx = _RequestRecord()
        try:
            response = self._handle(ctx, method, url, headers, body)
        except Reply as reply:
            response = reply.response
        except Exception as exc:  # a bug must answer 500 (as a server would), never kill a thread
            response = json_response(
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
        ctx: _RequestRecord,
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
        if lowered == ZONE_PATH:
            ctx.kind = "zone"
            if method != "GET":
                raise method_not_allowed(method)
            return self._zone(query, base)
        if not (lowered + "/").startswith(API_PREFIX):
            raise api_errors(404, f"No HTTP resource was found that matches the request URI '{path}'.")
        self._authenticate(hdrs)
        route = parse_route(path[len(API_PREFIX) :], self._entity_names)
        ctx.kind, ctx.entity = route.kind, route.entity
        check_method(route, method, query)
        if "impersonationresourceid" in hdrs and route.kind in ("query", "next", "count", "get", "child"):
            raise api_errors(500, "ImpersonationResourceId is not supported on read requests.")
        if not self._acquire(route.entity):
            raise Reply(self._thread_threshold_exceeded(route.entity))
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
        return json_response(500, {"errors": [
            f"Itgenatr005: Thread threshold exceeded: the thread threshold of {self.thread_limit} threads "
            f"for this integration and the {entity} endpoint has been exceeded."
        ]})  # fmt: skip

    def _authenticate(self, hdrs: dict[str, str]) -> None:
        # As Autotask answers (apigrate/autotask-restapi issue #19, from live tenants): an unknown
        # API user is HTTP 500, a wrong integration code HTTP 500, a known user's wrong secret 401.
        c = self.credentials
        user = hdrs.get("username")
        if user is None or user.lower() != c.username.lower():
            raise api_errors(500, f"Zone information could not be determined for user '{user or ''}'.")
        if hdrs.get("apiintegrationcode") != c.integration_code:
            raise api_errors(500, "IntegrationCode is invalid.")
        if hdrs.get("secret") != c.secret:
            raise api_errors(401, "Authorization has been denied for this request.")

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

    def _over_threshold(self, route: Route) -> Reply | None:
        if route.kind == "threshold":
            return None  # reading the budget stays possible while suspended
        with self._lock:
            self._prune(self._clock())
            used = len(self._window)
        if used >= self.request_threshold:
            # Like thread-limit rejections, reported as HTTP 500 naming the threshold.
            return api_errors(
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
        self, method: str, route: Route, path: str, query: str, body: bytes | None
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
        route: Route,
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
            return json_response(429, {"errors": ["Too many requests (injected fault)."]}, headers)
        if kind == "500":
            return json_response(500, {"errors": ["An unexpected error has occurred (injected fault)."]})
        if kind == "threads":
            return self._thread_threshold_exceeded(route.entity)
        # Truncate and drop spoil a real answer, computed as usual but not counted: the client
        # never got usable data.
        try:
            real, _ = self._dispatch(route, method, hdrs, body, base, query)
        except Reply as reply:
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
        route: Route,
        method: str,
        hdrs: dict[str, str],
        body: bytes | None,
        base: str,
        query: dict[str, list[str]],
    ) -> tuple[EmuResponse, int]:
        kind, entity = route.kind, route.entity
        if kind == "threshold":
            return json_response(
                200,
                {
                    "externalRequestThreshold": self.request_threshold,
                    "requestThresholdTimeframe": 60,
                    # +1: this request counts, as it does on the real API
                    "currentTimeframeRequestCount": self.request_count() + 1,
                },
            ), 0
        if kind == "fields":
            return json_response(200, {"fields": self.tenant.fields.get(entity, [])}), 0
        if kind == "udfs":
            return json_response(200, {"fields": self.tenant.udfs.get(entity, [])}), 0
        if kind == "entity_info":
            return json_response(
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
                raise api_errors(404, f"{entity} {route.item_id} was not found.")
            return json_response(200, {"item": table.rows[pos]}), 1
        if kind == "child":
            assert route.item_id is not None
            return child_page(table, route.item_id)
        search = parse_search(method, body, query)
        plan = compile_query(table, entity, search)
        if kind == "count":
            return json_response(200, {"queryCount": plan.count()}), 0
        return query_page(table, plan, search, Paging(base, entity, method, query, next_page=kind == "next"))

    def _zone(self, query: dict[str, list[str]], base: str) -> EmuResponse:
        users = query.get("user") or []
        if not users or not users[0]:
            raise api_errors(500, "The user parameter is required.")
        if users[0].lower() != self.credentials.username.lower():
            raise api_errors(500, f"Zone information could not be determined for user '{users[0]}'.")
        zone = dict(self.tenant.zone)
        zone["url"] = base + "ATServicesRest/"  # rewrite the host to the serving address
        zone.setdefault("webUrl", "https://ww.sandbox.invalid/")
        return json_response(200, zone)

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
