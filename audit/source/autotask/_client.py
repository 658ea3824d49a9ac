"""The Autotask REST client: queries with paging, counts, single records, entity metadata.

Thread-safe: one client may be shared by many threads. Every request goes through one
:class:`~._retry.Requester`, which holds a per-entity semaphore (at most ``max_in_flight``
requests in flight per entity endpoint across all threads — the server rejects more than 3),
gives each attempt a total deadline, retries within the run's retry budget, counts and logs.

Runaway answers are bounded: a query stops when the server keeps paging past the pages its
plan allowed (``planned_rows`` + a margin) or sends empty pages that still promise a next one,
and the whole client stops at the request allowance its run was granted
(:meth:`AutotaskClient.limit_requests`).
"""

from __future__ import annotations

import math
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from audit.core.errors import ApiError
from audit.source.schema import entity as schema_entity

from ._filters import FilterInput, build_filters
from ._models import Credentials, ThresholdInfo, ZoneInfo
from ._retry import AUTOTASK_EXECUTION_LIMIT, Requester, RetryPolicy
from ._zone import zone_from_env

if TYPE_CHECKING:
    from audit.core.config import ExtractSettings

__all__ = ["MAX_PAGE_SIZE", "AutotaskClient"]

#: Autotask pages hold at most 500 items.
MAX_PAGE_SIZE = 500
#: A query may page this much past its plan (rows added while it runs): 10 % + 5 pages.
PAGE_MARGIN_SHARE = 0.1
PAGE_MARGIN_MIN = 5
#: Autotask never sends an empty page with a next one; a few in a row mean a paging loop.
MAX_EMPTY_PAGES = 3

_ENTITY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
Page = list[dict[str, Any]]


def _entity_name(entity: str) -> str:
    """The entity as a path segment: canonical spelling when known, else as given (validated)."""
    if not isinstance(entity, str) or not _ENTITY_NAME.match(entity):
        raise ValueError(f"not an Autotask entity name: {entity!r}")
    try:
        return schema_entity(entity).name
    except KeyError:
        return entity


def _include_fields(include_fields: Sequence[str] | None) -> list[str] | None:
    """``id`` first, no duplicates, never ``userDefinedFields`` (the server answers 500 to it;
    items carry their UDFs regardless)."""
    if include_fields is None:
        return None
    if isinstance(include_fields, str):
        raise ValueError("include_fields must be a list of field names, not a string")
    out = ["id"]
    seen = {"id"}
    for name in include_fields:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"include_fields: not a field name: {name!r}")
        key = name.strip().lower()  # field names are case-insensitive on the server
        if key == "userdefinedfields" or key in seen:
            continue
        seen.add(key)
        out.append(name.strip())
    return out


class _PageBudget:
    """The pages one query (all its filter sets together) may fetch: its plan plus a margin.

    Without a plan (``planned_rows`` None) only the client's request allowance bounds it.
    """

    def __init__(self, planned_rows: int | None, queries: int, page_size: int) -> None:
        self.limit: int | None = None
        self.planned = 0
        if planned_rows is not None:
            if isinstance(planned_rows, bool) or not isinstance(planned_rows, int) or planned_rows < 0:
                raise ValueError(f"planned_rows must be an int >= 0, got {planned_rows!r}")
            # Every filter set costs at least one page, and each may end on a partly filled one.
            self.planned = max(queries, math.ceil(planned_rows / page_size) + queries - 1)
            self.limit = self.planned + max(PAGE_MARGIN_MIN, math.ceil(self.planned * PAGE_MARGIN_SHARE))
        self.used = 0
        self._lock = threading.Lock()

    def take(self, entity: str, request: str) -> None:
        with self._lock:
            if self.limit is not None and self.used >= self.limit:
                raise ApiError(
                    f"the query ran past its plan ({self.planned} page(s) planned, {self.limit} allowed "
                    "with the margin): the server keeps sending a nextPageUrl; stopped",
                    entity=entity, request=request,
                )  # fmt: skip
            self.used += 1


