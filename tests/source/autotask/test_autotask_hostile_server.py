"""Servers that attack the client: slow drips, endless paging, huge waits, silence, echoed secrets.

Each test plays the attack on a real HTTP server on 127.0.0.1 and asserts the client's defence.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from audit.core.errors import ApiError, BudgetExceededError
from audit.source.autotask import ALL_ROWS, AutotaskClient, Credentials

Reply = Callable[..., None]

THRESHOLD = {
    "externalRequestThreshold": 10000,
    "requestThresholdTimeframe": 60,
    "currentTimeframeRequestCount": 1,
}


def page(ids: list[int], next_url: str | None) -> dict[str, Any]:
    return {
        "items": [{"id": i} for i in ids],
        "pageDetails": {"count": len(ids), "requestCount": 500, "prevPageUrl": None, "nextPageUrl": next_url},
    }


def test_a_server_dripping_one_byte_at_a_time_hits_the_total_deadline(
    loopback: Any, credentials: Credentials
) -> None:
    body = json.dumps(THRESHOLD).encode()

    def drip(req: BaseHTTPRequestHandler, _body: bytes) -> None:
        req.send_response(200)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        try:
            for byte in body:  # each byte well within the per-read timeout, the whole far beyond
                req.wfile.write(bytes([byte]))
                req.wfile.flush()
                time.sleep(0.15)
        except OSError:
            pass  # the client hung up: the defence worked

    loopback.handler = drip
    started = time.monotonic()
    with AutotaskClient(
        loopback.zone_url, credentials, timeout=0.6, max_retries=1, sleep=lambda _s: None
    ) as client:
        with pytest.raises(ApiError) as info:
            client.threshold()
    assert time.monotonic() - started < 5  # two attempts of 0.6 s, not len(body) * 0.15 s each
    assert "ReadTimeout" in str(info.value) and "deadline 0.6 s" in str(info.value)
    assert loopback.hits == 2


def test_a_server_dripping_its_headers_hits_the_total_deadline(
    loopback: Any, credentials: Credentials
) -> None:
    def drip_headers(req: BaseHTTPRequestHandler, _body: bytes) -> None:
        try:
            for ch in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200:
                req.wfile.write(bytes([ch]))
                req.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    loopback.handler = drip_headers
    started = time.monotonic()
    with AutotaskClient(
        loopback.zone_url, credentials, timeout=0.5, max_retries=0, sleep=lambda _s: None
    ) as client:
        with pytest.raises(ApiError, match="ReadTimeout"):
            client.threshold()
    assert time.monotonic() - started < 3


def test_endless_empty_pages_are_stopped(loopback: Any, credentials: Credentials, reply: Reply) -> None:
    def endless(req: BaseHTTPRequestHandler, _body: bytes) -> None:
        reply(req, 200, page([], f"{loopback.zone_url}V1.0/Tickets/query/next?paging={loopback.hits}"))

    loopback.handler = endless
    with AutotaskClient(loopback.zone_url, credentials, sleep=lambda _s: None) as client:
        with pytest.raises(ApiError, match="empty pages in a row"):
            list(client.query("Tickets", ALL_ROWS))
    assert loopback.hits == 3


def serve_endless_pages(loopback: Any, reply: Reply) -> None:
    """Every answer is a one-item page with a next page that was never seen before."""

    def endless(req: BaseHTTPRequestHandler, _body: bytes) -> None:
        n = loopback.hits
        reply(req, 200, page([n], f"{loopback.zone_url}V1.0/Tickets/query/next?paging={n}"))

    loopback.handler = endless


def test_endless_full_pages_stop_at_the_plan_and_its_margin(
    loopback: Any, credentials: Credentials, reply: Reply
) -> None:
    serve_endless_pages(loopback, reply)
    with AutotaskClient(loopback.zone_url, credentials, sleep=lambda _s: None) as client:
        with pytest.raises(ApiError, match="ran past its plan") as info:
            list(client.query("Tickets", ALL_ROWS, planned_rows=1000))  # 2 pages planned
        assert "2 page(s) planned, 7 allowed" in str(info.value)
        assert loopback.hits == 7
        # query_many: the slices share one plan.
        with pytest.raises(ApiError, match="ran past its plan"):
            list(client.query_many("Tickets", [[ALL_ROWS], [ALL_ROWS]], planned_rows=10))
    assert loopback.hits == 7 + 2 + 5


def test_a_run_never_sends_more_than_its_granted_requests(
    loopback: Any, credentials: Credentials, reply: Reply
) -> None:
    serve_endless_pages(loopback, reply)
    with AutotaskClient(loopback.zone_url, credentials, sleep=lambda _s: None) as client:
        client.limit_requests(client.request_count + 25)
        with pytest.raises(BudgetExceededError, match="used the 25 Autotask API requests"):
            list(client.query("Tickets", ALL_ROWS))  # no plan: only the allowance stops it
        assert client.request_count == 25
    assert loopback.hits == 25


def test_retry_after_beyond_the_retry_budget_fails_fast_quoting_the_wait(
    loopback: Any, credentials: Credentials, reply: Reply
) -> None:
    def busy(req: BaseHTTPRequestHandler, _body: bytes) -> None:
        reply(req, 429, {"errors": ["Too many requests"]}, {"Retry-After": "99999"})

    loopback.handler = busy
    slept: list[float] = []
    started = time.monotonic()
    with AutotaskClient(loopback.zone_url, credentials, sleep=slept.append) as client:
        with pytest.raises(ApiError) as info:
            client.threshold()
    assert slept == [] and loopback.hits == 1 and time.monotonic() - started < 5
    text = str(info.value)
    assert "wait 99999 s" in text and "Retry-After" in text and "retry_budget_seconds" in text


def test_retry_after_within_the_budget_is_honoured(
    loopback: Any, credentials: Credentials, reply: Reply
) -> None:
    def once_busy(req: BaseHTTPRequestHandler, _body: bytes) -> None:
        if loopback.hits == 1:
            reply(req, 429, {"errors": ["busy"]}, {"Retry-After": "100"})
        else:
            reply(req, 200, THRESHOLD)

    loopback.handler = once_busy
    slept: list[float] = []
    with AutotaskClient(loopback.zone_url, credentials, sleep=slept.append, retry_budget=120) as client:
        assert client.threshold().remaining == 9999
        assert client.retry_seconds >= 100
    assert slept == [100.0]


def test_a_silent_server_costs_at_most_the_retry_budget(loopback: Any, credentials: Credentials) -> None:
    release = threading.Event()

    def silent(req: BaseHTTPRequestHandler, _body: bytes) -> None:
        release.wait(10)  # never answers while the client waits

    loopback.handler = silent
    started = time.monotonic()
    try:
        with AutotaskClient(
            loopback.zone_url, credentials, timeout=0.3, retry_budget=1.0, sleep=lambda _s: None
        ) as client:
            with pytest.raises(ApiError, match="retry budget is spent"):
                client.threshold()
    finally:
        release.set()
    elapsed = time.monotonic() - started
    assert loopback.hits < 7  # max_retries=6 would have made 7 attempts
    assert elapsed < 3


def test_a_timed_out_request_keeps_its_slot_while_the_server_still_runs_it(
    loopback: Any, credentials: Credentials, reply: Reply
) -> None:
    """Autotask goes on running a request the client gave up on: a retry must not make a 4th thread."""
    lock = threading.Lock()
    running = [0, 0]  # in flight now, most ever

    def slow(req: BaseHTTPRequestHandler, _body: bytes) -> None:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        try:
            if loopback.hits <= 4:
                time.sleep(0.6)  # the server keeps executing after the client's 0.2 s timeout
            try:
                reply(req, 200, THRESHOLD)
            except OSError:
                pass
        finally:
            with lock:
                running[0] -= 1

    loopback.handler = slow
    with AutotaskClient(
        loopback.zone_url, credentials, timeout=0.2, server_limit=0.8, sleep=lambda _s: None
    ) as client:
        threads = [threading.Thread(target=client.threshold) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert running[1] <= 3, f"{running[1]} requests ran at once on the server"
    assert client.request_count >= 4


SLASHY_SECRET = "Ab/+cD=ef/GH+ij==KLmn/op+QR=st"


@pytest.mark.parametrize("offset", [0, 270, 282, 289, 290])
def test_an_error_page_echoing_the_headers_never_shows_the_secret(
    offset: int, loopback: Any, reply: Reply
) -> None:
    """The secret may straddle the cut at 300 characters: masked first, cut after, prefix masked."""
    credentials = Credentials(
        username="api@tenant.example", secret=SLASHY_SECRET, integration_code="CODE-XYZ-123456"
    )

    def echo(req: BaseHTTPRequestHandler, _body: bytes) -> None:
        page_text = "x" * offset + f"Secret: {req.headers['Secret']} UserName: {req.headers['UserName']}"
        data = page_text.encode()
        req.send_response(502)
        req.send_header("Content-Type", "text/html")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    loopback.handler = echo
    with AutotaskClient(loopback.zone_url, credentials, max_retries=0, sleep=lambda _s: None) as client:
        with pytest.raises(ApiError) as info:
            client.threshold()
    text = str(info.value)
    assert "HTTP 502" in text
    for k in range(3, len(SLASHY_SECRET) + 1):
        assert SLASHY_SECRET[:k] not in text, (k, text[-60:])
    assert "api@tenant.example" not in text


@pytest.mark.parametrize("encode", ["json", "url"])
def test_echoed_secret_in_encoded_forms_is_masked(encode: str, loopback: Any, reply: Reply) -> None:
    import re
    from urllib.parse import quote

    credentials = Credentials(
        username="api@tenant.example", secret=SLASHY_SECRET, integration_code="CODE-XYZ-123456"
    )

    def echo(req: BaseHTTPRequestHandler, _body: bytes) -> None:
        secret = req.headers["Secret"]
        shown = (
            secret.replace("/", "\\/")
            if encode == "json"
            else re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe=""))
        )
        reply(req, 500, {"errors": [f"Request failed. Headers: Secret={shown}"]})

    loopback.handler = echo
    with AutotaskClient(
        loopback.zone_url, credentials, max_retries=0, validation_retries=0, sleep=lambda _s: None
    ) as client:
        with pytest.raises(ApiError) as info:
            client.threshold()
    text = str(info.value)
    assert "Secret=***" in text and "ef" not in text.split("Secret=")[1][:10]


def test_an_extraction_facing_endless_paging_stops_within_its_plan_and_keeps_the_store(tmp_path: Any) -> None:
    """The nightly extraction against a tenant whose Tickets query pages for ever."""
    import httpx

    from audit.app.extract import extract
    from audit.core.config import ExtractSettings
    from audit.sandbox.client import DEFAULT_SANDBOX_AS_OF
    from audit.sandbox.emulator import Emulator
    from audit.store.snapshot import Store
    from tests.e2e_support import small_tenant

    emulator = Emulator(small_tenant())
    inner = emulator.transport()
    ticket = emulator.tenant.records["Tickets"][0]
    served = [0]

    def endless_tickets(request: httpx.Request) -> httpx.Response:
        path = request.url.path.lower()
        if request.method == "POST" and path.endswith(("/tickets/query", "/tickets/query/next")):
            served[0] += 1
            next_url = f"{emulator.zone_url}V1.0/Tickets/query/next?paging={served[0]}"
            return httpx.Response(200, json=page([], next_url) | {"items": [ticket]})
        return inner.handle_request(request)

    creds = emulator.credentials
    client = AutotaskClient(
        emulator.zone_url, Credentials(creds.username, creds.secret, creds.integration_code),
        transport=httpx.MockTransport(endless_tickets), backoff_base=0.0,
    )  # fmt: skip
    store = Store(tmp_path / "store")
    with client, pytest.raises(ApiError, match="ran past its plan"):
        extract(
            client, store, ExtractSettings(initial_days=3650), as_of=DEFAULT_SANDBOX_AS_OF, progress=False
        )
    planned_pages = -(-len(emulator.tenant.records["Tickets"]) // 500)
    assert served[0] <= planned_pages + 5  # the plan and its margin, not 48,379 requests
    assert not store.exists()  # nothing published from a runaway answer
