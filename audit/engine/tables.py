"""The output tables of an evaluation — findings, tallies and ticket checks: their columns and
their assembly from the per-rule arrays ``evaluate`` collects.

Labels (rule, technician, queue, week, message) are categoricals built from integer codes, so
millions of rows never hold millions of Python strings; ids are nullable ``Int64``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.engine.frames import Frames, ticket_url_base
from audit.engine.model import RuleSet, RuleStatus

__all__ = [
    "FINDING_COLUMNS",
    "NO_QUEUE",
    "TALLY_COLUMNS",
    "TALLY_KEYS",
    "TICKET_CHECK_COLUMNS",
    "Columns",
    "UNASSIGNED",
    "TicketCoverage",
    "finish_findings",
    "finish_tallies",
]

FINDING_COLUMNS = (
    "rule_id",
    "rule_name",
    "step",
    "severity",
    "weight",
    "ticket_id",
    "ticket_number",
    "row_kind",
    "row_id",
    "technician_id",
    "technician",
    "queue_id",
    "queue",
    "anchor_date",
    "week",
    "message",
    "waived",
    "ticket_url",
)
#: What a tally row counts checks by; :data:`TALLY_COLUMNS` adds the counts.
TALLY_KEYS = (
    "rule_id",
    "step",
    "severity",
    "weight",
    "technician_id",
    "technician",
    "queue_id",
    "queue",
    "week",
)
TALLY_COLUMNS = (*TALLY_KEYS, "applicable", "passed", "failed")
#: One row per (ticket, technician, step, week) with at least one applicable check: the
#: denominator of ticket compliance (tallies count checks, not tickets).
TICKET_CHECK_COLUMNS = ("ticket_id", "technician_id", "queue_id", "step", "week")
#: The scorecard row that carries checks of unassigned tickets (charged to the queue only).
UNASSIGNED = "Unassigned"
#: The queue row of tickets without a queue: the engine's name for them in findings.csv, so a
#: reviewer filtering the workbook finds the PDF's row.
NO_QUEUE = "No queue"


def _ids(series: pd.Series) -> np.ndarray:
    ids: np.ndarray = series.astype("Int64").to_numpy(dtype="int64", na_value=-1)
    return ids


#: Owner kinds whose technician is the ticket's (one per ticket), not the row's.
_TICKET_OWNERS = ("assigned", "completed_by")


def _resource_names(frames: Frames) -> dict[int, str]:
    res = frames.resources
    if res is None or res.empty:
        return {}
    first = res["firstName"].astype("string").fillna("").str.strip()
    last = res["lastName"].astype("string").fillna("").str.strip()
    name = (first + " " + last).str.strip()
    name = name.where(name != "", res["userName"].astype("string").fillna(""))
    return {int(i): str(n) for i, n in zip(_ids(res["id"]), name, strict=True) if i >= 0 and n}


def _queue_names(frames: Frames) -> dict[int, str]:
    t = frames.tickets
    pairs = pd.DataFrame({"q": _ids(t["queueID"]), "label": t["queueID_label"].astype("string")})
    pairs = pairs[(pairs["q"] >= 0) & pairs["label"].notna()].drop_duplicates("q")
    return {int(q): str(lbl) for q, lbl in zip(pairs["q"], pairs["label"], strict=True)}


def _labels(codes: np.ndarray, labels: list[str] | np.ndarray) -> pd.Categorical:
    """Per-row labels as a categorical built from integer codes: millions of findings or
    tally rows never become millions of Python strings."""
    # Factorised as Python objects: a numpy "U" array would be as wide as the longest label for
    # every row (a million ticket titles, one of them long, would cost gigabytes).
    values = np.empty(len(labels), dtype=object)
    values[:] = [str(label) for label in labels]
    inverse, uniq = pd.factorize(values, sort=True)
    return pd.Categorical.from_codes(inverse[codes], categories=pd.Index(uniq, dtype=object))


def _name(values: np.ndarray, names: dict[int, str], none: str, unknown: str) -> pd.Categorical:
    inverse, uniq = pd.factorize(values, sort=True)
    labels = [none if i < 0 else names.get(int(i), f"{unknown} {int(i)}") for i in uniq]
    return _labels(inverse, labels)


def _nullable(values: np.ndarray) -> pd.arrays.IntegerArray:
    """int64 ids with -1 for none -> nullable Int64 (sharing the values)."""
    values = np.asarray(values, dtype="int64")
    return pd.arrays.IntegerArray(values, values < 0)


#: One table's columns as plain arrays: collected per rule, concatenated once at the end.
Columns = dict[str, np.ndarray]


def _ticket_tech_key(pos: np.ndarray, tech: np.ndarray) -> np.ndarray:
    """(ticket position, technician id) packed in one int64: position in the high 32 bits, the id
    (an Autotask int32; -1 for none) in the low 32, so the union of many rules' keys is one sort."""
    return (pos.astype("int64") << 32) | (tech.astype("int64") & 0xFFFFFFFF)


