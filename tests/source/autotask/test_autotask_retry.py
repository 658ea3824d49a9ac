"""Retry policy: what is retried, how long the client waits, and what it reports when it gives up."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from audit.core.errors import ApiError
from audit.source.autotask import ALL_ROWS, AutotaskClient, Credentials, RetryPolicy, ZoneInfo
from audit.source.autotask._answers import parse_retry_after


def make_client(
    fake: Any, zone: ZoneInfo, credentials: Credentials, sleeps: Any, **kw: Any
) -> AutotaskClient:
    return AutotaskClient(zone, credentials, transport=httpx.MockTransport(fake), sleep=sleeps, seed=1, **kw)


def test_429_and_5xx_are_retried_with_bounded_jittered_backoff(
    fake: Any, zone: ZoneInfo, credentials: Credentials, sleeps: Any
) -> None:
    fake.script += [httpx.Response(429), httpx.Response(503), httpx.Response(502), httpx.Response(504)]
    with make_client(fake, zone, credentials, sleeps, backoff_base=0.5, backoff_max=3.0) as client:
        assert client.threshold().remaining == 9876
    assert client.request_count == 5
    assert len(sleeps) == 4
    caps = [0.5, 1.0, 2.0, 3.0]  # base * 2**(n-1), capped at backoff_max
    assert all(0.0 <= s <= cap for s, cap in zip(sleeps, caps, strict=True))


def test_backoff_is_seeded_and_full_jitter() -> None:
    first = RetryPolicy(backoff_base=1.0, backoff_max=100.0, seed=42)
    second = RetryPolicy(backoff_base=1.0, backoff_max=100.0, seed=42)
    a = [first.backoff(n) for n in range(1, 8)]
    assert a == [second.backoff(n) for n in range(1, 8)]
    draws = [RetryPolicy(backoff_base=1.0, backoff_max=8.0, seed=s).backoff(5) for s in range(300)]
    assert max(draws) <= 8.0 and min(draws) >= 0.0
    assert min(draws) < 1.0 and max(draws) > 7.0  # full jitter spans [0, cap], not [cap/2, cap]


def test_retry_after_is_honoured(fake: Any, zone: ZoneInfo, credentials: Credentials, sleeps: Any) -> None:
    fake.script += [
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(503, headers={"Retry-After": "2.5"}),
    ]
    with make_client(fake, zone, credentials, sleeps) as client:
        client.threshold()
    assert sleeps == [7.0, 2.5]


def test_parse_retry_after_forms() -> None:
    now = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("12", now=now) == 12.0
    assert parse_retry_after("Thu, 26 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 26 Nov 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("inf", now=now) is None and parse_retry_after("nan", now=now) is None
    assert RetryPolicy().delay(1, 3600.0) == 3600.0  # honoured as given: the retry budget decides


def test_giving_up_raises_api_error_naming_entity_request_and_status(
    fake: Any, zone: ZoneInfo, credentials: Credentials, sleeps: Any
) -> None:
    fake.script += [httpx.Response(503, text="Service Unavailable")] * 10
    with (
        make_client(fake, zone, credentials, sleeps, max_retries=3) as client,
        pytest.raises(ApiError) as info,
    ):
        list(client.query("Tickets", ALL_ROWS))
    err = info.value
    assert (err.entity, err.request, err.status) == (
        "Tickets",
        "POST /ATServicesRest/V1.0/Tickets/query",
        503,
    )
    text = str(err)
    assert "after 4 attempts" in text and "entity=Tickets" in text and "last status=503" in text
    assert "POST /ATServicesRest/V1.0/Tickets/query" in text and "Service Unavailable" in text
    assert client.request_count == 4 and len(sleeps) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405])
def test_client_errors_are_not_retried(
    status: int, fake: Any, zone: ZoneInfo, credentials: Credentials, sleeps: Any
) -> None:
    fake.script.append(httpx.Response(status, json={"errors": ["nope"]}))
    with make_client(fake, zone, credentials, sleeps) as client, pytest.raises(ApiError) as info:
        client.count("Tickets", ALL_ROWS)
    assert info.value.status == status and client.request_count == 1 and sleeps == []
    assert "nope" in str(info.value)


def test_500_validation_error_is_retried_once_then_reported(
    fake: Any, zone: ZoneInfo, credentials: Credentials, sleeps: Any
) -> None:
    bad = httpx.Response(500, json={"errors": ["Unable to find field 'statuss' in the Ticket entity."]})
    fake.script += [bad, bad, bad]
    with make_client(fake, zone, credentials, sleeps) as client, pytest.raises(ApiError) as info:
        client.count("Tickets", ALL_ROWS)
    assert client.request_count == 2  # one retry, not six: it is deterministic and costs budget
    assert info.value.status == 500
    assert "Unable to find field 'statuss'" in str(info.value) and "validation" in str(info.value)


def test_500_validation_retries_are_configurable(
    fake: Any, zone: ZoneInfo, credentials: Credentials, sleeps: Any
) -> None:
    bad = httpx.Response(500, json={"errors": ["transient?"]})
    fake.script += [bad, bad, bad]
    with make_client(fake, zone, credentials, sleeps, validation_retries=3) as client:
        assert client.count("Tickets", ALL_ROWS) == 1200
    assert client.request_count == 4


def test_500_reading_as_a_server_fault_gets_full_retries(
    fake: Any, zone: ZoneInfo, credentials: Credentials, sleeps: Any
) -> None:
    fault = httpx.Response(500, json={"errors": ["An unexpected error has occurred. Please try again."]})
    fake.script += [fault] * 4
    with make_client(fake, zone, credentials, sleeps) as client:
        assert client.count("Tickets", ALL_ROWS) == 1200
    assert client.request_count == 5


def test_500_without_error_list_is_transient(
    fake: Any, zone: ZoneInfo, credentials: Credentials, sleeps: Any
) -> None:
    fake.script += [httpx.Response(500, text="<html>Runtime Error</html>")] * 4
    with make_client(fake, zone, credentials, sleeps) as client:
        assert client.count("Tickets", ALL_ROWS) == 1200
    assert client.request_count == 5


def test_truncated_json_body_is_retried(
    fake: Any, zone: ZoneInfo, credentials: Credentials, sleeps: Any
) -> None:
    fake.script += [
        httpx.Response(200, content=b'{"items": [{"id": 1}, {"id"'),
        httpx.Response(200, content=b""),
    ]
    with make_client(fake, zone, credentials, sleeps) as client:
        pages = list(client.query("Tickets", ALL_ROWS))
    assert sum(len(p) for p in pages) == 1200
    assert client.request_count == 2 + 3


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadError("connection reset by peer"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("connection refused"),
    ],
)
def test_transport_errors_are_retried(
    exc: Exception, fake: Any, zone: ZoneInfo, credentials: Credentials, sleeps: Any
) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise exc

    fake.script += [boom, boom]
    with make_client(fake, zone, credentials, sleeps) as client:
        assert client.threshold().remaining == 9876
    assert client.request_count == 3 and len(sleeps) == 2


def test_transport_errors_exhausted_name_the_failure(
    zone: ZoneInfo, credentials: Credentials, sleeps: Any
) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset by peer")

    client = AutotaskClient(
        zone, credentials, transport=httpx.MockTransport(boom), sleep=sleeps, max_retries=2
    )
    with client, pytest.raises(ApiError) as info:
        client.entity_fields("TicketNotes")
    assert info.value.status is None and info.value.entity == "TicketNotes"
    assert "ReadError" in str(
        info.value
    ) and "GET /ATServicesRest/V1.0/TicketNotes/entityInformation/fields" in str(info.value)
    assert client.request_count == 3


def test_backoff_sleep_does_not_hold_the_entity_slot(
    fake: Any, zone: ZoneInfo, credentials: Credentials
) -> None:
    # With one slot per entity, a request backing off after a 429 must let another thread through.
    other_done = threading.Event()

    def sleep(_seconds: float) -> None:
        assert other_done.wait(5), "the other request was blocked while this one slept"

    fake.script.append(httpx.Response(429))
    client = AutotaskClient(
        zone, credentials, transport=httpx.MockTransport(fake), sleep=sleep, max_in_flight=1
    )
    with client:
        first = threading.Thread(target=client.threshold)
        first.start()
        while client.request_count < 1:  # the 429 has been received; the thread now sleeps
            threading.Event().wait(0.001)
        client.threshold()
        other_done.set()
        first.join(5)
    assert client.request_count == 3


@pytest.mark.parametrize(
    "message",
    [
        "Thread threshold exceeded (Itgenatr005): the thread threshold of 3 threads for this "
        "integration and the Tickets endpoint has been exceeded.",
        "The request threshold of 10000 requests per 60 minutes has been exceeded.",
        "API thread limit reached for this endpoint.",
    ],
)
def test_throttling_answered_as_500_is_retried_not_reported_as_validation(
    message: str, fake: Any, zone: ZoneInfo, credentials: Credentials, sleeps: Any
) -> None:
    throttled = httpx.Response(500, json={"errors": [message]})
    fake.script += [throttled] * 4  # more than validation_retries allows a validation error
    with make_client(fake, zone, credentials, sleeps) as client:
        assert client.count("Tickets", ALL_ROWS) == 1200
    assert client.request_count == 5 and len(sleeps) == 4


@pytest.mark.parametrize(
    ("status", "message", "variable"),
    [
        (500, "IntegrationCode is invalid.", "AUTOTASK_INTEGRATION_CODE"),
        (500, "Zone information could not be determined for user 'nobody@x'.", "AUTOTASK_USERNAME"),
        (401, "Authorization has been denied for this request.", "AUTOTASK_SECRET"),
    ],
)
def test_refused_credentials_raise_a_credentials_error_at_once(
    status: int, message: str, variable: str, fake: Any, zone: ZoneInfo, credentials: Credentials, sleeps: Any
) -> None:
    from audit.core.errors import CredentialsError

    fake.script.append(httpx.Response(status, json={"errors": [message]}))
    with make_client(fake, zone, credentials, sleeps) as client, pytest.raises(CredentialsError) as info:
        client.threshold()
    assert client.request_count == 1 and sleeps == []  # never retried: it cannot fix itself
    err = info.value
    assert err.variables[0] == variable and err.exit_code == 3 and err.status == status
    assert f"Check {variable}" in str(err) and message.split("'")[0] in str(err)
