"""The client over real HTTP on 127.0.0.1: dropped connections, timeouts, the thread limit."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from audit.core.errors import ApiError
from audit.source.autotask import ALL_ROWS, AutotaskClient, Credentials, cond

Reply = Callable[..., None]


def page(ids: list[int], next_url: str | None = None) -> dict[str, Any]:
    return {
        "items": [{"id": i} for i in ids],
        "pageDetails": {"count": len(ids), "requestCount": 500, "prevPageUrl": None, "nextPageUrl": next_url},
    }


def test_paging_over_http(loopback: Any, credentials: Credentials, reply: Reply) -> None:
    seen: list[tuple[str, str, Any]] = []

    def handler(req: BaseHTTPRequestHandler, body: bytes) -> None:
        seen.append((req.command, req.path, json.loads(body) if body else None))
        if req.command != "POST":
            reply(req, 405, {"Message": "The requested resource does not support http method 'GET'."})
        elif req.path.endswith("/query"):
            reply(req, 200, page([1, 2], f"{loopback.zone_url}V1.0/Tickets/query/next?paging=abc"))
        else:
            reply(req, 200, page([3]))

    loopback.handler = handler
    with AutotaskClient(loopback.zone_url, credentials, sleep=lambda _s: None) as client:
        ids = [item["id"] for p in client.query("Tickets", ALL_ROWS) for item in p]
    assert ids == [1, 2, 3]
    assert [(m, p) for m, p, _ in seen] == [
        ("POST", "/ATServicesRest/V1.0/Tickets/query"),
        ("POST", "/ATServicesRest/V1.0/Tickets/query/next?paging=abc"),
    ]
    assert seen[0][2] == seen[1][2]


@pytest.mark.parametrize("how", ["mid-body", "before-response"])
def test_dropped_connection_is_retried(
    how: str, loopback: Any, credentials: Credentials, reply: Reply
) -> None:
    def handler(req: BaseHTTPRequestHandler, body: bytes) -> None:
        if loopback.hits == 1:
            if how == "mid-body":
                req.send_response(200)
                req.send_header("Content-Type", "application/json")
                req.send_header("Content-Length", "4000")
                req.end_headers()
                req.wfile.write(b'{"items": [{"id": 1}, {"id": 2')
                req.wfile.flush()
            req.close_connection = True  # and drop it, the rest of the body never comes
            return
        reply(req, 200, page([1, 2]))

    loopback.handler = handler
    sleeps: list[float] = []
    with AutotaskClient(loopback.zone_url, credentials, sleep=sleeps.append, seed=3) as client:
        ids = [item["id"] for p in client.query("Tickets", ALL_ROWS) for item in p]
    assert ids == [1, 2]
    assert loopback.hits == 2 and client.request_count == 2 and len(sleeps) == 1


def test_slow_response_times_out_and_is_retried(
    loopback: Any, credentials: Credentials, reply: Reply
) -> None:
    def handler(req: BaseHTTPRequestHandler, body: bytes) -> None:
        if loopback.hits == 1:
            time.sleep(0.8)  # longer than the client's timeout
        reply(
            req,
            200,
            {
                "externalRequestThreshold": 10000,
                "requestThresholdTimeframe": 60,
                "currentTimeframeRequestCount": 1,
            },
        )

    loopback.handler = handler
    started = time.monotonic()
    with AutotaskClient(loopback.zone_url, credentials, timeout=0.2, sleep=lambda _s: None) as client:
        assert client.threshold().remaining == 9999
    assert client.request_count == 2
    assert time.monotonic() - started < 0.8  # gave up on the slow answer instead of waiting for it


def test_timeouts_exhausted_raise_api_error(loopback: Any, credentials: Credentials, reply: Reply) -> None:
    def handler(req: BaseHTTPRequestHandler, body: bytes) -> None:
        time.sleep(0.4)
        reply(req, 200, {})

    loopback.handler = handler
    with AutotaskClient(
        loopback.zone_url, credentials, timeout=0.1, max_retries=1, sleep=lambda _s: None
    ) as client:
        with pytest.raises(ApiError) as info:
            client.get("Tickets", 1)
    assert "ReadTimeout" in str(info.value) and info.value.request == "GET /ATServicesRest/V1.0/Tickets/1"


class ThreadLimitedEntity:
    """Answers 429 when more than 3 requests are in flight on one entity endpoint, as Autotask does."""

    def __init__(self, reply: Reply, delay: float = 0.03) -> None:
        self.reply = reply
        self.delay = delay
        self.lock = threading.Lock()
        self.active: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.rejected = 0

    def __call__(self, req: BaseHTTPRequestHandler, body: bytes) -> None:
        entity = req.path.split("/")[3].lower()  # /ATServicesRest/V1.0/{Entity}/query
        with self.lock:
            self.active[entity] = self.active.get(entity, 0) + 1
            self.peak[entity] = max(self.peak.get(entity, 0), self.active[entity])
            over = self.active[entity] > 3
            if over:
                self.rejected += 1
        try:
            if over:
                self.reply(req, 429, {"errors": ["thread threshold exceeded"]})
                return
            time.sleep(self.delay)
            value = json.loads(body)["filter"][0]["value"] if body else 0
            self.reply(req, 200, page([value]))
        finally:
            with self.lock:
                self.active[entity] -= 1


def test_the_server_fixture_does_enforce_the_thread_limit(loopback: Any, reply: Reply) -> None:
    # Control: an unthrottled burst does trip the limit, so the test below can fail.
    server = ThreadLimitedEntity(reply, delay=0.1)
    loopback.handler = server
    with httpx.Client() as raw:
        threads = [
            threading.Thread(
                target=raw.post,
                args=(f"{loopback.zone_url}V1.0/Tickets/query",),
                kwargs={"json": {"filter": [{"value": i}]}},
            )
            for i in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert server.rejected > 0


def test_client_never_exceeds_three_in_flight_per_entity(
    loopback: Any, credentials: Credentials, reply: Reply
) -> None:
    server = ThreadLimitedEntity(reply)
    loopback.handler = server
    got: list[int] = []
    errors: list[BaseException] = []
    with AutotaskClient(loopback.zone_url, credentials, sleep=lambda _s: None) as client:

        def side_queries() -> None:  # other threads sharing the client (and its per-entity limit)
            try:
                for i in range(100, 104):
                    got.extend(
                        item["id"] for p in client.query("tickets", [cond("id", "eq", i)]) for item in p
                    )
            except BaseException as exc:
                errors.append(exc)

        extra = [threading.Thread(target=side_queries) for _ in range(2)]
        for t in extra:
            t.start()
        many = client.query_many("Tickets", [[cond("id", "eq", i)] for i in range(1, 19)])
        got.extend(item["id"] for p in many for item in p)
        # A different entity has its own three slots.
        notes = client.query_many("TicketNotes", [[cond("id", "eq", i)] for i in range(1, 7)])
        got.extend(item["id"] for p in notes for item in p)
        for t in extra:
            t.join()
    assert errors == []
    assert server.rejected == 0
    assert server.peak["tickets"] == 3  # concurrency was used, up to the limit and never above
    assert sorted(got) == sorted([*range(1, 19), *range(1, 7), *range(100, 104), *range(100, 104)])
    assert client.request_count == 18 + 6 + 8
