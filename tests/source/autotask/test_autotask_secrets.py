"""Secrets never reach a log line, an exception text or a repr."""

from __future__ import annotations

import logging
import traceback
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from audit.core.errors import ApiError
from audit.source.autotask import ALL_ROWS, AutotaskClient, Credentials


def forms(credentials: Credentials) -> list[str]:
    raw = [credentials.username, credentials.secret, credentials.integration_code]
    return raw + [quote(v, safe="") for v in raw]


def test_no_secret_in_logs_errors_or_reprs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, fake: Any, credentials: Credentials
) -> None:
    monkeypatch.setenv("AUTOTASK_USERNAME", credentials.username)
    monkeypatch.setenv("AUTOTASK_SECRET", credentials.secret)
    monkeypatch.setenv("AUTOTASK_INTEGRATION_CODE", credentials.integration_code)
    # A server that echoes the credentials back in its error (some proxies and ASP.NET pages do).
    echo = f"invalid Secret {credentials.secret} for {credentials.username} / {credentials.integration_code}"
    fake.script += [
        httpx.Response(429, json={"errors": [echo]}),  # during discovery: retried, logged
        lambda request: (_ for _ in ()).throw(httpx.ReadError(f"reset while sending {credentials.secret}")),
    ]
    caplog.set_level(logging.DEBUG)  # everything: our logger, httpx's, httpcore's
    errors: list[ApiError] = []
    with AutotaskClient.from_env(transport=httpx.MockTransport(fake), sleep=lambda _s: None) as client:
        list(client.query("Tickets", ALL_ROWS))
        fake.script += [
            httpx.Response(401, json={"errors": [echo]}),  # count: not retried
            *[httpx.Response(500, json={"errors": [echo]})] * 2,  # threshold: validation, one retry
            *[httpx.Response(503, text=echo)] * 7,  # get: exhausted
        ]
        for call in (
            lambda: client.count("Tickets", ALL_ROWS),
            lambda: client.threshold(),
            lambda: client.get("Tickets", 1),
        ):
            with pytest.raises(ApiError) as info:
                call()
            errors.append(info.value)
        texts = [repr(client), str(client), repr(client.zone)]

    assert any(r.name == "audit.source.autotask" and r.levelno == logging.DEBUG for r in caplog.records)
    assert any(r.name == "httpx" for r in caplog.records)  # httpx logs URLs (discovery has ?user=)
    logged = [caplog.text, *(r.getMessage() for r in caplog.records)]
    for err in errors:
        texts += [str(err), repr(err), str(err.args), str(err.request)]
    assert any("***" in t for t in texts)  # the echoed values were masked, not dropped silently
    for text in logged + texts:
        for secret in forms(credentials):
            assert secret not in text, f"secret leaked into: {text[:200]}"
    for record in caplog.records:  # header values are never formatted, even redacted
        assert "ApiIntegrationCode" not in record.getMessage()


def test_debug_line_per_request_has_method_path_status_duration_attempt(
    caplog: pytest.LogCaptureFixture, fake: Any, zone: Any, credentials: Credentials
) -> None:
    fake.script.append(httpx.Response(503))
    caplog.set_level(logging.DEBUG, logger="audit.source.autotask")
    with AutotaskClient(
        zone, credentials, transport=httpx.MockTransport(fake), sleep=lambda _s: None
    ) as client:
        client.threshold()
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "audit.source.autotask" and r.levelno == logging.DEBUG
    ]
    assert len(lines) == 2
    assert lines[0].startswith("GET /ATServicesRest/V1.0/ThresholdInformation -> 503 in ")
    assert lines[0].endswith("(attempt 1/7)") and lines[1].endswith("(attempt 2/7)")
    assert " -> 200 in " in lines[1]


def test_traceback_of_a_failed_request_shows_no_secret(zone: Any, credentials: Credentials) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError(f"reset by proxy after header Secret: {credentials.secret}")

    client = AutotaskClient(
        zone, credentials, transport=httpx.MockTransport(boom), sleep=lambda _s: None, max_retries=1
    )
    with client, pytest.raises(ApiError) as info:
        client.threshold()
    rendered = "".join(traceback.format_exception(info.value))
    assert "ReadError" in rendered and "***" in rendered
    for secret in forms(credentials):
        assert secret not in rendered
