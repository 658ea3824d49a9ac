"""Benchmark: the whole rule catalog over synthetic frames at scale.

    python -m benchmarks.engine --tickets 1000000

Frames are generated with vectorised numpy (realistic text lengths: notes of tens to
thousands of characters, some HTML, some structured), at 5 notes, 2 time entries and 0.5
attachments per ticket, 300 technicians and 40 queues. The period covers every row (the worst
case). Prints one JSON line:

* ``frames_s`` — ``build_frames`` (labels, HTML stripping, attachment links);
* ``evaluate_s`` — ``evaluate`` over the bundled catalog;
* ``wall_s`` — frames_s + evaluate_s (target ≤ 60 s at 1,000,000 tickets);
* ``peak_rss_mb`` — peak resident memory of the process (target ≤ 8 GiB);
* ``loop_speedup`` — a straightforward per-ticket pandas loop (``iterrows`` + ``get_group``)
  over the same catalog, timed on a sample and extrapolated, divided by ``evaluate_s``
  (target ≥ 50); ``dict_loop_speedup`` is the same against the catalog over pre-built
  Python dicts (the best a Python loop can do), reported for honesty.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import resource
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from audit.core.config import Config
from audit.core.period import Period
from audit.engine import evaluate, load_ruleset
from audit.engine.frames import Frames, build_frames
from audit.engine.memory import use_system_allocator
from audit.source.records import TIMESTAMP_DTYPE

__all__ = ["generate", "main"]

AS_OF = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
WEEKS = 10

_WORDS = (
    "outlook crash profile mailbox printer vpn laptop restart driver update license password reset "
    "teams share folder permission network switch firewall backup restore server disk cpu memory "
    "customer called confirmed tested working again slow error message screenshot attached log"
).split()
_SECTIONS = ("Symptom", "Findings", "Actions taken", "Result", "Next step")
_ESC = ("Context", "Timestamp", "Evidence", "Actions tried", "Hypothesis", "Question")
_RETEX = ("Root cause", "Corrective action", "Preventive action")


def _pool(rng: np.random.Generator, size: int, mean_words: float, kinds: dict[str, float]) -> list[str]:
    """Distinct texts with log-normal lengths; some HTML, some with sections."""
    out = []
    lengths = np.maximum(1, rng.lognormal(np.log(mean_words), 0.8, size).astype(int))
    choice = rng.choice(list(kinds), size=size, p=list(kinds.values()))
    for n, kind in zip(lengths, choice, strict=True):
        words = " ".join(rng.choice(_WORDS, size=n))
        if kind == "worklog":
            words = "\n".join(
                f"- {h}: {' '.join(rng.choice(_WORDS, size=max(1, n // 5)))}" for h in _SECTIONS
            )
        elif kind == "escalation":
            words = "\n".join(f"{h}: {' '.join(rng.choice(_WORDS, size=max(1, n // 6)))}" for h in _ESC)
        elif kind == "retex":
            words = "\n".join(f"{h}: {' '.join(rng.choice(_WORDS, size=max(1, n // 3)))}" for h in _RETEX)
        elif kind == "html":
            words = "<p>" + words.replace(" customer ", "</p><p>&nbsp;customer ") + "</p>"
        elif kind == "jargon":
            words = words + " flushed DNS and fixed the GPO"
        out.append(words)
    return out


def _strings(pool: list[str], idx: np.ndarray) -> pd.Series:
    return pd.Series(pd.array(pool, dtype="string").take(idx))


def _stamps(base: np.ndarray, offset_s: np.ndarray, null: np.ndarray | None = None) -> pd.Series:
    values = (base + offset_s.astype("int64") * 1_000_000).astype("datetime64[us]")
    series = pd.Series(values).dt.tz_localize("UTC").astype(TIMESTAMP_DTYPE)
    if null is not None:
        series[null] = pd.NaT
    return series


def _ints(values: np.ndarray, null: np.ndarray | None = None) -> pd.Series:
    series = pd.Series(values.astype("int64"), dtype="Int64")
    if null is not None:
        series[null] = pd.NA
    return series


def _picklists(queues: int) -> pd.DataFrame:
    rows: list[tuple[str, str, int, str, int | None]] = []
    add = rows.append
    for v, lbl in (
        (1, "New"),
        (5, "Complete"),
        (8, "In Progress"),
        (7, "Waiting Customer"),
        (11, "Escalate"),
        (12, "Waiting Vendor"),
    ):
        add(("Tickets", "status", v, lbl, None))
    for v, lbl in ((4, "Critical"), (1, "High"), (2, "Medium"), (3, "Low")):
        add(("Tickets", "priority", v, lbl, None))
    for q in range(queues):
        add(("Tickets", "queueID", 100 + q, "N2 - Support" if q == 1 else f"Queue {q:02d}", None))
    for v, lbl in ((4, "Email"), (2, "Phone"), (-1, "Client Portal")):
        add(("Tickets", "source", v, lbl, None))
    for v, lbl in ((1, "Service Request"), (2, "Incident"), (3, "Problem"), (5, "Alert")):
        add(("Tickets", "ticketType", v, lbl, None))
    for i in range(10):
        add(("Tickets", "issueType", 10 + i, f"Issue {i}", None))
        for j in range(5):
            add(("Tickets", "subIssueType", 1000 + 10 * i + j, f"Sub {i}.{j}", 10 + i))
    add(("Tickets", "serviceLevelAgreementID", 1, "Gold", None))
    for v, lbl in ((1, "Task Summary"), (3, "Task Notes"), (13, "Workflow Rule Note")):
        add(("TicketNotes", "noteType", v, lbl, None))
    for v, lbl in ((1, "All Autotask Users"), (2, "Internal Project Team")):
        add(("TicketNotes", "publish", v, lbl, None))
    frame = pd.DataFrame(rows, columns=["entity", "field", "value", "label", "parent_value"])
    frame["parent_value"] = frame["parent_value"].astype("Int64")
    frame["is_active"] = True
    frame["sort_order"] = 0
    return frame


def generate(n: int, seed: int = 7, *, technicians: int = 300, queues: int = 40) -> dict[str, Any]:
    """Typed tables (as the store gives them) for ``n`` tickets."""
    rng = np.random.default_rng(seed)
    start = np.datetime64(AS_OF.replace(tzinfo=None) - timedelta(weeks=WEEKS), "us")
    tid = np.arange(1, n + 1)
    created_off = rng.integers(0, WEEKS * 7 * 86400, n)
    created = _stamps(np.full(n, start), created_off)
    closed = rng.random(n) < 0.7
    done_off = created_off + rng.exponential(86400, n).astype(int) + 600
    status = np.where(closed, 5, rng.choice([1, 8, 7, 11, 12], n))
    issue = rng.integers(0, 10, n)
    sub = 1000 + 10 * issue + rng.integers(0, 5, n)
    sub = np.where(rng.random(n) < 0.02, sub + 10, sub)  # some sub-issues under the wrong issue
    impact = rng.choice(np.array(["High", "Medium", "Low", None], dtype=object), n, p=[0.15, 0.4, 0.4, 0.05])
    urgency = rng.choice(
        np.array(["High", "Medium", " low", None], dtype=object), n, p=[0.15, 0.4, 0.4, 0.05]
    )
    titles = _pool(rng, 3000, 8, {"plain": 1.0})
    titles = [f"Customer {i % 97} - Service {i % 13} - {t}" if i % 10 else t for i, t in enumerate(titles)]
    bodies = _pool(rng, 3000, 60, {"plain": 0.8, "html": 0.15, "jargon": 0.05})
    resolutions = _pool(rng, 2000, 18, {"plain": 0.9, "html": 0.1})
    tickets = pd.DataFrame(
        {
            "id": _ints(tid),
            "ticketNumber": pd.Series([f"T{i:08d}" for i in tid], dtype="string"),
            "title": _strings(titles, rng.integers(0, len(titles), n)),
            "description": _strings(bodies, rng.integers(0, len(bodies), n)),
            "status": _ints(status),
            "priority": _ints(rng.choice([4, 1, 2, 3], n, p=[0.03, 0.12, 0.45, 0.4])),
            "queueID": _ints(100 + rng.integers(0, queues, n), rng.random(n) < 0.01),
            "ticketType": _ints(rng.choice([1, 2, 3, 5], n, p=[0.4, 0.5, 0.05, 0.05])),
            "issueType": _ints(10 + issue, rng.random(n) < 0.02),
            "subIssueType": _ints(sub, rng.random(n) < 0.03),
            "source": _ints(rng.choice([4, 2, -1], n, p=[0.6, 0.3, 0.1])),
            "companyID": _ints(rng.integers(0, 5000, n)),
            "contactID": _ints(rng.integers(0, 50000, n), rng.random(n) < 0.03),
            "assignedResourceID": _ints(rng.integers(1, technicians + 1, n), rng.random(n) < 0.05),
            "completedByResourceID": _ints(rng.integers(1, technicians + 1, n), ~closed),
            "createDate": created,
            "firstResponseDateTime": _stamps(np.full(n, start), created_off + rng.integers(60, 7200, n)),
            "firstResponseDueDateTime": _stamps(np.full(n, start), created_off + 3600),
            "resolvedDateTime": _stamps(np.full(n, start), done_off, ~closed),
            "resolvedDueDateTime": _stamps(np.full(n, start), created_off + 2 * 86400),
            "completedDate": _stamps(np.full(n, start), done_off, ~closed),
            "lastActivityDate": _stamps(np.full(n, start), done_off),
            "lastCustomerNotificationDateTime": _stamps(np.full(n, start), done_off, rng.random(n) < 0.5),
            "resolution": _strings(resolutions, rng.integers(0, len(resolutions), n)),
            "serviceLevelAgreementID": _ints(np.ones(n, dtype=int), rng.random(n) < 0.03),
            "udf:Impact": pd.Series(impact, dtype="string"),
            "udf:Urgency": pd.Series(urgency, dtype="string"),
            "udf:On-call": pd.Series(rng.choice(np.array(["Yes", None], dtype=object), n), dtype="string"),
            "udf:Vendor Case ID": pd.Series(np.where(status == 12, "V-1", ""), dtype="string").replace(
                "", None
            ),
        }
    )
    m = 5 * n
    note_ticket = rng.integers(1, n + 1, m)
    note_pool = _pool(
        rng,
        5000,
        30,
        {"plain": 0.6, "worklog": 0.2, "html": 0.1, "jargon": 0.05, "escalation": 0.03, "retex": 0.02},
    )
    note_titles = ["Work log", "Update", "ESCALATION to N2", "RETEX", "NOTIFIED on-call", "Call"]
    notes = pd.DataFrame(
        {
            "id": _ints(np.arange(1, m + 1)),
            "ticketID": _ints(note_ticket),
            "title": _strings(note_titles, rng.choice(6, m, p=[0.4, 0.35, 0.05, 0.03, 0.02, 0.15])),
            "description": _strings(note_pool, rng.integers(0, len(note_pool), m)),
            "noteType": _ints(rng.choice([1, 3, 13], m, p=[0.3, 0.6, 0.1])),
            "publish": _ints(rng.choice([1, 2], m, p=[0.4, 0.6])),
            "creatorResourceID": _ints(rng.integers(1, technicians + 1, m), rng.random(m) < 0.1),
            "createDateTime": _stamps(
                np.full(m, start), created_off[note_ticket - 1] + rng.integers(0, 4 * 86400, m)
            ),
        }
    )
    k = 2 * n
    te_ticket = rng.integers(1, n + 1, k)
    summaries = [*_pool(rng, 2000, 9, {"plain": 1.0}), "done", "fixed", "see ticket"]
    worked = created_off[te_ticket - 1] + rng.integers(-3600, 3 * 86400, k)
    time_entries = pd.DataFrame(
        {
            "id": _ints(np.arange(1, k + 1)),
            "ticketID": _ints(te_ticket, rng.random(k) < 0.05),
            "resourceID": _ints(rng.integers(1, technicians + 1, k)),
            "dateWorked": _stamps(np.full(k, start), worked - worked % 86400),
            "startDateTime": _stamps(np.full(k, start), worked, rng.random(k) < 0.02),
            "endDateTime": _stamps(np.full(k, start), worked + rng.integers(-600, 7200, k)),
            "summaryNotes": _strings(summaries, rng.integers(0, len(summaries), k)),
            "billingCodeID": _ints(np.ones(k, dtype=int), rng.random(k) < 0.03),
            "createDateTime": _stamps(np.full(k, start), worked),
        }
    )
    a = n // 2
    at_ticket = rng.integers(1, n + 1, a)
    attachments = pd.DataFrame(
        {
            "id": _ints(np.arange(1, a + 1)),
            "parentID": _ints(at_ticket),
            "ticketID": _ints(at_ticket, rng.random(a) < 0.3),
            "title": pd.Series(pd.array(["screenshot.png"] * a, dtype="string")),
            "attachDate": _stamps(np.full(a, start), created_off[at_ticket - 1] + rng.integers(0, 86400, a)),
        }
    )
    resources = pd.DataFrame(
        {
            "id": _ints(np.arange(1, technicians + 1)),
            "firstName": pd.Series([f"Tech{i}" for i in range(1, technicians + 1)], dtype="string"),
            "lastName": pd.Series(["Example"] * technicians, dtype="string"),
        }
    )
    contacts = pd.DataFrame(
        {"id": _ints(np.arange(0, 50000)), "companyID": _ints(rng.integers(0, 5000, 50000))}
    )
    tables = {
        "Tickets": tickets,
        "TicketNotes": notes,
        "TimeEntries": time_entries,
        "TicketAttachments": attachments,
        "Resources": resources,
        "Contacts": contacts,
    }
    return {"tables": tables, "picklists": _picklists(queues)}


# --- the baseline: a straightforward per-ticket Python loop over the same catalog ------------

_SECTION_RX: dict[tuple[str, ...], Any] = {}


def _blank(v: Any) -> bool:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return True
    return not re.sub(r"<[^>]*>", "", str(v)).replace("&nbsp;", " ").strip()


def _has_sections(text: Any, headings: tuple[str, ...]) -> bool:
    if _blank(text):
        return False
    alts = "|".join(re.escape(h) for h in headings)
    found: dict[str, str] = {}
    current = None
    for line in str(text).splitlines():
        m = re.match(rf"^[ \t]*(?:[-*\u2022][ \t]*)?({alts})[ \t]*:(.*)$", line, re.IGNORECASE)
        if m:
            current = m.group(1).lower()
            found[current] = m.group(2)
        elif current is not None:
            found[current] += line
    return all(h.lower() in found and found[h.lower()].strip() for h in headings)


def _loop_ticket(
    t: dict[str, Any],
    notes: list[dict[str, Any]],
    entries: list[dict[str, Any]],
    attachments: list[dict[str, Any]],
    m: Any,
    as_of: pd.Timestamp,
) -> list[bool]:
    """Every catalog rule for one ticket, plainly (the naive implementation the engine replaces)."""
    out: list[bool] = []
    closed = t["status_label"] in m.closed_statuses
    level = m.priority_levels.get(t["priority_label"]) if t["priority_label"] is not None else None
    staff = [
        n
        for n in notes
        if n["creatorResourceID"] is not None and n["noteType_label"] not in m.system_note_types
    ]
    visible = [n for n in staff if n["publish_label"] in m.customer_publish]
    esc = sorted(
        (n for n in staff if str(n["title"] or "").strip().lower().startswith(m.escalation_marker.lower())),
        key=lambda n: (n["createDateTime"], n["id"]),
    )
    retex = sorted(
        (n for n in staff if str(n["title"] or "").strip().lower().startswith(m.retex_marker.lower())),
        key=lambda n: (n["createDateTime"], n["id"]),
    )
    if t["source_label"] in m.email_sources:
        out += [
            not _blank(t["title"]),
            not _blank(t["description"]),
            bool(re.search(m.title_pattern, str(t["title"] or ""))),
            t["queueID"] is not None,
        ]
    impact = str(t.get("udf:Impact") or "").strip().lower()
    urgency = str(t.get("udf:Urgency") or "").strip().lower()
    out += [
        t["companyID"] is not None and t["companyID"] not in m.catch_all_company_ids,
        t["contactID"] is not None,
        t["ticketType_label"] in m.ticket_types,
        t["issueType"] is not None,
        t["subIssueType"] is not None and t["subIssueType_parent"] == t["issueType"],
        impact in {v.lower() for v in m.impact_values},
        urgency in {v.lower() for v in m.urgency_values},
        t["source"] is not None,
    ]
    matrix = {(a.lower(), b.lower()): v for a, row in m.priority_matrix.items() for b, v in row.items()}
    out.append(level == matrix.get((impact, urgency)))
    out += [t["serviceLevelAgreementID"] is not None, t["firstResponseDueDateTime"] is not None]
    for done, due in (
        ("firstResponseDateTime", "firstResponseDueDateTime"),
        ("resolvedDateTime", "resolvedDueDateTime"),
    ):
        if t[due] is not None and (t[done] is not None or t[due] < as_of):
            out.append(t[done] is not None and t[done] <= t[due])
    if level in (1, 2):
        out += [
            t["assignedResourceID"] is not None,
            str(t.get("udf:On-call") or "").strip().lower() in {"yes", "true", "1", "on-call"},
        ]
    if t["status_label"] not in m.new_statuses:
        out += [
            any(n["publish_label"] not in m.customer_publish for n in staff),
            any(_has_sections(n["description"], tuple(m.worklog_sections)) for n in staff),
        ]
    for n in visible:
        text = str(n["description"] or "").strip()
        out.append(
            len(text) >= m.min_customer_note_chars
            and not re.search(
                r"\b(?:" + "|".join(re.escape(j) for j in m.jargon) + r")\b", text, re.IGNORECASE
            )
        )
    for e in entries:
        out += [
            e["startDateTime"] is not None
            and e["endDateTime"] is not None
            and e["endDateTime"] > e["startDateTime"],
            e["billingCodeID"] is not None,
            not _blank(e["summaryNotes"])
            and len(str(e["summaryNotes"]).strip()) >= m.min_summary_chars
            and str(e["summaryNotes"]).strip().lower() not in m.placeholder_summaries,
        ]
        end = (t["completedDate"] if t["completedDate"] is not None else as_of).floor("D")
        out.append(
            e["dateWorked"] is not None
            and t["createDate"] is not None
            and t["createDate"].floor("D") <= e["dateWorked"].floor("D") <= end
        )
    escalated = (
        t["queueID_label"] in m.escalation_queues
        or t["status_label"] in m.escalation_statuses
        or bool(esc)
        or not _blank(t.get("udf:Vendor Case ID"))
    )
    if escalated:
        out.append(bool(esc))
        if esc:
            out += [
                _has_sections(esc[-1]["description"], tuple(m.escalation_sections)),
                all(n["publish_label"] not in m.customer_publish for n in esc),
                t["queueID_label"] in m.escalation_queues or t["assignedResourceID"] in m.n2_resource_ids,
            ]
        first = esc[0]["createDateTime"] if esc else None
        out.append(
            any(
                first is None or (a["attachDate"] is not None and a["attachDate"] <= first)
                for a in attachments
            )
        )
    if closed:
        out += [
            not _blank(t["resolution"]),
            bool(visible) or t["lastCustomerNotificationDateTime"] is not None,
            bool(entries),
        ]
        texts = [t["description"]] + [n["description"] for n in notes]
        if any(re.search(m.evidence_pattern, str(x or "")) for x in texts):
            out.append(bool(attachments))
        if level in (1, 2):
            out.append(bool(retex))
            if retex:
                out += [
                    _has_sections(retex[-1]["description"], tuple(m.retex_sections)),
                    all(n["publish_label"] not in m.customer_publish for n in retex),
                ]
    elif not _blank(t["resolution"]):
        out.append(
            t["lastActivityDate"] is not None
            and t["lastActivityDate"] > as_of - pd.Timedelta(days=m.stale_resolution_days)
        )
    return out


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if v is pd.NA or v is pd.NaT else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def loop_seconds_per_ticket(
    frames: Frames, config: Config, as_of: datetime, *, sample: int
) -> tuple[float, float]:
    """Seconds per ticket of two plain loops over the first ``sample`` tickets:

    * the straightforward pandas loop: ``iterrows()`` over tickets, each ticket's notes, time
      entries and attachments fetched with ``groupby(...).get_group`` (the groupings are built
      once, untimed, which favours the loop), then the catalog in plain Python;
    * the same catalog over pre-materialised dicts (best case for Python: no pandas at all).
    """
    head = frames.tickets.head(sample)
    ids = set(head["id"].astype("int64"))
    children = {
        name: getattr(frames, name)[getattr(frames, name)["ticketID"].isin(ids)]
        for name in ("notes", "time_entries", "attachments")
    }
    groups = {name: frame.groupby("ticketID") for name, frame in children.items()}
    keys = {name: set(g.groups) for name, g in groups.items()}
    stamp = pd.Timestamp(as_of)

    def rows(name: str, tid: int) -> list[dict[str, Any]]:
        return _records(groups[name].get_group(tid)) if tid in keys[name] else []

    start = time.perf_counter()
    for _, row in head.iterrows():
        t = {k: (None if v is pd.NA or v is pd.NaT else v) for k, v in row.items()}
        tid = int(row["id"])
        _loop_ticket(
            t, rows("notes", tid), rows("time_entries", tid), rows("attachments", tid), config.mapping, stamp
        )
    pandas_loop = (time.perf_counter() - start) / max(1, len(head))

    tickets = _records(head)
    grouped: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for name, frame in children.items():
        grouped[name] = {}
        for rec in _records(frame):
            grouped[name].setdefault(rec["ticketID"], []).append(rec)
    start = time.perf_counter()
    for t in tickets:
        tid = t["id"]
        _loop_ticket(
            t,
            grouped["notes"].get(tid, []),
            grouped["time_entries"].get(tid, []),
            grouped["attachments"].get(tid, []),
            config.mapping,
            stamp,
        )
    dict_loop = (time.perf_counter() - start) / max(1, len(tickets))
    return pandas_loop, dict_loop


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--loop-sample", type=int, default=2000)
    parser.add_argument("--timezone", default="UTC", help="the tenant's time zone (config `timezone`)")
    args = parser.parse_args(argv)
    # The system allocator hands freed text buffers back to the OS; mimalloc (pyarrow's
    # default) keeps them, which inflates peak RSS by gigabytes at this scale. The CLI does
    # the same (audit.engine.memory).
    use_system_allocator()
    config = Config.model_validate({"timezone": args.timezone})
    ruleset = load_ruleset(None, config)
    t0 = time.perf_counter()
    data = generate(args.tickets, args.seed)
    gen_s = time.perf_counter() - t0
    rss_generated = _peak_rss_mb()
    t1 = time.perf_counter()
    frames: Frames = build_frames(
        data["tables"],
        data["picklists"],
        None,
        config,
        web_url="https://ww1.example/",
        tenant_name="bench",
        consume=True,
    )
    del data
    gc.collect()
    frames_s = time.perf_counter() - t1
    rss_frames = _peak_rss_mb()
    period = Period(date(2026, 9, 1), date(2026, 11, 30), args.timezone)
    t2 = time.perf_counter()
    evaluation = evaluate(frames, ruleset, config, period=period, as_of=AS_OF)
    evaluate_s = time.perf_counter() - t2
    rss_evaluated = _peak_rss_mb()
    pandas_loop, dict_loop = loop_seconds_per_ticket(
        frames, config, AS_OF, sample=min(args.loop_sample, args.tickets)
    )
    loop_s = pandas_loop * args.tickets
    dict_loop_s = dict_loop * args.tickets
    errors = sorted(r for r, s in evaluation.rules.items() if s.status == "error")
    result = {
        "benchmark": "engine",
        "tickets": args.tickets,
        "timezone": args.timezone,
        "notes": len(frames.notes),
        "time_entries": len(frames.time_entries),
        "attachments": len(frames.attachments),
        "technicians": len(frames.resources),
        "queues": int(frames.tickets["queueID"].nunique()),
        "rules": len(ruleset.rules),
        "rule_errors": errors,
        "findings": len(evaluation.findings),
        "checks": int(evaluation.tallies["applicable"].sum()),
        "generate_s": round(gen_s, 2),
        "frames_s": round(frames_s, 2),
        "evaluate_s": round(evaluate_s, 2),
        "wall_s": round(frames_s + evaluate_s, 2),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "peak_rss_after_generate_mb": round(rss_generated, 1),
        "peak_rss_after_frames_mb": round(rss_frames, 1),
        "peak_rss_after_evaluate_mb": round(rss_evaluated, 1),
        "loop_s_extrapolated": round(loop_s, 1),
        "loop_speedup": round(loop_s / evaluate_s, 1) if evaluate_s else None,
        "dict_loop_s_extrapolated": round(dict_loop_s, 1),
        "dict_loop_speedup": round(dict_loop_s / evaluate_s, 1) if evaluate_s else None,
    }
    print(json.dumps(result, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
