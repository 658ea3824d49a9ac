"""Broken text in an answer over real HTTP on 127.0.0.1: invalid UTF-8 bytes and lone surrogates.

A .NET server can emit a ``\\ud800`` escape for a broken UTF-16 string, and a proxy or a mail
gateway can leave invalid UTF-8 in a title. Either used to fail every nightly extraction (the
parquet writer refuses a lone surrogate; invalid UTF-8 read as "truncated?" after six retries)
until someone edited the ticket. Now the text is decoded with U+FFFD and the row id is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from audit.source.autotask import ALL_ROWS, AutotaskClient, Credentials


def _raw(req: BaseHTTPRequestHandler, body: bytes) -> None:
    req.send_response(200)
    req.send_header("Content-Type", "application/json; charset=utf-8")
    req.send_header("Content-Length", str(len(body)))
    req.end_headers()
    req.wfile.write(body)


PAGE = (
    b'{"items": [{"id": 7, "title": "fine"}, {"id": 8, "title": "BODY"}], '
    b'"pageDetails": {"count": 2, "requestCount": 500, "prevPageUrl": null, "nextPageUrl": null}}'
)


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (b"caf\xe9 \xff\xfe menu", "caf\ufffd \ufffd\ufffd menu"),  # Latin-1 bytes, not UTF-8
        (
            rb"lone \ud800 high, lone \udc80 low, pair \ud83d\ude00",
            "lone \ufffd high, lone \ufffd low, pair \U0001f600",
        ),
    ],
)
def test_broken_text_is_replaced_and_the_row_logged(
    broken: bytes,
    expected: str,
    loopback: Any,
    credentials: Credentials,
    caplog: pytest.LogCaptureFixture,
    reply: Callable[..., None],
) -> None:
    loopback.handler = lambda req, body: _raw(req, PAGE.replace(b"BODY", broken))
    with (
        caplog.at_level(logging.WARNING),
        AutotaskClient(loopback.zone_url, credentials, sleep=lambda _s: None) as client,
    ):
        items = [item for p in client.query("Tickets", ALL_ROWS) for item in p]
    assert [i["title"] for i in items] == ["fine", expected]
    assert loopback.hits == 1  # decoded at once, not retried as a "truncated" body
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Tickets id 8:" in w and "U+FFFD" in w for w in warnings), warnings
    assert not any("id 7" in w for w in warnings)
    # What the store will write: every text encodes as UTF-8.
    for item in items:
        item["title"].encode("utf-8")