class TicketCoverage:
    """The distinct (ticket, technician) keys with an applicable check, per (step, week).

    When the owner is the ticket's (``assigned``, ``completed_by``) the technician follows from
    the ticket, so a rule only marks its tickets in one boolean per ticket and (step, owner,
    week): no sort per rule. Owners of the row (``entry``, ``author``) keep packed keys; those
    parts are merged (``np.unique``) once they hold more keys than the last merge left, so memory
    stays near the distinct count.
    """

    def __init__(self, tickets: int) -> None:
        self.tickets = tickets
        self.parts: dict[tuple[str, int], list[np.ndarray]] = {}
        self.sizes: dict[tuple[str, int], tuple[int, int]] = {}  # (pending keys, keys after last merge)
        self.marked: dict[tuple[str, int], dict[str, np.ndarray]] = {}  # slot -> owner -> ticket mask
        self.owners: dict[str, np.ndarray] = {}  # ticket owner kind -> technician id per ticket

    def add(self, step: str, owner: str, coverage: Columns) -> None:
        week, pos, tech = coverage["week"], coverage["pos"], coverage["tech"]
        if not len(week):
            return
        by_ticket = owner in _TICKET_OWNERS
        if by_ticket:
            techs = self.owners.setdefault(owner, np.full(self.tickets, -1, dtype="int64"))
            techs[pos] = tech  # the same id for a ticket in every rule of this owner kind
        else:
            key = _ticket_tech_key(pos, tech)
        # The weeks present (a handful of yyyyww codes): counted, not sorted — this runs per rule
        # over every applicable row.
        low = int(week.min())
        codes = np.flatnonzero(np.bincount(week - low)) + low
        for code in codes:
            rows = (week == code) if len(codes) > 1 else slice(None)
            slot = (step, int(code))
            if by_ticket:
                marks = self.marked.setdefault(slot, {})
                if owner not in marks:
                    marks[owner] = np.zeros(self.tickets, dtype=bool)
                marks[owner][pos[rows]] = True
                continue
            part = key[rows]
            parts = self.parts.setdefault(slot, [])
            parts.append(part)
            pending, merged = self.sizes.get(slot, (0, 0))
            pending += len(part)
            if pending > max(merged, 1 << 16):
                self.parts[slot] = [np.unique(np.concatenate(parts))]
                merged, pending = len(self.parts[slot][0]), 0
            self.sizes[slot] = (pending, merged)

    def _slot_keys(self, slot: tuple[str, int]) -> np.ndarray:
        """The sorted distinct keys of one (step, week)."""
        chunks = list(self.parts.get(slot, []))
        for owner, mask in sorted(self.marked.get(slot, {}).items()):
            pos = np.flatnonzero(mask)
            chunks.append(_ticket_tech_key(pos, self.owners[owner][pos]))  # sorted: one key per ticket
        if len(chunks) == 1 and slot not in self.parts:
            return chunks[0]
        return np.unique(np.concatenate(chunks))

    def frame(self, frames: Frames) -> pd.DataFrame:
        keys: list[np.ndarray] = []
        steps: list[np.ndarray] = []
        weeks: list[np.ndarray] = []
        for step, code in sorted(set(self.parts) | set(self.marked)):
            unique = self._slot_keys((step, code))
            keys.append(unique)
            steps.append(np.full(len(unique), step, dtype=object))
            weeks.append(np.full(len(unique), code, dtype="int64"))
        if not keys:
            dtypes = {"ticket_id": "Int64", "technician_id": "Int64", "queue_id": "Int64"}
            return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "object")) for c in TICKET_CHECK_COLUMNS})
        key = np.concatenate(keys)
        pos = key >> 32
        tech = (key & 0xFFFFFFFF).astype("uint32").astype("int32").astype("int64")
        tickets = frames.tickets
        ticket_ids = _ids(tickets["id"])[pos]
        queue_ids = _ids(tickets["queueID"])[pos]
        step_values = np.concatenate(steps)
        step_codes, step_uniq = pd.factorize(step_values, sort=True)
        return pd.DataFrame(
            {
                "ticket_id": _nullable(ticket_ids),
                "technician_id": _nullable(tech),
                "queue_id": _nullable(queue_ids),
                "step": _labels(step_codes, list(step_uniq)),
                "week": _week_labels(np.concatenate(weeks)),
            }
        )


def _rule_columns(order: np.ndarray, ruleset: RuleSet, statuses: dict[str, RuleStatus]) -> dict[str, object]:
    rules = ruleset.rules
    return {
        "rule_id": _labels(order, [r.id for r in rules]),
        "rule_name": _labels(order, [r.spec.name for r in rules]),
        "step": _labels(order, [r.step for r in rules]),
        "severity": _labels(order, [statuses[r.id].severity for r in rules]),
        "weight": np.array([statuses[r.id].weight for r in rules], dtype="float64")[order],
    }


