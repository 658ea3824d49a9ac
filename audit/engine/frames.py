"""Snapshot tables -> the frames the rule engine reads.

``build_frames`` is a pure function over typed tables (as ``records_to_frame`` makes them): it
resolves picklist labels (``<field>_label``), the sub-issue type's parent
(``subIssueType_parent``), makes sure every schema column and every UDF the mapping names
exists (``udf:<Name>``), normalises text (HTML stripped, also as ``<field>_text``, the name
the rules read) and validates the tenant mapping against the
tenant's picklists. ``load_frames`` reads a store and calls it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit.core.config import Config
from audit.core.errors import MappingError
from audit.source.records import empty_frame
from audit.source.schema import ENTITIES, UDF_PREFIX, EntitySpec

__all__ = [
    "DERIVED_COLUMNS",
    "FRAME_ENTITIES",
    "MAPPING_LABELS",
    "TEXT_COLUMNS",
    "tenant_display_name",
    "Frames",
    "MappingLabelIssue",
    "build_frames",
    "load_frames",
    "mapping_label_issues",
    "strip_html",
    "ticket_url_base",
]

log = logging.getLogger("audit.engine.frames")

#: Frame attribute -> Autotask entity it holds.
FRAME_ENTITIES: dict[str, str] = {
    "tickets": "Tickets",
    "notes": "TicketNotes",
    "time_entries": "TimeEntries",
    "attachments": "TicketAttachments",
    "history": "TicketHistory",
    "contacts": "Contacts",
    "resources": "Resources",
    "companies": "Companies",
}

#: Text columns that get an HTML-stripped ``<col>_text`` twin (what text checks read).
TEXT_COLUMNS: dict[str, tuple[str, ...]] = {
    "tickets": ("title", "description", "resolution"),
    "notes": ("title", "description"),
    "time_entries": ("summaryNotes", "internalNotes"),
    "attachments": ("title",),
    "history": ("action", "detail"),
}


def _derived() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for frame_name, entity_name in FRAME_ENTITIES.items():
        spec = ENTITIES[entity_name]
        cols = [f"{p}_label" for p in spec.picklists]
        cols += [f"{c}_text" for c in TEXT_COLUMNS.get(frame_name, ())]
        if frame_name == "tickets":
            cols.append("subIssueType_parent")
        out[frame_name] = tuple(cols)
    return out


#: Columns ``build_frames`` adds to each frame, beyond the schema fields and ``udf:`` columns.
DERIVED_COLUMNS: dict[str, tuple[str, ...]] = _derived()

#: Mapping settings that name picklist labels: setting -> (entity, field).
MAPPING_LABELS: dict[str, tuple[str, str]] = {
    "closed_statuses": ("Tickets", "status"),
    "new_statuses": ("Tickets", "status"),
    "priority_levels": ("Tickets", "priority"),
    "email_sources": ("Tickets", "source"),
    "customer_publish": ("TicketNotes", "publish"),
    "system_note_types": ("TicketNotes", "noteType"),
    "escalation_queues": ("Tickets", "queueID"),
    "escalation_statuses": ("Tickets", "status"),
    "vendor_statuses": ("Tickets", "status"),
    "ticket_types": ("Tickets", "ticketType"),
}


@dataclass
class Frames:
    """Everything the engine reads, as pandas frames (one row per record, sorted by id)."""

    tickets: pd.DataFrame
    notes: pd.DataFrame
    time_entries: pd.DataFrame
    attachments: pd.DataFrame
    contacts: pd.DataFrame
    resources: pd.DataFrame
    companies: pd.DataFrame
    picklists: pd.DataFrame
    history: pd.DataFrame | None
    web_url: str
    tenant_name: str
    udf_names: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)

    def frame(self, name: str) -> pd.DataFrame | None:
        """A frame by its attribute name (``tickets``, ``notes``, ...)."""
        value = getattr(self, name)
        return value if value is None or isinstance(value, pd.DataFrame) else None


class _Store(Protocol):  # what load_frames needs of audit.store.snapshot.Store
    def read(self, entity: str) -> pd.DataFrame: ...
    def picklists(self) -> pd.DataFrame: ...
    def udf_definitions(self) -> pd.DataFrame: ...
    @property
    def state(self) -> Any: ...


# Block-level tags end a line (so "<p>Symptom: x</p><p>Findings: y</p>" keeps its sections);
# other tags vanish; the common entities are decoded.
# (No \s or \b: pandas sends those patterns to Python's re instead of pyarrow's RE2.)
_BLOCK_TAGS = r"(?i)<[ \t\r\n]*/?(?:br|p|div|li|tr|h[1-6]|hr|ul|ol|table)(?:[ \t\r\n/][^>]*)?>"
_ENTITIES = {
    "&nbsp;": " ",
    "&lt;": "<",
    "&gt;": ">",
    "&quot;": '"',
    "&#39;": "'",
    "&apos;": "'",
    "&amp;": "&",
}


_CHUNK_ROWS = 262_144


def strip_html(series: pd.Series) -> pd.Series:
    """Text with HTML tags removed and common entities decoded (vectorised; nulls stay null).

    Only rows that contain ``<`` or ``&`` are rewritten: most service-desk text is plain, and
    skipping it keeps the cost near one scan. The rewritten rows are put back in place with a
    single ``take`` (a masked assignment would convert the whole column to Python objects).
    """
    text = series.astype("string").reset_index(drop=True)
    if len(text) > _CHUNK_ROWS and getattr(text.dtype, "storage", None) == "pyarrow":
        # Slice by slice: Arrow builders over-allocate while growing, so one pass over
        # gigabytes of notes would briefly need about twice the column; slices bound that.
        parts = [strip_html(text.iloc[i : i + _CHUNK_ROWS]) for i in range(0, len(text), _CHUNK_ROWS)]
        chunks = [c for part in parts for c in pa.chunked_array(pa.array(part.array)).chunks]
        target = chunks[0].type
        merged = pa.chunked_array([c.cast(target) for c in chunks], type=target)
        return pd.Series(pd.arrays.ArrowStringArray(merged), name=text.name)
    has_markup = text.str.contains("[<&]", regex=True).fillna(False).to_numpy(dtype=bool)
    if not has_markup.any():
        return text
    part = text[has_markup]
    part = part.str.replace(_BLOCK_TAGS, "\n", regex=True)
    part = part.str.replace(r"<[^>]*>", "", regex=True)
    amp = part.str.contains("&", regex=False).fillna(False).to_numpy(dtype=bool)
    if amp.any():
        decoded = part[amp]
        for entity, char in _ENTITIES.items():
            decoded = decoded.str.replace(entity, char, regex=False)
        part = _put_back(part.reset_index(drop=True), decoded.reset_index(drop=True), amp)
    return _put_back(text, part.reset_index(drop=True), has_markup)


def _put_back(whole: pd.Series, part: pd.Series, mask: np.ndarray) -> pd.Series:
    """``whole`` with the rows under ``mask`` replaced by ``part`` (in order).

    With pyarrow storage this is one ``if_else`` over an aligned, mostly-null array (a take of
    the few rewritten rows): the unchanged bulk of the text is never taken row by row.
    """
    if (
        getattr(whole.dtype, "storage", None) == "pyarrow"
        and getattr(part.dtype, "storage", None) == "pyarrow"
    ):
        base = pa.chunked_array(pa.array(whole.array))
        rows = pa.chunked_array(pa.array(part.array)).cast(base.type)
        index = np.full(len(whole), -1, dtype="int64")
        index[mask] = np.arange(int(mask.sum()))
        aligned = rows.take(pa.array(index, mask=index < 0))
        merged = pc.if_else(pa.array(mask), aligned, base)
        return pd.Series(pd.arrays.ArrowStringArray(merged), name=whole.name)
    out = whole.astype(object).copy()
    out[mask] = part.astype(object).to_numpy()
    return out.astype("string")


def _conform(frame: pd.DataFrame | None, spec: EntitySpec) -> pd.DataFrame:
    """Every schema column present with its dtype (missing optional columns become null)."""
    template = empty_frame(spec)
    if frame is None:
        return template
    frame = frame.copy(deep=False).reset_index(drop=True)  # copy-on-write: shared until changed
    for name in spec.fields:
        dtype = template[name].dtype
        if name not in frame.columns:
            frame[name] = pd.Series(index=frame.index, dtype=dtype)  # all null, built natively
        elif frame[name].dtype != dtype:
            try:
                frame[name] = frame[name].astype(dtype)
            except (TypeError, ValueError):
                frame[name] = pd.Series(index=frame.index, dtype=dtype)
    return frame


def _local_days(frame: pd.DataFrame, spec: EntitySpec, timezone: str) -> None:
    """Date-only fields (``dateWorked``) arrive as the day's midnight, unconverted: make them the
    instant that day begins in the tenant's time zone, so they fall in the local period and week
    and compare with local days (a midnight a DST change skips becomes the day's first instant)."""
    if timezone == "UTC":
        return
    for name in spec.date_only:
        wall = frame[name].dt.tz_localize(None)
        first = np.ones(len(wall), dtype=bool)  # a midnight that occurs twice: its first occurrence
        frame[name] = wall.dt.tz_localize(
            timezone, ambiguous=first, nonexistent="shift_forward"
        ).dt.tz_convert("UTC")


def _picklist_maps(picklists: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    if picklists is None or picklists.empty:
        return {}
    pl = picklists.copy()
    pl["value"] = pd.to_numeric(pl["value"], errors="coerce").astype("Int64")
    sort_cols = [c for c in ("entity", "field", "value", "sort_order") if c in pl.columns]
    pl = pl.sort_values(sort_cols, kind="stable")
    maps: dict[tuple[str, str], pd.DataFrame] = {}
    for (ent, fld), group in pl.groupby(["entity", "field"], sort=True):
        maps[(str(ent).lower(), str(fld).lower())] = group.drop_duplicates("value", keep="first")
    return maps


def _label_column(values: pd.Series, group: pd.DataFrame | None, column: str = "label") -> pd.Series:
    """Labels (a categorical: cheap to take and compare over millions of notes) or the
    parent value of each picklist value; null when the value is not in the picklist."""
    if group is None or group.empty:
        if column == "label":
            return pd.Series(
                pd.Categorical([None] * len(values), categories=pd.Index([], dtype=object)),
                index=values.index,
            )
        return pd.Series(index=values.index, dtype="Int64")
    index = pd.Index(group["value"].astype("int64"))
    pos = index.get_indexer(values.astype("Int64").fillna(-(2**62)).astype("int64"))
    if column == "label":
        labels = group["label"].astype(str).to_numpy(dtype=object)
        categories, codes = np.unique(labels, return_inverse=True)
        row_codes = np.where(pos >= 0, codes.reshape(-1)[np.maximum(pos, 0)], -1)
        return pd.Series(
            pd.Categorical.from_codes(row_codes, categories=pd.Index(categories, dtype=object)),
            index=values.index,
        )
    parents = group[column].astype("Int64").array.take(pos, allow_fill=True)
    return pd.Series(parents, index=values.index, dtype="Int64")


def _add_labels(frame: pd.DataFrame, spec: EntitySpec, maps: dict[tuple[str, str], pd.DataFrame]) -> None:
    for name in spec.picklists:
        group = maps.get((spec.name.lower(), name.lower()))
        frame[f"{name}_label"] = _label_column(frame[name], group)
        if name == "subIssueType":
            frame["subIssueType_parent"] = _label_column(frame[name], group, "parent_value")


def _add_text(frame: pd.DataFrame, frame_name: str, keep_raw_text: bool) -> None:
    for name in TEXT_COLUMNS.get(frame_name, ()):
        text = strip_html(frame[name])
        frame[f"{name}_text"] = text
        if not keep_raw_text:
            # The text is normalised in place: one copy of gigabytes of notes, not two. The
            # `_text` name stays, so rules read the same column either way.
            frame[name] = text


def _udf_names(
    udf_definitions: pd.DataFrame | None, config: Config, tickets: pd.DataFrame
) -> tuple[str, ...]:
    names: set[str] = set()
    if udf_definitions is not None and not udf_definitions.empty and "name" in udf_definitions.columns:
        defs = udf_definitions
        if "entity" in defs.columns:
            defs = defs[defs["entity"].astype("string").str.lower().isin(["tickets", "ticket"])]
        names.update(str(n) for n in defs["name"].dropna())
    m = config.mapping
    names.update({m.impact_udf, m.urgency_udf, m.on_call_udf, m.vendor_case_udf})
    names.update(c[len(UDF_PREFIX) :] for c in tickets.columns if str(c).startswith(UDF_PREFIX))
    return tuple(sorted(names))


@dataclass(frozen=True)
class MappingLabelIssue:
    """A label of the tenant mapping that the tenant's picklist does not have."""

    setting: str  # mapping key, e.g. "escalation_queues"
    entity: str
    field: str
    label: str
    explicit: bool  # set in the config file (an error) rather than a catalog default (a warning)
    available: tuple[str, ...]  # the tenant's labels of that picklist, sorted


def _mapping_issues(config: Config, maps: dict[tuple[str, str], pd.DataFrame]) -> list[MappingLabelIssue]:
    issues: list[MappingLabelIssue] = []
    mapping = config.mapping
    for setting, (ent, fld) in MAPPING_LABELS.items():
        value = getattr(mapping, setting)
        labels = list(value.keys()) if isinstance(value, dict) else list(value)
        group = maps.get((ent.lower(), fld.lower()))
        tenant = tuple(sorted({str(x) for x in group["label"].dropna()})) if group is not None else ()
        for label in labels:
            if label not in tenant:
                explicit = setting in config.explicit_mapping_keys
                issues.append(MappingLabelIssue(setting, ent, fld, label, explicit, tenant))
    return issues


def mapping_label_issues(config: Config, picklists: pd.DataFrame) -> list[MappingLabelIssue]:
    """Every mapping label (``MAPPING_LABELS``) missing from ``picklists`` (the store's
    ``_picklists`` frame), in setting order. Shared by ``build_frames`` and ``ticket-audit doctor``
    so both judge the mapping the same way."""
    return _mapping_issues(config, _picklist_maps(picklists))


def _validate_mapping(config: Config, picklists: pd.DataFrame | None) -> list[str]:
    """Explicit labels the tenant lacks are a MappingError; default ones only warnings."""
    warnings: list[str] = []
    if picklists is None:
        picklists = pd.DataFrame(columns=["entity", "field", "value", "label"])
    for issue in mapping_label_issues(config, picklists):
        if issue.explicit:
            raise MappingError(
                f"mapping.{issue.setting} ({issue.entity}.{issue.field})",
                issue.label,
                list(issue.available),
                file=config.source,
            )
        warnings.append(
            f"mapping.{issue.setting}: default label {issue.label!r} is not in the tenant's "
            f"{issue.entity}.{issue.field} picklist"
        )
    return warnings


def ticket_url_base(web_url: str) -> str:
    """The prefix of a ticket link: ``{webUrl}Mvc/ServiceDesk/TicketDetail.mvc?ticketId=``."""
    if not web_url:
        return ""
    return web_url.rstrip("/") + "/Mvc/ServiceDesk/TicketDetail.mvc?ticketId="


def build_frames(
    tables: dict[str, pd.DataFrame],
    picklists: pd.DataFrame,
    udf_definitions: pd.DataFrame | None,
    config: Config,
    *,
    web_url: str,
    tenant_name: str,
    keep_raw_text: bool = False,
    consume: bool = False,
) -> Frames:
    """Frames for the engine from typed snapshot tables (keyed by entity name).

    Text columns are HTML-stripped in place (``<col>`` and ``<col>_text`` are the same
    normalised text) unless ``keep_raw_text``, which keeps the stored markup in ``<col>``.
    ``consume`` pops each table from ``tables`` as it is converted, so a caller that owns the
    tables (``load_frames``) never holds the raw and the normalised text at once.
    """
    maps = _picklist_maps(picklists)
    warnings = _validate_mapping(config, picklists)
    built: dict[str, pd.DataFrame] = {}
    for frame_name, entity_name in FRAME_ENTITIES.items():
        if frame_name == "history" and tables.get(entity_name) is None:
            continue
        spec = ENTITIES[entity_name]
        frame = _conform(tables.pop(entity_name, None) if consume else tables.get(entity_name), spec)
        _local_days(frame, spec, config.timezone)
        _add_labels(frame, spec, maps)
        _add_text(frame, frame_name, keep_raw_text)
        built[frame_name] = frame
    tickets = built["tickets"]
    udfs = _udf_names(udf_definitions, config, tickets)
    for name in udfs:
        col = f"{UDF_PREFIX}{name}"
        if col not in tickets.columns:
            tickets[col] = pd.Series(pd.array([None] * len(tickets), dtype="string"), index=tickets.index)
        else:
            tickets[col] = tickets[col].astype("string")
    for message in warnings:
        log.warning(message)
    return Frames(
        tickets=tickets,
        notes=built["notes"],
        time_entries=built["time_entries"],
        attachments=built["attachments"],
        contacts=built["contacts"],
        resources=built["resources"],
        companies=built["companies"],
        picklists=picklists if picklists is not None else pd.DataFrame(),
        history=built.get("history"),
        web_url=web_url,
        tenant_name=tenant_name,
        udf_names=udfs,
        warnings=warnings,
    )


def tenant_display_name(config: Config, zone_name: str | None) -> str:
    """The tenant's name on reports and in the QA workbook: configured, else the zone's."""
    return config.report.tenant_name or str(zone_name or "") or "Sandbox"


def load_frames(store: _Store, config: Config) -> Frames:
    """Frames from a snapshot store (``.read(entity)``, ``.picklists()``, ``.udf_definitions()``)."""
    tables: dict[str, pd.DataFrame] = {}
    for entity_name in FRAME_ENTITIES.values():
        try:
            tables[entity_name] = store.read(entity_name)
        except (FileNotFoundError, KeyError):
            if entity_name != "TicketHistory":
                raise
    state = store.state
    web_url = str(getattr(state, "web_url", "") or "")
    tenant = tenant_display_name(config, getattr(state, "zone_name", None))
    history = tables.get("TicketHistory")
    if history is not None and history.empty and not config.extract.include_history:
        tables.pop("TicketHistory")  # history was not extracted: rules that need it are not measured
    return build_frames(
        tables,
        store.picklists(),
        store.udf_definitions(),
        config,
        web_url=web_url,
        tenant_name=tenant,
        consume=True,
    )
