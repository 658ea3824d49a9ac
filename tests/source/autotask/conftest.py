"""Fixtures of the Autotask client tests: a small fake Autotask (for httpx.MockTransport) and a
loopback HTTP server whose behaviour each test scripts.

The fake is deliberately strict where the real API is: paging is POST-only to ``nextPageUrl``
(GET is 405), a next-page POST without the body is 500, ``userDefinedFields`` in IncludeFields
is 500, and every call must carry the three auth headers.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from audit.source.autotask import Credentials, ZoneInfo

USERNAME = "api-user@tenant.example"
SECRET = "S3cr3t-Value-9f7Q"
INTEGRATION_CODE = "INTEGRATIONCODE-XYZ-123"
ZONE_URL = "https://webservices5.autotask.net/ATServicesRest/"
WEB_URL = "https://ww5.autotask.net/"


@pytest.fixture(autouse=True)
def _default_audit_logging() -> Iterator[None]:
    """Undo ``configure_logging`` of an earlier CLI test in this process (it stops propagation to
    the root logger, so caplog would miss the client's records)."""
    logger = logging.getLogger("audit")
    saved = (logger.propagate, logger.level, list(logger.handlers))
    logger.propagate, logger.level, logger.handlers = True, logging.NOTSET, []
    yield
    logger.propagate, logger.level, logger.handlers = saved[0], saved[1], saved[2]


@pytest.fixture
def credentials() -> Credentials:
    return Credentials(username=USERNAME, secret=SECRET, integration_code=INTEGRATION_CODE)


@pytest.fixture
def zone() -> ZoneInfo:
    return ZoneInfo(zone_name="Pre-Release", url=ZONE_URL, web_url=WEB_URL, ci=5)


def make_items(n: int, start: int = 1) -> list[dict[str, Any]]:
    return [
        {"id": i, "title": f"ticket {i}", "status": 1 + i % 3, "userDefinedFields": []}
        for i in range(start, start + n)
    ]


def _matches(item: dict[str, Any], cond: dict[str, Any]) -> bool:
    """Enough of the server's filter semantics for the tests (top-level conditions, and-ed)."""
    op, value = cond["op"], cond.get("value")
    got = item.get(cond["field"])
    if op == "gte":
        return got is not None and got >= value
    if op == "gt":
        return got is not None and got > value
    if op == "lt":
        return got is not None and got < value
    if op == "lte":
        return got is not None and got <= value
    if op == "eq":
        return got == value
    if op == "in":
        return got in (value or [])
    raise AssertionError(f"fake does not implement op {op}")


@dataclass
class FakeAutotask:
    """A callable for ``httpx.MockTransport``. ``script`` answers first (FIFO), then the routes."""

    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    script: list[httpx.Response | Callable[[httpx.Request], httpx.Response]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            step = self.script.pop(0) if self.script else None
        if step is not None:
            return step(request) if callable(step) else step
        for header in ("ApiIntegrationCode", "UserName", "Secret"):
            if header not in request.headers:
                return httpx.Response(401, json={"errors": ["Unauthorized"]})
        return self.route(request)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]

    def route(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        lower = [p.lower() for p in parts]
        if lower[-1] == "zoneinformation":
            return httpx.Response(
                200, json={"zoneName": "Pre-Release", "url": ZONE_URL, "webUrl": WEB_URL, "ci": 5}
            )
        assert lower[:2] == ["atservicesrest", "v1.0"], request.url.path
        rest, rest_lower = parts[2:], lower[2:]
        if rest_lower == ["thresholdinformation"]:
            return httpx.Response(
                200,
                json={
                    "externalRequestThreshold": 10000,
                    "requestThresholdTimeframe": 60,
                    "currentTimeframeRequestCount": 124,
                },
            )
        entity = next((k for k in self.items if k.lower() == rest_lower[0]), None)
        if entity is None:
            return httpx.Response(404, json={"errors": [f"entity {rest[0]} not found"]})
        rows = self.items[entity]
        tail = rest_lower[1:]
        if tail[:1] == ["query"]:
            if request.method != "POST":
                return httpx.Response(
                    405, json={"Message": "The requested resource does not support http method 'GET'."}
                )
            if not request.content:
                return httpx.Response(
                    500, json={"errors": ["Object reference not set to an instance of an object."]}
                )
            body = json.loads(request.content)
            conditions = body.get("filter") or []
            if not conditions:
                return httpx.Response(500, json={"errors": ["filter is required"]})
            selected = [r for r in rows if all(_matches(r, c) for c in conditions)]
            if tail == ["query", "count"]:
                return httpx.Response(200, json={"queryCount": len(selected)})
            include = body.get("IncludeFields")
            if include and any(f.lower() == "userdefinedfields" for f in include):
                return httpx.Response(500, json={"errors": ["Invalid field userDefinedFields"]})
            size = int(body.get("MaxRecords", 500))
            offset = 0
            if tail == ["query", "next"]:
                offset = json.loads(base64.urlsafe_b64decode(request.url.params["paging"]))["offset"]
            page = selected[offset : offset + size]
            if include:
                page = [
                    {k: v for k, v in r.items() if k in include or k == "userDefinedFields"} for r in page
                ]
            next_url = None
            if offset + size < len(selected):
                token = base64.urlsafe_b64encode(json.dumps({"offset": offset + size}).encode()).decode()
                next_url = f"{ZONE_URL}V1.0/{entity}/query/next?paging={token}"
            return httpx.Response(
                200,
                json={
                    "items": page,
                    "pageDetails": {
                        "count": len(page),
                        "requestCount": size,
                        "prevPageUrl": None,
                        "nextPageUrl": next_url,
                    },
                },
            )
        if tail[:1] == ["entityinformation"]:
            which = tail[1]
            name = "Impact" if which == "userdefinedfields" else "status"
            return httpx.Response(200, json={"fields": [{"name": name, "isPickList": which == "fields"}]})
        if len(tail) == 1 and tail[0].isdigit() and request.method == "GET":
            found = next((r for r in rows if r["id"] == int(tail[0])), None)
            return httpx.Response(200, json={"item": found})
        return httpx.Response(404, json={"errors": ["no route"]})


@pytest.fixture
def fake() -> FakeAutotask:
    return FakeAutotask(items={"Tickets": make_items(1200), "TicketNotes": make_items(30)})


class Sleeps(list[float]):
    """An injected no-op sleep that records the delays asked for."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


# -- loopback HTTP ---------------------------------------------------------------------------

Handler = Callable[[BaseHTTPRequestHandler, bytes], None]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping for a timed-out client must not block shutdown

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # broken pipes from clients that gave up are expected in these tests


@dataclass
class LoopbackServer:
    """A real HTTP server on 127.0.0.1; ``handler(req, body)`` answers each request."""

    server: ThreadingHTTPServer
    handler: Handler | None = None
    hits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/"

    @property
    def zone_url(self) -> str:
        return f"{self.base_url}ATServicesRest/"


def send_json(
    req: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None
) -> None:
    data = json.dumps(payload).encode()
    req.send_response(status)
    req.send_header("Content-Type", "application/json")
    req.send_header("Content-Length", str(len(data)))
    for key, value in (headers or {}).items():
        req.send_header(key, value)
    req.end_headers()
    req.wfile.write(data)


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    state: dict[str, LoopbackServer] = {}

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the real API (and httpx's pool)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            srv = state["srv"]
            with srv.lock:
                srv.hits += 1
            assert srv.handler is not None
            srv.handler(self, body)

        do_GET = _dispatch
        do_POST = _dispatch

    server = _QuietServer(("127.0.0.1", 0), _Handler)
    srv = LoopbackServer(server=server)
    state["srv"] = srv
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# Test modules get the helpers through fixtures (no imports from conftest: robust to any
# pytest import mode and to other test folders having their own conftest).
@pytest.fixture
def make_fake() -> Callable[..., FakeAutotask]:
    return FakeAutotask


@pytest.fixture
def items_of() -> Callable[..., list[dict[str, Any]]]:
    return make_items


@pytest.fixture
def reply() -> Callable[..., None]:
    return send_json