def _week_labels(codes: np.ndarray) -> pd.Categorical:
    inverse, uniq = pd.factorize(codes, sort=True)
    return _labels(inverse, [f"{c // 100}-W{c % 100:02d}" for c in uniq])


def _concat(parts: list[Columns]) -> Columns:
    """Concatenate column by column, releasing each part's column as it goes."""
    out: Columns = {}
    for key in list(parts[0]):
        out[key] = np.concatenate([p.pop(key) for p in parts])
    return out


def finish_findings(
    parts: list[Columns], ruleset: RuleSet, statuses: dict[str, RuleStatus], frames: Frames
) -> pd.DataFrame:
    parts = [p for p in parts if len(p["order"])]
    if not parts:
        return _empty_findings()
    # Each part's message codes index its own distinct texts: shifted onto their concatenation.
    texts: list[np.ndarray] = []
    for part in parts:
        part["message"] = part["message"] + sum(len(t) for t in texts)
        texts.append(part.pop("message_texts"))
    # Parts come in rule order, each sorted by (ticket, row) in _rule_frames: no global sort.
    data = _concat(parts)
    order = data["order"]
    columns: dict[str, object] = _rule_columns(order, ruleset, statuses)
    # One label per failing ticket, not per finding: categoricals keep millions of findings
    # from holding millions of copies of the same URL and ticket number.
    inverse, uniq = pd.factorize(data["ticket_pos"], sort=True)
    numbers = frames.tickets["ticketNumber"].astype("string").array.take(uniq, allow_fill=True)
    ticket_ids = frames.tickets["id"].astype("Int64").array.take(uniq, allow_fill=True)
    base = ticket_url_base(frames.web_url)
    columns.update(
        {
            "ticket_id": _nullable(data["ticket_id"]),
            "ticket_number": _labels(inverse, ["" if pd.isna(x) else str(x) for x in numbers]),
            "row_kind": _labels(order, [r.row_kind for r in ruleset.rules]),
            "row_id": _nullable(data["row_id"]),
            "technician_id": _nullable(data["technician_id"]),
            "technician": _name(data["technician_id"], _resource_names(frames), UNASSIGNED, "Resource"),
            "queue_id": _nullable(data["queue_id"]),
            "queue": _name(data["queue_id"], _queue_names(frames), NO_QUEUE, "Queue"),
            "anchor_date": pd.Series(data["anchor_date"].view("datetime64[us]")).dt.tz_localize("UTC"),
            "week": _week_labels(data["week"]),
            "message": _message_labels(data["message"], np.concatenate(texts)),
            "waived": np.zeros(len(order), dtype=bool),
            "ticket_url": _labels(
                inverse, [f"{base}{t}" if base and not pd.isna(t) else "" for t in ticket_ids]
            ),
        }
    )
    return pd.DataFrame({c: columns[c] for c in FINDING_COLUMNS})


def _message_labels(codes: np.ndarray, texts: np.ndarray) -> pd.Categorical:
    """Messages as the categorical of their values (sorted categories), from codes into ``texts``
    (which may repeat a text)."""
    distinct = pd.Categorical(texts)
    return pd.Categorical.from_codes(distinct.codes[codes], dtype=distinct.dtype)


def _empty_findings() -> pd.DataFrame:
    dtypes = {
        "weight": "float64",
        "ticket_id": "Int64",
        "row_id": "Int64",
        "technician_id": "Int64",
        "queue_id": "Int64",
        "anchor_date": "datetime64[us, UTC]",
        "waived": "bool",
    }
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "object")) for c in FINDING_COLUMNS})


def finish_tallies(
    parts: list[Columns], ruleset: RuleSet, statuses: dict[str, RuleStatus], frames: Frames
) -> pd.DataFrame:
    parts = [p for p in parts if len(p["order"])]
    if not parts:
        dtypes = {
            "weight": "float64",
            "technician_id": "Int64",
            "queue_id": "Int64",
            "applicable": "int64",
            "passed": "int64",
            "failed": "int64",
        }
        return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "object")) for c in TALLY_COLUMNS})
    # Each part is one rule's rows, already sorted by (technician, queue, week) by _tally.
    data = _concat(parts)
    columns: dict[str, object] = _rule_columns(data["order"], ruleset, statuses)
    columns.update(
        {
            "technician_id": _nullable(data["technician_id"]),
            "technician": _name(data["technician_id"], _resource_names(frames), UNASSIGNED, "Resource"),
            "queue_id": _nullable(data["queue_id"]),
            "queue": _name(data["queue_id"], _queue_names(frames), NO_QUEUE, "Queue"),
            "week": _week_labels(data["week"]),
            "applicable": data["applicable"].astype("int64"),
            "passed": data["passed"].astype("int64"),
            "failed": (data["applicable"] - data["passed"]).astype("int64"),
        }
    )
    return pd.DataFrame({c: columns[c] for c in TALLY_COLUMNS})
