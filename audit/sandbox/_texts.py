"""Text banks of the sandbox tenant: titles, descriptions, notes, summaries.

Compliant texts obey the catalog defaults by construction: customer-visible texts contain no
jargon term as a whole word in any case (but contain look-alikes such as "address", "already",
"download"), structured notes carry every section, and nothing but the designated texts mentions
evidence (the generator still adds an attachment to any ticket whose text does).
Adversarial content (HTML, emoji, formula-looking titles, very long notes) only sits where it
cannot change an outcome.
"""

from __future__ import annotations

import random

__all__ = [
    "FORMULA_TITLES",
    "LONG_LOG",
    "SERVICES",
    "SYMPTOMS",
    "bad_customer_note",
    "bad_summary",
    "customer_note",
    "description",
    "escalation_pack",
    "resolution",
    "retex",
    "summary",
    "worklog",
]

SERVICES = [
    "Outlook",
    "Teams",
    "VPN",
    "Printer",
    "Laptop",
    "SharePoint",
    "ERP",
    "Wi-Fi",
    "Payroll app",
    "File server",
    "Phone system",
    "Backup",
    "Firewall",
    "MFA",
    "OneDrive",
]
SYMPTOMS = [
    "cannot send mail",
    "calls drop after 5 min",
    "no connection",
    "very slow since Monday",
    "error 0x80070005 on start",
    "password expired",
    "access denied on shared folder",
    "screen flickers",
    "sync stuck at 99%",
    "license warning",
    "crashes when opening files",
    "🔥 urgent: nothing works",
    "Bestellung hängt – Fehler ÄÖÜ",
    "«Accès refusé» à l'ouverture",
]
# Formula-looking titles (CSV/Excel injection bait). Only used on non-email tickets (INT-03 n/a).
FORMULA_TITLES = [
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-1",
    "=1+1",
    "\t=cmd",
]

_DESC = [
    "Hello,\n\nsince this morning {svc} shows: {sym}. Three colleagues are affected.\n\nThanks, {who}",
    "<p>Hi team,</p><p><b>{svc}</b> – {sym}.</p><p>Kind regards,<br>{who}</p>",
    '<div style="font-family:Calibri">{svc}: {sym}<br/><br/>Sent from my iPhone</div>',
    "{svc} {sym} 😡😡 please call me back on +33 1 23 45 67 89",
    "User reports {sym} on {svc}. Device name WKS-{n:04d}. Reachable until 18:00.",
    "<table><tr><td>Service</td><td>{svc}</td></tr><tr><td>Issue</td><td>{sym}</td></tr></table>",
]
# A description that mentions evidence only through an HTML tag: the generator gives every ticket
# whose text matches the evidence pattern an attachment, so CLO-04 passes under either reading.
IMG_DESC = '<p>See below</p><img src="http://127.0.0.1:9/x.png"><p>{svc}: {sym}</p>'
EVIDENCE_DESC = "{svc}: {sym}. Screenshot attached, and the error log file is attached too."

# A ~30,000-character internal log paste (no heading-like lines, no jargon, no evidence words).
LONG_LOG = "\n".join(
    f"2026-11-20 09:{i % 60:02d}:{(i * 7) % 60:02d} WARN  worker[{i % 17}] retrying request id={i:06d} after timeout"
    for i in range(420)
)[:30000]


def description(rng: random.Random, svc: str, sym: str, who: str) -> str:
    return rng.choice(_DESC).format(svc=svc, sym=sym, who=who, n=rng.randint(1, 9999))


def _head(rng: random.Random, name: str) -> str:
    """A section heading in one of the accepted spellings: bullet, case, spaces."""
    bullet = rng.choice(["", "", "- ", "* ", "• ", "  "])
    label = rng.choice([name, name, name.lower(), name.upper()])
    return f"{bullet}{label}:"


def _sections(rng: random.Random, parts: list[tuple[str, str]]) -> str:
    lines = []
    for name, body in parts:
        if not body:
            lines.append(_head(rng, name) + rng.choice(["", "  "]))
        elif rng.random() < 0.25:  # content on the next line(s) rather than after the colon
            lines.append(_head(rng, name))
            lines.append(f"  {body}")
        else:
            lines.append(f"{_head(rng, name)} {body}")
    return "\n".join(lines)


_WL = {
    "Symptom": ["{svc} {sym}", "User cannot work: {sym}", "{svc} unavailable for the whole site"],
    "Findings": [
        "cache profile corrupted",
        "certificate expired on the gateway",
        "disk at 98 %",
        "update KB5031 failed half way",
        "mailbox over quota",
        "licence not assigned",
    ],
    "Actions taken": [
        "rebuilt the profile and re-synced",
        "renewed the certificate",
        "cleaned temp folders",
        "re-ran the update",
        "raised the quota",
        "assigned the licence",
    ],
    "Result": [
        "user confirmed it works",
        "service restored",
        "issue no longer reproduced",
        "partial fix, monitoring",
    ],
    "Next step": [
        "none, closing",
        "check again tomorrow",
        "follow up with the user on Friday",
        "monitor for 48 hours",
    ],
}
# Internal-only detail lines: jargon is fine in internal notes (LOG-03 only reads customer notes).
_INTERNAL_DETAIL = [
    "Also checked the GPO and the AD group membership.",
    "Used RDP to reach the host.",
    "Moved the port to the guest VLAN.",
    "Fixed the SMTP relay allow-list.",
]


