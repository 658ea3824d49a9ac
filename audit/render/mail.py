"""Mail the report: the PDF (and optionally the QA workbook) over SMTP.

Host, port, TLS, user and sender come from ``[mail]`` in the config; the password only from
the environment variable that ``MailSettings.password_env`` names (never from the config file,
never logged). TLS by default: STARTTLS is required (a server that does not offer it is an
error, never a silent fall-back to clear text), or implicit TLS (SMTPS) with ``implicit_tls``;
a config with a user but without TLS is refused when loaded (``MailSettings``) unless
``allow_plaintext_auth`` says so. Header values (the subject carries the tenant's name) are
reduced to one line.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from audit.core.config import MailSettings
from audit.core.errors import ConfigError, MailError
from audit.core.period import describe_period

__all__ = [
    "MailError",
    "build_message",
    "header_value",
    "mail_each",
    "private_mail_text",
    "send_report",
    "summary_mail_text",
]

log = logging.getLogger(__name__)

_HEADER_BREAKS = re.compile("[\x00-\x1f\x7f\u2028\u2029]")


def summary_mail_text(summary: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, plain-text body) for the weekly mail."""
    tenant = summary.get("tenant", {}).get("name", "")
    period = summary.get("period", {}).get("label", "")
    score = summary.get("score")
    score_text = "n/a" if score is None else f"{score:.1f}"
    subject = f"Ticket audit {period} — {tenant}: {score_text}"
    overall = summary.get("overall", {})
    lines = [
        f"Ticket audit for {tenant}, {describe_period(summary.get('period', {}))}.",
        "",
        f"Overall score {score_text} / 100 over {overall.get('applicable', 0)} checks "
        f"({overall.get('failed', 0)} failed, {overall.get('waived', 0)} waived).",
        "",
        "The scorecards are attached.",
    ]
    return subject, "\n".join(lines) + "\n"


def header_value(text: str) -> str:
    """``text`` fit for one header line: CR, LF and other control characters (a zone or tenant
    name is not ours) become single spaces, so they can neither add a header nor crash the run."""
    return " ".join(_HEADER_BREAKS.sub(" ", text).split())


def build_message(
    settings: MailSettings,
    to: Sequence[str],
    subject: str,
    body: str,
    attachments: Sequence[Path] = (),
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = header_value(settings.sender)
    message["To"] = header_value(", ".join(to))
    message["Subject"] = header_value(subject)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message.set_content(body)
    for path in attachments:
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, _, subtype = mime.partition("/")
        message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return message


def send_report(
    settings: MailSettings,
    to: Sequence[str],
    attachments: Sequence[Path],
    *,
    subject: str,
    body: str,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 60.0,
    environ: Mapping[str, str] | None = None,
) -> EmailMessage:
    """Send one message to ``to`` with ``attachments``; returns the message sent.

    ``ssl_context`` defaults to the system trust store (tests pass one trusting their own
    certificate). Raises :class:`MailError` when delivery fails, :class:`ConfigError` when a user
    is configured but the password variable is not set.
    """
    if not to:
        raise ConfigError("--mail-to: no recipient")
    env = os.environ if environ is None else environ
    password: str | None = None
    if settings.user:
        password = env.get(settings.password_env)
        if not password:
            raise ConfigError(
                f"mail.user is set but the environment variable {settings.password_env} (mail.password_env) is empty"
            )
    message = build_message(settings, to, subject, body, attachments)
    context = ssl_context or ssl.create_default_context()
    try:
        smtp = (
            smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=context)
            if settings.implicit_tls
            else smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        )
        with smtp:
            smtp.ehlo()
            if settings.starttls and not settings.implicit_tls:
                if not smtp.has_extn("starttls"):
                    # Never fall back to clear text: a man in the middle strips the offer.
                    raise MailError(
                        f"{settings.host}:{settings.port} does not offer STARTTLS; use a server "
                        "that does, mail.implicit_tls for SMTPS, or mail.starttls = false"
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.user and password is not None:
                smtp.login(settings.user, password)
            refused = smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        # The exception text may quote the server's reply, never our password.
        raise MailError(
            f"cannot send the report to {', '.join(to)} via {settings.host}:{settings.port}: {exc}"
        ) from exc
    if refused:
        raise MailError(f"the SMTP server refused: {', '.join(sorted(refused))}")
    log.info("report mailed to %d recipient(s) via %s:%s", len(to), settings.host, settings.port)
    return message


def private_mail_text(summary: Mapping[str, Any], technician: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, body) of a technician's private scorecard: their figures only, nobody else's."""
    period = summary.get("period", {}).get("label", "")
    score = technician.get("score")
    compliance = technician.get("ticket_compliance") or {}
    rate = compliance.get("rate")
    subject = f"Your ticket audit scorecard {period}"
    lines = [
        f"Hello {technician.get('name', '')},",
        "",
        f"Your procedure score for {period}: {'n/a' if score is None else f'{score:.1f}'} / 100 over "
        f"{technician.get('applicable', 0)} checks ({technician.get('failed', 0)} failed).",
        f"Tickets that broke no rule: {'n/a' if rate is None else f'{rate:.1f} %'} "
        f"({compliance.get('compliant', 0)} of {compliance.get('tickets', 0)}).",
        "",
        "Your scorecard is attached: your steps beside the team's median, the rules that cost you most and "
        "your tickets to look at. It is sent to you only.",
    ]
    return subject, "\n".join(lines) + "\n"


def mail_each(
    settings: MailSettings,
    summary: Mapping[str, Any],
    files: Mapping[str, Path],
    addresses: Mapping[str, str],
    **send: Any,
) -> list[str]:
    """Mail every technician their own private scorecard (``files``: technician key -> PDF).

    A technician without an address in Resources is skipped with a warning; every technician is
    tried, then one MailError (exit 3) names those the server refused. Returns the addresses sent to.
    """
    people = {str(t.get("key")): t for t in summary.get("technicians", [])}
    sent: list[str] = []
    failed: list[str] = []
    for key, path in sorted(files.items()):
        address = (addresses.get(key) or "").strip()
        technician = people.get(key, {})
        if not address:
            log.warning("no e-mail address in Resources for technician %s: scorecard not mailed", key)
            continue
        subject, body = private_mail_text(summary, technician)
        try:
            send_report(settings, [address], [path], subject=subject, body=body, **send)
        except MailError as exc:
            failed.append(f"{address}: {exc}")
            continue
        sent.append(address)
    if failed:
        raise MailError(f"{len(failed)} private scorecard(s) not sent: " + "; ".join(failed[:5]))
    return sent
