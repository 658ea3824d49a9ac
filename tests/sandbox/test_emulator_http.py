"""The Autotask emulator over real HTTP on loopback, and ``ticket-audit sandbox serve``."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from audit.sandbox._emu_tiny import _ticket, tiny_tenant
from audit.sandbox.emulator import Emulator, FaultPlan, SandboxServer, serve_http
from audit.sandbox.model import SANDBOX_CREDENTIALS as C

HEADERS = {"ApiIntegrationCode": C.integration_code, "UserName": C.username, "Secret": C.secret}
ALL = [{"op": "gte", "field": "id", "value": 0}]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with serve_http(Emulator(tiny_tenant())) as srv:
        yield srv


def test_zone_discovery_and_paging_over_http(server: SandboxServer) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", server.base_url) and server.port > 0
    with httpx.Client(headers=HEADERS, timeout=10) as c:
        zone = c.get(
            server.base_url + "atservicesrest/v1.0/zoneInformation", params={"user": C.username}
        ).json()
        assert zone["url"] == server.zone_url == server.base_url + "ATServicesRest/"
        body = {"MaxRecords": 4, "filter": ALL}
        first = c.post(zone["url"] + "V1.0/Tickets/query", json=body)
        assert first.status_code == 200 and first.headers["content-type"].startswith("application/json")
        next_url = first.json()["pageDetails"]["nextPageUrl"]
        assert next_url.startswith(server.zone_url + "V1.0/Tickets/query/next?paging=")
        second = c.post(next_url, json=body).json()
        assert [i["id"] for i in second["items"]] == [1005, 1006]
        r = c.get(next_url)
        assert r.status_code == 405 and "Message" in r.json()
        assert c.post(next_url).status_code == 500
        assert (
            c.post(server.zone_url + "V1.0/Tickets/query", json=body, headers={"Secret": "x"}).status_code
            == 401
        )
    assert server.emulator.stats.count(kind="next") == 3


def test_keep_alive_reuses_one_connection(server: SandboxServer) -> None:
    with httpx.Client(headers=HEADERS, timeout=10) as c:
        peers = set()
        for _ in range(5):
            r = c.post(server.zone_url + "V1.0/Tickets/query", json={"filter": ALL})
            stream = r.extensions["network_stream"]
            peers.add(stream.get_extra_info("client_addr"))
    assert len(peers) == 1  # same local port: HTTP/1.1 keep-alive


def test_chunked_request_body_over_keep_alive(server: SandboxServer) -> None:
    body = json.dumps({"filter": ALL}).encode()
    with httpx.Client(headers=HEADERS, timeout=10) as c:
        for _ in range(2):  # the second request proves the stream stayed in sync
            r = c.post(server.zone_url + "V1.0/Tickets/query", content=iter([body[:10], body[10:]]))
            assert r.status_code == 200 and r.json()["pageDetails"]["count"] == 6


def test_thread_limit_500_with_concurrent_requests() -> None:
    emu = Emulator(tiny_tenant(), latency=0.8)
    statuses: list[int] = []
    lock = threading.Lock()
    with serve_http(emu) as srv:

        def call() -> None:
            with httpx.Client(headers=HEADERS, timeout=10) as c:
                status = c.post(srv.zone_url + "V1.0/Tickets/query", json={"filter": ALL}).status_code
            with lock:
                statuses.append(status)

        threads = [threading.Thread(target=call) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert statuses.count(200) == 3 and statuses.count(500) == 3  # thread threshold exceeded


def _faulty(kind: str, **kw: Any) -> Emulator:
    return Emulator(tiny_tenant(), faults=FaultPlan(rate=1.0, seed=5, kinds=(kind,), **kw))


def test_http_fault_429_and_500() -> None:
    with serve_http(_faulty("429", retry_after=1)) as srv, httpx.Client(headers=HEADERS, timeout=10) as c:
        rs = [c.post(srv.zone_url + "V1.0/Tickets/query", json={"filter": ALL}) for _ in range(10)]
        assert {r.status_code for r in rs} == {429}
        assert {r.headers.get("retry-after") for r in rs} == {"1", None}
        assert all(r.json()["errors"] for r in rs)
    with serve_http(_faulty("500")) as srv, httpx.Client(headers=HEADERS, timeout=10) as c:
        r = c.post(srv.zone_url + "V1.0/Tickets/query", json={"filter": ALL})
        assert r.status_code == 500 and r.json()["errors"]


def test_http_fault_drop_closes_the_connection() -> None:
    emu = _faulty("drop")
    with serve_http(emu) as srv:
        for _ in range(8):  # both variants: no response at all, and half a body
            with httpx.Client(headers=HEADERS, timeout=10) as c, pytest.raises(httpx.TransportError):
                c.post(srv.zone_url + "V1.0/Tickets/query", json={"filter": ALL})
        # the server survives and, faults off, answers normally
        emu.faults = None
        with httpx.Client(headers=HEADERS, timeout=10) as c:
            assert c.post(srv.zone_url + "V1.0/Tickets/query", json={"filter": ALL}).status_code == 200
    assert emu.stats.faults["drop"] == 8 and emu.request_count() == 1


def test_http_fault_slow_and_truncate() -> None:
    with serve_http(_faulty("slow", slow_seconds=0.3)) as srv, httpx.Client(headers=HEADERS, timeout=10) as c:
        start = time.perf_counter()
        r = c.post(srv.zone_url + "V1.0/Tickets/query", json={"filter": ALL})
        assert r.status_code == 200 and time.perf_counter() - start >= 0.3
        with pytest.raises(httpx.ReadTimeout):
            c.post(srv.zone_url + "V1.0/Tickets/query", json={"filter": ALL}, timeout=0.1)
    with serve_http(_faulty("truncate")) as srv, httpx.Client(headers=HEADERS, timeout=10) as c:
        r = c.post(srv.zone_url + "V1.0/Tickets/query", json={"filter": ALL})
        assert r.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            r.json()


def test_http_faults_deterministic_per_seed() -> None:
    def outcomes(seed: int) -> list[str]:
        emu = Emulator(
            tiny_tenant(), faults=FaultPlan(rate=0.5, seed=seed, kinds=("429", "500", "drop", "truncate"))
        )
        out: list[str] = []
        with serve_http(emu) as srv:
            for i in range(12):
                with httpx.Client(headers=HEADERS, timeout=10) as c:
                    try:
                        r = c.post(
                            srv.zone_url + "V1.0/Tickets/query",
                            json={"filter": [{"op": "gt", "field": "id", "value": i}]},
                        )
                        json.loads(r.content)
                        out.append(str(r.status_code))
                    except (httpx.TransportError, json.JSONDecodeError):
                        out.append("broken")
        return out

    a = outcomes(21)
    assert a == outcomes(21) and a != outcomes(22)
    assert "200" in a and len(set(a)) > 1


def test_serving_pages_every_ticket_once() -> None:
    """Pages of 500 full tickets over loopback give every ticket exactly once (speed: benchmarks/serve.py)."""
    tenant = tiny_tenant()
    tenant.records["Tickets"] = [_ticket(i % 15 + 1, id=i + 1, description="x" * 300) for i in range(2_100)]
    with serve_http(Emulator(tenant)) as srv, httpx.Client(headers=HEADERS, timeout=30) as c:
        body = {
            "MaxRecords": 500,
            "filter": [{"op": "gte", "field": "lastActivityDate", "value": "2026-01-01T00:00:00Z"}],
        }
        page = c.post(srv.zone_url + "V1.0/Tickets/query", json=body).json()
        ids = [t["id"] for t in page["items"]]
        while page["pageDetails"]["nextPageUrl"]:
            page = c.post(page["pageDetails"]["nextPageUrl"], json=body).json()
            ids += [t["id"] for t in page["items"]]
    assert sorted(ids) == list(range(1, 2_101))


# ----------------------------------------------------------------------------- CLI


def test_cli_sandbox_serve_subprocess() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "audit", "sandbox", "serve", "--port", "0", "--tiny"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 20
        env_vars: dict[str, str] = {}
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"(AUTOTASK_[A-Z_]+)=(\S+)", line)
            if m:
                env_vars[m.group(1)] = m.group(2)
            if "Ctrl-C" in line:
                break
        assert {
            "AUTOTASK_ZONE_URL",
            "AUTOTASK_USERNAME",
            "AUTOTASK_SECRET",
            "AUTOTASK_INTEGRATION_CODE",
        } <= set(env_vars), lines
        headers = {
            "ApiIntegrationCode": env_vars["AUTOTASK_INTEGRATION_CODE"],
            "UserName": env_vars["AUTOTASK_USERNAME"],
            "Secret": env_vars["AUTOTASK_SECRET"],
        }
        zone_url = env_vars["AUTOTASK_ZONE_URL"]
        assert zone_url.startswith("http://127.0.0.1:")
        r = httpx.post(zone_url + "V1.0/Tickets/query", json={"filter": ALL}, headers=headers, timeout=10)
        assert r.status_code == 200 and r.json()["pageDetails"]["count"] == 6
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert "Stopped" in out


def test_cli_refuses_non_loopback_host() -> None:
    from click.testing import CliRunner

    from audit.cli import cli

    result = CliRunner().invoke(cli, ["sandbox", "serve", "--host", "0.0.0.0", "--tiny"])
    assert result.exit_code == 2 and "loopback" in result.output


def test_check_loopback() -> None:
    from audit.core.errors import ConfigError
    from audit.sandbox._emu_serve import check_loopback

    assert check_loopback("127.0.0.1") == "127.0.0.1"
    assert check_loopback("::1") == "::1"
    assert check_loopback("localhost") == "127.0.0.1"
    for host in ("0.0.0.0", "10.1.2.3", "example.com"):
        with pytest.raises(ConfigError):
            check_loopback(host)


def test_serve_builds_the_generator_tenant() -> None:
    pytest.importorskip("audit.sandbox.generator")
    from audit.sandbox._emu_serve import build_tenant

    tenant = build_tenant(seed=3, tickets=40, weeks=2, as_of=None)
    emu = Emulator(tenant)
    with httpx.Client(transport=emu.transport(), headers=HEADERS) as c:
        r = c.post(emu.zone_url + "V1.0/Tickets/query/count", json={"filter": ALL})
    assert r.json() == {"queryCount": len(tenant.records["Tickets"])} and len(tenant.records["Tickets"]) >= 40


def test_cli_busy_port_is_a_plain_runtime_error() -> None:
    import socket

    from click.testing import CliRunner

    from audit.cli import cli

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["sandbox", "serve", "--tiny", "--port", str(port)])
    assert result.exit_code == 3, result.output
    assert "internal error" not in result.stderr
    assert f"ticket-audit: error: cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
    assert "--port 0" in result.stderr  # what to do about it