def worklog(
    rng: random.Random,
    svc: str,
    sym: str,
    *,
    missing: bool = False,
    internal: bool = True,
    long: bool = False,
) -> str:
    """A structured work-log note. ``missing``: one section absent or blank (LOG-02 fails)."""
    parts = [(name, rng.choice(options).format(svc=svc, sym=sym)) for name, options in _WL.items()]
    if long:
        parts[1] = ("Findings", "log excerpt below\n" + LONG_LOG)
    if missing:
        k = rng.randrange(len(parts))
        if rng.random() < 0.5:
            del parts[k]  # the section is absent
        else:
            parts[k] = (parts[k][0], "")  # the heading is there, nothing follows it
    text = _sections(rng, parts)
    if internal and not missing and rng.random() < 0.4:
        text += "\n" + rng.choice(_INTERNAL_DETAIL)
    return text


_CUSTOMER = [
    "Hello, we have applied a fix on our side. Could you please try again and tell us if it works?",
    "Good news: your mailbox quota has been raised and mail flow is back to normal. 👍",
    "We already restored access to the shared folder; please sign out and back in to see it.",
    "Your new laptop is ready. Please download the remaining apps from the company portal.",
    "We updated the e-mail address on your account. You can now log in with the new one.",
    "<p>Bonjour, the printer queue has been cleared and printing works again.</p>",
    "The VPN profile was renewed for you. Please restart the app once and connect again.",
]


def customer_note(rng: random.Random) -> str:
    return rng.choice(_CUSTOMER)


def bad_customer_note(rng: random.Random) -> tuple[str, str]:
    """(title, description) failing LOG-03: too short, or jargon as a whole word."""
    if rng.random() < 0.5:
        return rng.choice(["Update", "", "Info"]), rng.choice(
            ["Fixed, please check.", "done", "Rebooted it. ok?"]
        )
    return "Update", rng.choice(
        [
            "We flushed the cache and re-applied the GPO on your computer, please restart it now.",
            "Your account was unlocked in AD, you can sign in again from your workstation.",
            "We connected over RDP and repaired the application settings for you this morning.",
            "We moved your desk port to another VLAN so the phone can register correctly again.",
            "We edited the registry with regedit to repair the add-in, please reopen the program.",
        ]
    )


def _pack(rng: random.Random, svc: str, sym: str, stamp: str) -> list[tuple[str, str]]:
    return [
        ("Context", f"{svc} {sym}; 14 users impacted since this morning"),
        ("Timestamp", f"first seen {stamp}"),
        (
            "Evidence",
            rng.choice(
                [
                    "screenshot attached",
                    "event export attached to the ticket",
                    "error text copied in the first note",
                ]
            ),
        ),
        ("Actions tried", "restarted the service, cleared the cache, tested from a second device"),
        (
            "Hypothesis",
            rng.choice(
                [
                    "expired certificate on the vendor side",
                    "corrupted profile",
                    "regression from the last update",
                ]
            ),
        ),
        ("Question", "can N2 confirm and open a vendor case if needed?"),
    ]


def escalation_pack(rng: random.Random, svc: str, sym: str, stamp: str, *, missing: bool = False) -> str:
    parts = _pack(rng, svc, sym, stamp)
    if missing:
        del parts[rng.randrange(len(parts))]
    return _sections(rng, parts)


def retex(rng: random.Random, svc: str, *, missing: bool = False) -> str:
    parts = [
        ("Root cause", f"{svc} certificate expired without renewal alert"),
        ("Corrective action", "certificate renewed and service restarted"),
        ("Preventive action", "expiry monitoring added for every customer certificate"),
    ]
    if missing:
        del parts[rng.randrange(len(parts))]
    return _sections(rng, parts)


_RESOLUTIONS = [
    "Profile rebuilt, user confirmed.",
    "Certificate renewed; service restored.",
    "<p>Quota raised.</p>",
    "Licence assigned and mailbox synced.",
    "Replaced the docking station 🙂",
    "Password reset done with identity check.",
    "Vendor patch applied; verified with the customer.",
]


def resolution(rng: random.Random) -> str:
    return rng.choice(_RESOLUTIONS)


_SUMMARIES = [
    "Remote session: rebuilt Outlook profile",
    "Diagnosed printer spooler and cleared queue",
    "Called user, walked through MFA re-registration",
    "Checked mailbox rules and quota settings",
    "Reviewed firewall logs for blocked traffic",
    "Replaced dock, tested both screens",
    "Prepared escalation pack and briefed N2",
    "Applied vendor hotfix, verified service",
]


def summary(rng: random.Random) -> str:
    return rng.choice(_SUMMARIES)


def bad_summary(rng: random.Random) -> str | None:
    """A LOG-06 failure: blank, placeholder (any case/spaces), or shorter than 20 characters."""
    return rng.choice(
        [
            None,
            "",
            "   ",
            "done",
            " Fixed ",
            "OK",
            "see ticket",
            "n/a",
            "Resolved",
            "WORK",
            "update",
            "Rebooted server",
            "call user back",
        ]
    )
