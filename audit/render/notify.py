"""Post the run's headline to a chat channel: a Slack or Microsoft Teams incoming webhook.

The headline is the score, the ticket compliance, the gate's verdict and the three rules that cost
the most points — what a team lead reads in the channel before opening the PDF. A post that fails
is a warning, never a failed audit: the reports are already written.

Payload formats, as each service documents them:

* Slack incoming webhook (docs.slack.dev, "Incoming webhooks"): ``POST`` of
  ``{"text": ..., "blocks": [...]}`` as ``application/json``; ``text`` is the notification's
  fallback when blocks are given. Slack answers ``200`` with the body ``ok``.
* Teams incoming webhook (Microsoft Learn, "Send adaptive cards using an incoming webhook"):
  ``{"type": "message", "attachments": [{"contentType":
  "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": <AdaptiveCard>}]}``,
  the format both Office 365 connector webhooks and Workflows webhooks accept. A connector
  webhook that is rate-limited answers ``200`` with "Microsoft Teams endpoint returned HTTP error
  429" in the body, so the body is read too.

The webhook URL holds its secret in the path: only its host is ever logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from audit.core.errors import ConfigError
from audit.render.markdown import costliest_rules
from audit.results.thresholds import ThresholdResult

__all__ = [
    "FORMATS",
    "WEBHOOK_ENV",
    "headline",
    "post_headline",
    "slack_payload",
    "teams_payload",
    "webhook_format",
]

log = logging.getLogger(__name__)

#: The environment variable read when ``--notify`` is not given.
WEBHOOK_ENV = "TICKET_AUDIT_WEBHOOK"
FORMATS = ("slack", "teams")
_TIMEOUT_SECONDS = 15.0
_TEAMS_HOSTS = (
    "webhook.office.com",
    "outlook.office.com",
    "logic.azure.com",
    "powerplatform.com",
    "office365.com",
)


def webhook_format(url: str, given: str | None = None) -> str:
    """``slack`` or ``teams``: ``given`` when set, else from the URL's host (ConfigError, exit 2,
    when neither says, or the URL is not http(s))."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("--notify: expected an http(s) incoming-webhook URL")
    if given:
        if given not in FORMATS:
            raise ConfigError(f"--notify-format: expected one of {', '.join(FORMATS)}, got {given!r}")
        return given
    host = parts.hostname.lower()
    if host == "hooks.slack.com" or host.endswith(".slack.com"):
        return "slack"
    if any(host == h or host.endswith("." + h) for h in _TEAMS_HOSTS):
        return "teams"
    raise ConfigError(
        f"--notify: cannot tell Slack from Teams by the host {host!r}; add --notify-format slack|teams"
    )


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def headline(summary: Mapping[str, Any], gate: Sequence[ThresholdResult] = ()) -> dict[str, Any]:
    """The facts every format shows: title, score, ticket compliance, gate verdict, top 3 rules."""
    tenant = summary.get("tenant", {}).get("name", "")
    period = summary.get("period", {}).get("label", "")
    overall = summary.get("overall", {})
    compliance = summary.get("ticket_compliance") or {}
    breached = [r for r in gate if not r.passed]
    if breached:
        verdict = f"BREACHED: {len(breached)} of {len(gate)} thresholds missed"
        missed = [r.message for r in breached[:5]]
    elif gate:
        verdict = f"passed: all {len(gate)} thresholds met"
        missed = []
    else:
        verdict = "no thresholds configured"
        missed = []
    rules = [
        f"{rid} {rule.get('title', '')} ({rule.get('cost', 0):.1f} points, {rule['failed']} failed)"
        for rid, rule in costliest_rules(summary, 3)
    ]
    return {
        "title": f"Ticket audit {period} — {tenant}",
        "score": f"{_pct(summary.get('score'))} / 100 over {overall.get('applicable', 0)} checks",
        "compliance": (
            f"{_pct(compliance.get('rate'))} % of tickets broke no rule "
            f"({compliance.get('compliant', 0)} of {compliance.get('tickets', 0)})"
        ),
        "gate": verdict,
        "breached": bool(breached),
        "missed": missed,
        "rules": rules,
    }


def slack_payload(facts: Mapping[str, Any]) -> dict[str, Any]:
    rules = "\n".join(f"• {r}" for r in facts["rules"]) or "No failed rule."
    gate = facts["gate"] + "".join(f"\n• {m}" for m in facts["missed"])
    text = f"{facts['title']}: score {facts['score']}; {facts['compliance']}; gate {facts['gate']}"
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": facts["title"][:150]}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*Score*\n{_slack_escape(facts['score'])}"},
                    {"type": "mrkdwn", "text": f"*Tickets OK*\n{_slack_escape(facts['compliance'])}"},
                ],
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Gate*: {_slack_escape(gate)}"}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*Rules that cost the most*\n{_slack_escape(rules)}"},
            },
        ],
    }


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn control characters (&, <, >) are escaped so tenant text cannot ping or link.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def teams_payload(facts: Mapping[str, Any]) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": facts["title"], "weight": "Bolder", "size": "Medium", "wrap": True},
        {
            "type": "FactSet",
            "facts": [
                {"title": "Score", "value": facts["score"]},
                {"title": "Tickets OK", "value": facts["compliance"]},
                {"title": "Gate", "value": facts["gate"]},
            ],
        },
    ]
    if facts["missed"]:
        body.append(
            {
                "type": "TextBlock",
                "text": "\n".join(f"- {m}" for m in facts["missed"]),
                "wrap": True,
                "color": "Attention",
            }
        )
    body.append({"type": "TextBlock", "text": "Rules that cost the most", "weight": "Bolder", "wrap": True})
    body.append(
        {
            "type": "TextBlock",
            "text": "\n".join(f"- {r}" for r in facts["rules"]) or "No failed rule.",
            "wrap": True,
        }
    )
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.2",
                    "body": body,
                },
            }
        ],
    }


def post_headline(
    url: str,
    summary: Mapping[str, Any],
    gate: Sequence[ThresholdResult] = (),
    *,
    fmt: str | None = None,
    timeout: float = _TIMEOUT_SECONDS,
) -> str | None:
    """Post the headline; returns None on success, else the warning (already logged)."""

    kind = webhook_format(url, fmt)
    facts = headline(summary, gate)
    payload = slack_payload(facts) if kind == "slack" else teams_payload(facts)
    host = urlsplit(url).hostname or "?"
    try:
        response = httpx.post(url, json=payload, timeout=timeout, follow_redirects=False)
        body = response.text[:200]
        if response.status_code >= 300:
            problem = f"HTTP {response.status_code}: {body}"
        elif kind == "teams" and "HTTP error 429" in body:
            problem = f"rate-limited: {body}"
        else:
            problem = None
    except httpx.HTTPError as exc:
        problem = f"{type(exc).__name__}: {exc}".replace(url, host)
    if problem is None:
        log.info("headline posted to the %s webhook at %s", kind, host)
        return None
    warning = f"could not post the headline to the {kind} webhook at {host}: {problem}"
    log.warning("%s", warning)
    return warning
