"""The emulator's query endpoints: the search body, the entity rules Autotask enforces on it
(``TicketHistory`` one condition, ``TicketAttachments`` naming its tickets), ``MaxRecords``,
``IncludeFields`` and the paged answer with its ``nextPageUrl`` / ``prevPageUrl``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from audit.sandbox._emu_filters import RejectedFilter, compile_filter
from audit.sandbox._emu_tables import EntityTable, Plan, row_id
from audit.sandbox._emu_types import EmuResponse, api_errors, decode_token, encode_token, json_response

__all__ = [
    "MAX_RECORDS",
    "Paging",
    "child_page",
    "compile_query",
    "parse_search",
    "query_page",
]

#: Largest page the API serves (and the largest accepted ``MaxRecords``).
MAX_RECORDS = 500


@dataclass(frozen=True)
class Paging:
    """Where a query's page links point: the request's base URL, entity, method and query
    string (a GET query's next page carries its filter in ``search``)."""

    base: str
    entity: str
    method: str
    query: dict[str, list[str]]
    next_page: bool  # a ``query/next`` request (its position is in ``paging``)

    def url(self, after: int | None) -> str:
        return next_url(self.base, self.entity, after, self.method, self.query)


def query_page(
    table: EntityTable, plan: Plan, search: dict[str, Any], paging: Paging
) -> tuple[EmuResponse, int]:
    """One page of a query's matches: the answer and how many rows it serves."""
    size = max_records(search)
    include = include_fields(table, search)
    after: int | None = None
    if paging.next_page:
        tokens = paging.query.get("paging") or []
        if not tokens or not tokens[0]:
            raise api_errors(500, "The paging parameter is required.")
        after = decode_token(tokens[0])
    items, more = plan.page(after, size)
    prev_url = None
    if after is not None and items:
        prev_url = paging.url(plan.previous_start(row_id(items[0]), size))
    elif after is not None:
        prev_url = paging.url(plan.previous_start(after + 1, size))
    next_link = paging.url(row_id(items[-1])) if more else None
    out = items if include is None else [_project(r, include) for r in items]
    payload = {
        "items": out,
        "pageDetails": {
            "count": len(out),
            "requestCount": size,
            "prevPageUrl": prev_url,
            "nextPageUrl": next_link,
        },
    }
    return json_response(200, payload), len(out)


def child_page(table: EntityTable, ticket_id: int) -> tuple[EmuResponse, int]:
    """``/Tickets/{id}/Notes`` and the like: every child row of one ticket, one page."""
    plan = compile_filter(table, [{"op": "eq", "field": "ticketID", "value": ticket_id}])
    items, _ = plan.page(None, MAX_RECORDS)
    payload = {
        "items": items,
        "pageDetails": {
            "count": len(items),
            "requestCount": MAX_RECORDS,
            "prevPageUrl": None,
            "nextPageUrl": None,
        },
    }
    return json_response(200, payload), len(items)


def parse_search(method: str, body: bytes | None, query: dict[str, list[str]]) -> dict[str, Any]:
    if method == "GET":
        raw = (query.get("search") or [""])[0]
        if not raw:
            raise api_errors(500, "The search parameter is required.")
    else:
        if not body or not body.strip():
            raise api_errors(500, "The request body is required: a query with a filter.")
        raw = body.decode("utf-8", errors="replace")
    try:
        search = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise api_errors(500, f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(search, dict):
        raise api_errors(500, "The query must be a JSON object.")
    return {k.lower(): v for k, v in search.items() if isinstance(k, str)}


def compile_query(table: EntityTable, entity: str, search: dict[str, Any]) -> Plan:
    conditions = search.get("filter")
    if entity == "TicketHistory" and not _single_ticket_condition(conditions):
        raise api_errors(500, "TicketHistory queries must have exactly one condition: ticketID eq <id>.")
    if entity == "TicketAttachments" and not _names_tickets(conditions):
        # Autotask developer help, "Changes to Attachment entities" (2021.1): a request to
        # TicketAttachments "will require a value for the ticketID field".
        raise api_errors(
            500, "TicketAttachments queries require a ticketID: add a ticketID eq or in condition."
        )
    try:
        return compile_filter(table, conditions)
    except RejectedFilter as exc:
        raise api_errors(500, str(exc)) from None


def max_records(search: dict[str, Any]) -> int:
    value = search.get("maxrecords")
    if value is None:
        return MAX_RECORDS
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RECORDS:
        raise api_errors(500, f"MaxRecords must be an integer between 1 and {MAX_RECORDS}, got {value!r}.")
    return value


def include_fields(table: EntityTable, search: dict[str, Any]) -> list[str] | None:
    value = search.get("includefields")
    if value is None or value == []:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise api_errors(500, "IncludeFields must be a list of field names.")
    names = ["id"]
    for name in value:
        if name.lower() == "userdefinedfields":
            raise api_errors(500, "userDefinedFields cannot be listed in IncludeFields.")
        canonical = table.fields.get(name.lower())
        if canonical is not None and canonical not in names:
            names.append(canonical)  # unknown names are ignored, as the real API does
    return names


def next_url(base: str, entity: str, after: int | None, method: str, query: dict[str, list[str]]) -> str:
    url = f"{base}ATServicesRest/V1.0/{entity}/query/next?paging={encode_token(after)}"
    if method == "GET" and query.get("search"):
        url += "&search=" + quote(query["search"][0], safe="")
    return url


def _project(row: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    out = {name: row.get(name) for name in names}
    out["userDefinedFields"] = []
    return out


def _single_ticket_condition(conditions: Any) -> bool:
    if not isinstance(conditions, list) or len(conditions) != 1 or not isinstance(conditions[0], dict):
        return False
    cond = {str(k).lower(): v for k, v in conditions[0].items()}
    return (
        str(cond.get("op", "")).lower() == "eq"
        and str(cond.get("field", "")).lower() == "ticketid"
        and cond.get("udf") is not True
        and cond.get("value") is not None
        and not isinstance(cond.get("value"), list | dict | bool)
    )


def _names_tickets(conditions: Any) -> bool:
    """A top-level ``ticketID eq <id>`` or ``ticketID in [...]`` condition (not inside a group)."""
    if not isinstance(conditions, list):
        return False
    for item in conditions:
        if not isinstance(item, dict):
            continue
        cond = {str(k).lower(): v for k, v in item.items()}
        if str(cond.get("field", "")).lower() != "ticketid" or cond.get("udf") is True:
            continue
        op, value = str(cond.get("op", "")).lower(), cond.get("value")
        if (op == "eq" and value is not None and not isinstance(value, list | dict | bool)) or (
            op == "in" and isinstance(value, list) and value
        ):
            return True
    return False
