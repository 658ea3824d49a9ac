"""Protocol details of the client against a fake Autotask behind httpx.MockTransport."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from audit.core.errors import ApiError, ConfigError
from audit.source.autotask import ALL_ROWS, AutotaskClient, Credentials, FilterError, ZoneInfo, chunk_in, cond


def client_for(
    handler: Callable[[httpx.Request], httpx.Response],
    zone: ZoneInfo | str,
    credentials: Credentials,
    **kw: Any,
) -> AutotaskClient:
    kw.setdefault("sleep", lambda _s: None)
    return AutotaskClient(zone, credentials, transport=httpx.MockTransport(handler), **kw)


def test_query_pages_by_post_to_next_page_url_with_the_same_body(
    fake: Any, zone: ZoneInfo, credentials: Credentials
) -> None:
    with client_for(fake, zone, credentials) as client:
        pages = list(client.query("Tickets", ALL_ROWS, include_fields=["title"]))
    assert [len(p) for p in pages] == [500, 500, 200]
    assert [item["id"] for page in pages for item in page] == list(range(1, 1201))
    assert [r.method for r in fake.requests] == ["POST", "POST", "POST"]
    assert fake.requests[0].url == "https://webservices5.autotask.net/ATServicesRest/V1.0/Tickets/query"
    assert all(r.url.path == "/ATServicesRest/V1.0/Tickets/query/next" for r in fake.requests[1:])
    assert all("paging" in r.url.params for r in fake.requests[1:])
    bodies = fake.bodies()
    assert bodies[0] == {
        "MaxRecords": 500,
        "IncludeFields": ["id", "title"],
        "filter": [{"op": "gte", "field": "id", "value": 0}],
    }
    assert bodies[1] == bodies[0] and bodies[2] == bodies[0]
    assert client.request_count == 3 and client.request_counts() == {"Tickets": 3}


def test_paging_by_get_would_be_405_and_is_not_retried(
    fake: Any, zone: ZoneInfo, credentials: Credentials
) -> None:
    # The fake enforces the real server's rule; the client never pages by GET (test above), and a
    # 405 is reported at once, with the server's message.
    fake.script.append(
        httpx.Response(405, json={"Message": "The requested resource does not support http method 'GET'."})
    )
    with client_for(fake, zone, credentials) as client, pytest.raises(ApiError) as info:
        list(client.query("Tickets", ALL_ROWS))
    assert info.value.status == 405 and len(fake.requests) == 1
    assert "does not support http method" in str(info.value)


def test_auth_headers_and_no_impersonation(fake: Any, zone: ZoneInfo, credentials: Credentials) -> None:
    with client_for(fake, zone, credentials) as client:
        client.count("Tickets", ALL_ROWS)
        client.threshold()
        client.get("Tickets", 3)
    for request in fake.requests:
        assert request.headers["ApiIntegrationCode"] == credentials.integration_code
        assert request.headers["UserName"] == credentials.username
        assert request.headers["Secret"] == credentials.secret
        assert request.headers["Content-Type"] == "application/json"
        assert "ImpersonationResourceId" not in request.headers
        assert "Authorization" not in request.headers


def test_include_fields_never_lists_udfs_and_always_has_id(
    fake: Any, zone: ZoneInfo, credentials: Credentials
) -> None:
    with client_for(fake, zone, credentials) as client:
        pages = list(
            client.query(
                "TicketNotes", ALL_ROWS, include_fields=["title", "userDefinedFields", "TITLE", "id"]
            )
        )
        list(client.query("TicketNotes", ALL_ROWS))  # no IncludeFields at all: every field
    first, second = fake.bodies()
    assert first["IncludeFields"] == ["id", "title"]
    assert "IncludeFields" not in second
    assert set(pages[0][0]) == {"id", "title", "userDefinedFields"}


def test_zone_url_without_trailing_slash_and_lowercase_entity(fake: Any, credentials: Credentials) -> None:
    with client_for(fake, "https://webservices5.autotask.net/ATServicesRest", credentials) as client:
        assert client.count("tickets", [cond("id", "lte", 10)]) == 10
    # known entities are sent with their canonical spelling (the server does not care either way)
    assert fake.requests[0].url.path == "/ATServicesRest/V1.0/Tickets/query/count"
    assert fake.bodies()[0] == {"filter": [{"op": "lte", "field": "id", "value": 10}]}


def test_invalid_filter_raises_before_anything_is_sent(
    fake: Any, zone: ZoneInfo, credentials: Credentials
) -> None:
    with client_for(fake, zone, credentials) as client:
        with pytest.raises(FilterError):
            client.query("Tickets", [{"op": "equals", "field": "status", "value": 5}])  # raised at call time
        with pytest.raises(FilterError):
            client.count("Tickets", [])
        with pytest.raises(FilterError):
            client.query_many("Tickets", [ALL_ROWS, [{"op": "in", "field": "id", "value": []}]])
        with pytest.raises(ValueError, match="max_records"):
            client.query("Tickets", ALL_ROWS, max_records=501)
        with pytest.raises(ValueError, match="entity"):
            client.query("Tickets/../Resources", ALL_ROWS)
    assert fake.requests == []


def test_query_many_over_chunked_in_lists(fake: Any, zone: ZoneInfo, credentials: Credentials) -> None:
    wanted = [*range(1200, 0, -1), 5, 6]  # 1200 unique ids, order and duplicates do not matter
    with client_for(fake, zone, credentials) as client:
        pages = list(client.query_many("Tickets", chunk_in("id", wanted), include_fields=["status"]))
    got = sorted(item["id"] for page in pages for item in page)
    assert got == list(range(1, 1201))
    bodies = fake.bodies()
    assert len(bodies) == 3
    assert sorted(len(b["filter"][0]["value"]) for b in bodies) == [200, 500, 500]
    assert all(b["filter"][0]["op"] == "in" and len(b["filter"][0]["value"]) <= 500 for b in bodies)


def test_query_many_raises_the_first_error_and_stops(
    fake: Any, zone: ZoneInfo, credentials: Credentials
) -> None:
    fake.items["Tickets"] = fake.items["Tickets"][:10]
    fake.script.append(httpx.Response(404, json={"errors": ["boom"]}))
    with (
        client_for(fake, zone, credentials, max_in_flight=1) as client,
        pytest.raises(ApiError, match="boom"),
    ):
        list(client.query_many("Tickets", [[cond("id", "eq", i)] for i in range(1, 6)]))
    assert len(fake.requests) < 5  # the remaining queries were cancelled


def test_query_many_can_be_abandoned(fake: Any, zone: ZoneInfo, credentials: Credentials) -> None:
    with client_for(fake, zone, credentials) as client:
        iterator = client.query_many(
            "Tickets",
            [[cond("id", "gt", 0)], [cond("id", "gt", 100)], [cond("id", "gt", 200)]],
            max_records=10,
        )
        first = next(iterator)
        iterator.close()  # type: ignore[attr-defined]  # returns promptly: workers see the stop flag
    assert len(first) == 10
    assert len(fake.requests) < 30


def test_count_get_fields_udfs_threshold(fake: Any, zone: ZoneInfo, credentials: Credentials) -> None:
    with client_for(fake, zone, credentials) as client:
        assert client.count("Tickets", cond("id", "in", [1, 2, 3, 99999])) == 3
        assert client.get("Tickets", 7) == fake.items["Tickets"][6]
        assert client.get("Tickets", 99999) is None
        assert client.entity_fields("Tickets") == [{"name": "status", "isPickList": True}]
        assert client.entity_udfs("Tickets") == [{"name": "Impact", "isPickList": False}]
        info = client.threshold()
    assert (info.external_request_threshold, info.current_timeframe_request_count, info.remaining) == (
        10000,
        124,
        9876,
    )
    paths = [(r.method, r.url.path) for r in fake.requests]
    assert paths == [
        ("POST", "/ATServicesRest/V1.0/Tickets/query/count"),
        ("GET", "/ATServicesRest/V1.0/Tickets/7"),
        ("GET", "/ATServicesRest/V1.0/Tickets/99999"),
        ("GET", "/ATServicesRest/V1.0/Tickets/entityInformation/fields"),
        ("GET", "/ATServicesRest/V1.0/Tickets/entityInformation/userDefinedFields"),
        ("GET", "/ATServicesRest/V1.0/ThresholdInformation"),
    ]
    assert client.request_counts() == {"Tickets": 5, "ThresholdInformation": 1}


def test_next_page_url_to_a_foreign_host_is_refused(zone: ZoneInfo, credentials: Credentials) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host != "webservices5.autotask.net":
            raise AssertionError("credentials sent to a foreign host")
        return httpx.Response(
            200,
            json={
                "items": [{"id": 1}],
                "pageDetails": {"nextPageUrl": "https://evil.example/V1.0/Tickets/query/next?paging=x"},
            },
        )

    with client_for(handler, zone, credentials) as client, pytest.raises(ApiError, match="another host"):
        list(client.query("Tickets", ALL_ROWS))


def test_from_env_discovers_the_zone_with_auth_headers(
    monkeypatch: pytest.MonkeyPatch, fake: Any, credentials: Credentials
) -> None:
    monkeypatch.setenv("AUTOTASK_USERNAME", credentials.username)
    monkeypatch.setenv("AUTOTASK_SECRET", credentials.secret)
    monkeypatch.setenv("AUTOTASK_INTEGRATION_CODE", credentials.integration_code)
    with AutotaskClient.from_env(transport=httpx.MockTransport(fake), sleep=lambda _s: None) as client:
        assert client.zone.url == "https://webservices5.autotask.net/ATServicesRest/"
        assert (
            client.zone.ticket_url(9)
            == "https://ww5.autotask.net/Mvc/ServiceDesk/TicketDetail.mvc?ticketId=9"
        )
        client.threshold()
    discovery, threshold = fake.requests
    assert discovery.method == "GET"
    assert discovery.url.host == "webservices.autotask.net"
    assert discovery.url.path.lower() == "/atservicesrest/v1.0/zoneinformation"
    assert discovery.url.params["user"] == credentials.username
    assert discovery.headers["Secret"] == credentials.secret  # auth sent there too (unconfirmed need)
    assert threshold.url.host == "webservices5.autotask.net"


def test_from_env_discovery_override_and_zone_url_skip(
    monkeypatch: pytest.MonkeyPatch, fake: Any, credentials: Credentials
) -> None:
    monkeypatch.setenv("AUTOTASK_USERNAME", credentials.username)
    monkeypatch.setenv("AUTOTASK_SECRET", credentials.secret)
    monkeypatch.setenv("AUTOTASK_INTEGRATION_CODE", credentials.integration_code)
    monkeypatch.setenv("AUTOTASK_DISCOVERY_URL", "https://discovery.example.test/")
    AutotaskClient.from_env(transport=httpx.MockTransport(fake)).close()
    assert fake.requests[0].url.host == "discovery.example.test"

    fake.requests.clear()
    monkeypatch.setenv("AUTOTASK_ZONE_URL", "https://webservices7.autotask.net/ATServicesRest")
    with AutotaskClient.from_env(transport=httpx.MockTransport(fake)) as client:
        assert client.zone.api_base == "https://webservices7.autotask.net/ATServicesRest/V1.0/"
        assert client.zone.web_url == "https://ww7.autotask.net/"
    assert fake.requests == []  # no discovery call


def test_from_env_without_credentials_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="AUTOTASK_USERNAME, AUTOTASK_SECRET, AUTOTASK_INTEGRATION_CODE"):
        AutotaskClient.from_env(transport=httpx.MockTransport(lambda r: httpx.Response(500)))


def test_discovery_of_an_unknown_user_is_an_api_error(
    monkeypatch: pytest.MonkeyPatch, credentials: Credentials
) -> None:
    monkeypatch.setenv("AUTOTASK_USERNAME", credentials.username)
    monkeypatch.setenv("AUTOTASK_SECRET", credentials.secret)
    monkeypatch.setenv("AUTOTASK_INTEGRATION_CODE", credentials.integration_code)
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(404, json={"errors": ["user not found"]})

    with pytest.raises(ApiError) as info:
        AutotaskClient.from_env(transport=httpx.MockTransport(handler))
    assert info.value.status == 404 and info.value.entity == "zoneInformation" and calls == [1]


def test_counters_are_thread_safe(fake: Any, zone: ZoneInfo, credentials: Credentials) -> None:
    with client_for(fake, zone, credentials) as client:
        threads = [threading.Thread(target=lambda: [client.threshold() for _ in range(25)]) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert client.request_count == 200 == len(fake.requests)
    assert client.request_counts() == {"ThresholdInformation": 200}


def test_unexpected_answer_shapes_are_api_errors(zone: ZoneInfo, credentials: Credentials) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps({"unexpected": True}).encode())

    with client_for(handler, zone, credentials) as client:
        with pytest.raises(ApiError, match="items"):
            list(client.query("Tickets", ALL_ROWS))
        with pytest.raises(ApiError, match="queryCount"):
            client.count("Tickets", ALL_ROWS)
        with pytest.raises(ApiError, match="fields"):
            client.entity_fields("Tickets")


def test_bad_arguments_are_refused_up_front(zone: ZoneInfo, credentials: Credentials) -> None:
    for kw in ({"max_in_flight": 0}, {"max_retries": -1}, {"timeout": 0}, {"backoff_base": -1.0}):
        with pytest.raises(ValueError):
            AutotaskClient(zone, credentials, **kw)
    with pytest.raises(TypeError):
        AutotaskClient(zone, ("u", "s", "c"))  # type: ignore[arg-type]


def test_max_records_is_sent(fake: Any, zone: ZoneInfo, credentials: Credentials) -> None:
    with client_for(fake, zone, credentials) as client:
        pages = list(client.query("TicketNotes", ALL_ROWS, max_records=7))
    assert [len(p) for p in pages] == [7, 7, 7, 7, 2]
    assert {json.dumps(b, sort_keys=True) for b in fake.bodies()} == {
        json.dumps({"MaxRecords": 7, "filter": [ALL_ROWS.to_api()]}, sort_keys=True)
    }
