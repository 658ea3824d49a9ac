"""Mailing the report through a real SMTP server (aiosmtpd) on loopback: TLS by default, the
password never in clear text, header values that cannot be injected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.core.config import MailSettings, load_config
from audit.core.errors import ConfigError
from audit.render.mail import MailError, send_report
from tests.smtp_support import PASSWORD, USER, Sink, free_port, needs_openssl, smtp_server, tls_contexts


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    """A server without TLS that accepts AUTH over clear text (as a careless relay does)."""
    with smtp_server(auth_require_tls=False) as served:
        yield served


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "scorecards.pdf"
    path.write_bytes(b"%PDF-1.7\n% test\n")
    return path


def _plain(port: int, **settings: object) -> MailSettings:
    return MailSettings(host="127.0.0.1", port=port, starttls=False, **settings)  # type: ignore[arg-type]


def test_delivery_with_login_when_plaintext_auth_is_allowed(smtp: tuple[Sink, int], pdf: Path) -> None:
    sink, port = smtp
    settings = _plain(port, user=USER, sender="audit@example.test", allow_plaintext_auth=True)
    send_report(
        settings,
        ["manager@example.test", "qa@example.test"],
        [pdf],
        subject="Weekly",
        body="See PDF",
        environ={settings.password_env: PASSWORD},
        timeout=10,
    )
    assert len(sink.messages) == 1
    rcpts, message = sink.messages[0]
    assert rcpts == ["manager@example.test", "qa@example.test"]
    assert message["Subject"] == "Weekly" and message["From"] == "audit@example.test"
    parts = [p for p in message.walk() if p.get_filename() == "scorecards.pdf"]
    assert parts and parts[0].get_content_type() == "application/pdf"
    assert parts[0].get_payload(decode=True) == pdf.read_bytes()
    assert sink.auth_attempts == [False]


def test_tls_is_the_default_and_a_server_without_it_gets_no_password(
    smtp: tuple[Sink, int], pdf: Path
) -> None:
    sink, port = smtp
    settings = MailSettings(host="127.0.0.1", port=port, user=USER)
    assert settings.starttls and not settings.allow_plaintext_auth
    with pytest.raises(MailError, match="does not offer STARTTLS"):
        send_report(
            settings,
            ["m@example.test"],
            [pdf],
            subject="s",
            body="b",
            environ={settings.password_env: PASSWORD},
            timeout=10,
        )
    assert sink.auth_attempts == [] and sink.messages == []


def test_a_config_sending_the_password_in_clear_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ticket-audit.toml"
    path.write_text(
        '[mail]\nhost = "smtp.example.test"\nuser = "audit"\nstarttls = false\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="clear text") as info:
        load_config(path)
    assert info.value.exit_code == 2 and str(path) in str(info.value)
    path.write_text(
        '[mail]\nuser = "audit"\nstarttls = false\nallow_plaintext_auth = true\n', encoding="utf-8"
    )
    assert load_config(path).mail.allow_plaintext_auth


def test_header_values_cannot_be_injected(smtp: tuple[Sink, int], pdf: Path) -> None:
    sink, port = smtp
    settings = _plain(port, sender="audit@example.test\r\nBcc: thief@example.test")
    send_report(
        settings,
        ["m@example.test"],
        [pdf],
        subject="Audit — Zone\r\nBcc: thief@example.test\x00",
        body="b",
        environ={},
        timeout=10,
    )
    rcpts, message = sink.messages[0]
    assert rcpts == ["m@example.test"]
    assert message["Bcc"] is None
    assert message["Subject"] == "Audit — Zone Bcc: thief@example.test"


def test_wrong_password_is_a_mail_error(smtp: tuple[Sink, int], pdf: Path) -> None:
    _, port = smtp
    settings = _plain(port, user=USER, allow_plaintext_auth=True)
    with pytest.raises(MailError) as info:
        send_report(
            settings,
            ["m@example.test"],
            [pdf],
            subject="s",
            body="b",
            environ={settings.password_env: "wrong"},
            timeout=10,
        )
    assert "wrong" not in str(info.value)


def test_missing_password_is_a_config_error(pdf: Path) -> None:
    settings = MailSettings(host="127.0.0.1", port=1, user=USER)
    with pytest.raises(ConfigError, match=settings.password_env):
        send_report(settings, ["m@example.test"], [pdf], subject="s", body="b", environ={})


def test_unreachable_server(pdf: Path) -> None:
    settings = MailSettings(host="127.0.0.1", port=free_port())
    with pytest.raises(MailError):
        send_report(settings, ["m@example.test"], [pdf], subject="s", body="b", environ={}, timeout=5)


@needs_openssl
def test_starttls(tmp_path: Path, pdf: Path) -> None:
    server_ctx, client_ctx = tls_contexts(tmp_path)
    with smtp_server(tls_context=server_ctx, require_starttls=True) as (sink, port):
        settings = MailSettings(host="127.0.0.1", port=port, user=USER)
        send_report(
            settings,
            ["m@example.test"],
            [pdf],
            subject="tls",
            body="b",
            environ={settings.password_env: PASSWORD},
            ssl_context=client_ctx,
            timeout=10,
        )
    assert [m["Subject"] for _, m in sink.messages] == ["tls"]
    assert sink.auth_attempts == [True]


@needs_openssl
def test_implicit_tls(tmp_path: Path, pdf: Path) -> None:
    server_ctx, client_ctx = tls_contexts(tmp_path)
    with smtp_server(ssl_context=server_ctx, auth_require_tls=False) as (sink, port):  # TLS from the start
        settings = MailSettings(host="127.0.0.1", port=port, user=USER, implicit_tls=True)
        send_report(
            settings,
            ["m@example.test"],
            [pdf],
            subject="smtps",
            body="b",
            environ={settings.password_env: PASSWORD},
            ssl_context=client_ctx,
            timeout=10,
        )
    assert [m["Subject"] for _, m in sink.messages] == ["smtps"]
    assert sink.auth_attempts == [True]