class AutotaskClient:
    """Sync, thread-safe client of one tenant's Autotask REST API (``{zone url}V1.0/...``)."""

    def __init__(
        self,
        zone: ZoneInfo | str,
        credentials: Credentials,
        *,
        transport: httpx.BaseTransport | None = None,
        max_in_flight: int = 3,
        max_retries: int = 6,
        timeout: float = 60.0,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
        validation_retries: int = 1,
        query_timeout: float | None = None,
        retry_budget: float = 120.0,
        server_limit: float = AUTOTASK_EXECUTION_LIMIT,
    ) -> None:
        """``timeout`` is the total deadline of one request, ``query_timeout`` (default: the same)
        that of one query page — sized to the server's own execution limit by the nightly run's
        settings, since Autotask keeps running a query the client gave up on. ``retry_budget`` is
        the seconds the client may spend on failed attempts and waiting between them, all
        requests together; ``server_limit`` how long a timed-out request keeps its entity slot."""
        if not isinstance(credentials, Credentials):
            raise TypeError("credentials must be a Credentials instance")
        self.zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo.from_url(zone)
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1:
            raise ValueError(f"max_in_flight must be an int >= 1, got {max_in_flight!r}")
        if not timeout > 0 or not (query_timeout is None or query_timeout > 0):
            raise ValueError(f"timeout and query_timeout must be > 0, got {timeout!r}, {query_timeout!r}")
        self.query_timeout = timeout if query_timeout is None else query_timeout
        # Validate everything before opening the connection pool, so a bad argument leaks nothing.
        policy = RetryPolicy(
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            validation_retries=validation_retries,
            retry_budget=retry_budget,
            seed=seed,
        )
        self._http = httpx.Client(
            transport=transport,
            timeout=timeout,
            headers=credentials.headers(),
            follow_redirects=False,  # a redirect would carry the auth headers to another URL
        )
        self._requester = Requester(
            self._http, credentials, policy, max_in_flight=max_in_flight, timeout=timeout,
            server_limit=server_limit, sleep=sleep,
        )  # fmt: skip
        self.max_in_flight = max_in_flight

    @classmethod
    def from_env(
        cls,
        *,
        transport: httpx.BaseTransport | None = None,
        environ: Mapping[str, str] | None = None,
        max_in_flight: int = 3,
        max_retries: int = 6,
        timeout: float = 60.0,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
        validation_retries: int = 1,
        query_timeout: float | None = None,
        retry_budget: float = 120.0,
    ) -> AutotaskClient:
        """Credentials from the environment; the zone from ``AUTOTASK_ZONE_URL`` or discovery.

        Discovery uses the same ``transport`` (so an in-process emulator can answer it too).
        """
        env = os.environ if environ is None else environ
        credentials = Credentials.from_env(env)
        zone = zone_from_env(
            credentials, env, transport=transport, timeout=timeout, max_retries=max_retries,
            backoff_base=backoff_base, backoff_max=backoff_max, sleep=sleep, seed=seed,
            retry_budget=retry_budget,
        )  # fmt: skip
        return cls(
            zone, credentials, transport=transport, max_in_flight=max_in_flight, max_retries=max_retries,
            timeout=timeout, backoff_base=backoff_base, backoff_max=backoff_max, sleep=sleep, seed=seed,
            validation_retries=validation_retries, query_timeout=query_timeout, retry_budget=retry_budget,
        )  # fmt: skip

    @classmethod
    def from_settings(
        cls, settings: ExtractSettings, *, environ: Mapping[str, str] | None = None
    ) -> AutotaskClient:
        """The nightly run's client: :meth:`from_env` with the ``[extract]`` settings' limits."""
        return cls.from_env(
            environ=environ, max_in_flight=settings.max_in_flight, max_retries=settings.max_retries,
            timeout=settings.timeout_seconds, query_timeout=settings.query_timeout_seconds,
            retry_budget=settings.retry_budget_seconds,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"AutotaskClient(zone={self.zone.url!r}, max_in_flight={self.max_in_flight})"

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        self._requester.close()
        self._http.close()

    def __enter__(self) -> AutotaskClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- counters ------------------------------------------------------------------------------
    @property
    def request_count(self) -> int:
        """Every HTTP request sent so far, retries included (what the tenant's budget counts)."""
        return self._requester.request_count

    def request_counts(self) -> dict[str, int]:
        """Requests sent per entity (a snapshot copy)."""
        return self._requester.request_counts()

    @property
    def retry_seconds(self) -> float:
        """Seconds spent so far on failed attempts and waits between them (the retry budget's use)."""
        return self._requester.retry_seconds

    def limit_requests(self, total: int | None) -> None:
        """Send nothing once :attr:`request_count` reaches ``total``: a request beyond raises
        :class:`~audit.core.errors.BudgetExceededError` (the run's granted share of the hourly budget)."""
        if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 0):
            raise ValueError(f"total must be an int >= 0 or None, got {total!r}")
        self._requester.limit_requests(total)

    # -- queries -------------------------------------------------------------------------------
    def _url(self, *parts: str) -> str:
        return self.zone.api_base + "/".join(parts)

    def query_body(
        self,
        filters: FilterInput,
        *,
        include_fields: Sequence[str] | None = None,
        max_records: int = MAX_PAGE_SIZE,
    ) -> dict[str, Any]:
        """The validated POST body of a query (also sent, unchanged, to every next page)."""
        if (
            isinstance(max_records, bool)
            or not isinstance(max_records, int)
            or not 1 <= max_records <= MAX_PAGE_SIZE
        ):
            raise ValueError(f"max_records must be an int in 1..{MAX_PAGE_SIZE}, got {max_records!r}")
        body: dict[str, Any] = {"MaxRecords": max_records}
        fields = _include_fields(include_fields)
        if fields is not None:
            body["IncludeFields"] = fields
        body["filter"] = build_filters(filters)
        return body

    def query(
        self,
        entity: str,
        filters: FilterInput,
        *,
        include_fields: Sequence[str] | None = None,
        max_records: int = MAX_PAGE_SIZE,
        planned_rows: int | None = None,
    ) -> Iterator[Page]:
        """Pages (non-empty lists of items, ascending ``id``) of ``POST {Entity}/query``.

        The filters are validated now, before anything is sent; requests go out as the
        iterator is consumed. Next pages are POSTed to ``nextPageUrl`` with the same body (a GET
        there is 405, a POST without the body is 500). ``planned_rows`` (from a count) bounds the
        pages: past the plan and its margin the query stops with an ApiError.
        """
        name = _entity_name(entity)
        body = self.query_body(filters, include_fields=include_fields, max_records=max_records)
        return self._pages(name, body, budget=_PageBudget(planned_rows, 1, max_records))

    def _pages(
        self,
        entity: str,
        body: dict[str, Any],
        stop: threading.Event | None = None,
        *,
        budget: _PageBudget,
    ) -> Iterator[Page]:
        url = self._url(entity, "query")
        first = httpx.URL(url)
        seen: set[str] = set()
        empty_in_a_row = 0
        while True:
            budget.take(entity, f"POST {httpx.URL(url).path}")
            data = self._requester.send("POST", url, entity=entity, body=body, timeout=self.query_timeout)
            if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                raise ApiError(
                    "query answered without an 'items' list",
                    entity=entity,
                    request=f"POST {httpx.URL(url).path}",
                )
            items: Page = data["items"]
            if items:
                empty_in_a_row = 0
                yield items
            details = data.get("pageDetails")
            next_url = details.get("nextPageUrl") if isinstance(details, dict) else None
            if not next_url or (stop is not None and stop.is_set()):
                return
            if not items:
                empty_in_a_row += 1
                if empty_in_a_row >= MAX_EMPTY_PAGES:
                    raise ApiError(
                        f"the server sent {empty_in_a_row} empty pages in a row, each with a new "
                        "nextPageUrl (a paging loop); stopped",
                        entity=entity, request=f"POST {httpx.URL(url).path}",
                    )  # fmt: skip
            target = first.join(str(next_url))  # absolute in practice; tolerate a relative one
            if target.scheme != first.scheme or target.host.lower() != first.host.lower():
                # The auth headers go with every request: never to a host other than the zone's.
                raise ApiError(
                    "nextPageUrl points to another host than the zone; refusing to send credentials there",
                    entity=entity, request=f"POST {target.path}",
                )  # fmt: skip
            url = str(target)
            if url in seen:
                raise ApiError(
                    "the server repeated a nextPageUrl (paging loop)",
                    entity=entity,
                    request=f"POST {target.path}",
                )
            seen.add(url)

    def query_all(
        self,
        entity: str,
        filters: FilterInput,
        *,
        include_fields: Sequence[str] | None = None,
        max_records: int = MAX_PAGE_SIZE,
    ) -> list[dict[str, Any]]:
        """Every item of a query, as one list (convenience over :meth:`query`)."""
        return [
            item
            for page in self.query(entity, filters, include_fields=include_fields, max_records=max_records)
            for item in page
        ]

    def query_many(
        self,
        entity: str,
        filter_sets: Sequence[FilterInput],
        *,
        include_fields: Sequence[str] | None = None,
        max_records: int = MAX_PAGE_SIZE,
        planned_rows: int | None = None,
    ) -> Iterator[Page]:
        """Run several queries of one entity concurrently and yield their pages as they arrive.

        Every filter set is validated before anything is sent. At most ``max_in_flight`` queries
        run at once, and the per-entity semaphore keeps the requests in flight to this entity at
        ``max_in_flight`` even with other threads querying it too. Pages of one filter arrive in
        order; pages of different filters interleave. The first error stops the other queries
        (after their current request) and is raised here. Closing the iterator early stops them too.
        ``planned_rows`` (the count of all the filter sets together) bounds their pages together.
        """
        name = _entity_name(entity)
        if isinstance(filter_sets, str | bytes | Mapping):
            raise ValueError("filter_sets must be a list of filters (one per query)")
        bodies = [
            self.query_body(f, include_fields=include_fields, max_records=max_records) for f in filter_sets
        ]
        budget = _PageBudget(planned_rows, max(1, len(bodies)), max_records)
        return self._run_many(name, bodies, budget)

    def _run_many(self, entity: str, bodies: list[dict[str, Any]], budget: _PageBudget) -> Iterator[Page]:
        if not bodies:
            return
        stop = threading.Event()
        # Bounded: workers wait for a slow consumer instead of buffering a whole table in memory.
        out: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=2 * self.max_in_flight)

        def put(item: tuple[str, Any]) -> None:
            while not stop.is_set():
                try:
                    out.put(item, timeout=0.05)
                    return
                except queue.Full:
                    continue

        def work(body: dict[str, Any]) -> None:
            try:
                if stop.is_set():
                    return
                for page in self._pages(entity, body, stop, budget=budget):
                    put(("page", page))
                    if stop.is_set():
                        return
            except BaseException as exc:  # handed to the consumer thread, re-raised there
                put(("error", exc))
            finally:
                put(("done", None))

        executor = ThreadPoolExecutor(
            max_workers=min(self.max_in_flight, len(bodies)), thread_name_prefix=f"autotask-{entity}"
        )
        try:
            for body in bodies:
                executor.submit(work, body)
            running = len(bodies)
            while running:
                kind, payload = out.get()
                if kind == "page":
                    yield payload
                elif kind == "error":
                    raise payload
                else:
                    running -= 1
        finally:
            stop.set()
            # Wait for in-flight requests so no thread uses the client after the caller closes it.
            executor.shutdown(wait=True, cancel_futures=True)

    def count(self, entity: str, filters: FilterInput) -> int:
        """``POST {Entity}/query/count`` -> ``queryCount``: one request, whatever the size."""
        name = _entity_name(entity)
        body = {"filter": build_filters(filters)}
        url = self._url(name, "query", "count")
        data = self._requester.send("POST", url, entity=name, body=body)
        value = data.get("queryCount") if isinstance(data, dict) else None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError(
                "count answered without an integer 'queryCount'",
                entity=name,
                request=f"POST {httpx.URL(url).path}",
            )
        return value

    def get(self, entity: str, id: int) -> dict[str, Any] | None:
        """``GET {Entity}/{id}`` -> the item, or None when the server answers ``{"item": null}``.

        A 404 raises :class:`~audit.core.errors.ApiError` (status 404): it cannot be told apart from a
        wrong entity path, and silently returning None for a typo would hide the bug.
        """
        name = _entity_name(entity)
        if isinstance(id, bool) or not isinstance(id, int):
            raise ValueError(f"id must be an int, got {id!r}")
        url = self._url(name, str(id))
        data = self._requester.send("GET", url, entity=name)
        if not isinstance(data, dict) or "item" not in data:
            raise ApiError(
                "get answered without an 'item'", entity=name, request=f"GET {httpx.URL(url).path}"
            )
        item = data["item"]
        return item if isinstance(item, dict) else None

    def _field_list(self, entity: str, which: str) -> list[dict[str, Any]]:
        name = _entity_name(entity)
        url = self._url(name, "entityInformation", which)
        data = self._requester.send("GET", url, entity=name)
        fields = data.get("fields") if isinstance(data, dict) else None
        if not isinstance(fields, list):
            raise ApiError(
                "entityInformation answered without a 'fields' list",
                entity=name,
                request=f"GET {httpx.URL(url).path}",
            )
        return fields

    def entity_fields(self, entity: str) -> list[dict[str, Any]]:
        """``GET {Entity}/entityInformation/fields``: field definitions with picklist values."""
        return self._field_list(entity, "fields")

    def entity_udfs(self, entity: str) -> list[dict[str, Any]]:
        """``GET {Entity}/entityInformation/userDefinedFields``: the tenant's UDF definitions."""
        return self._field_list(entity, "userDefinedFields")

    def threshold(self) -> ThresholdInfo:
        """``GET ThresholdInformation``: the tenant's hourly budget and its current use."""
        data = self._requester.send("GET", self._url("ThresholdInformation"), entity="ThresholdInformation")
        return ThresholdInfo.from_api(data)
