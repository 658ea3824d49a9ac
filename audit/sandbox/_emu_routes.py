"""The emulator's URL routes: which endpoint a path names, and the methods it allows."""

from __future__ import annotations

from dataclasses import dataclass

from audit.sandbox._emu_types import api_errors, method_not_allowed
from audit.sandbox.model import Tenant
from audit.source.schema import ENTITIES

__all__ = ["API_PREFIX", "ZONE_PATH", "Route", "check_method", "known_entities", "parse_route"]

API_PREFIX = "/atservicesrest/v1.0/"
ZONE_PATH = "/atservicesrest/v1.0/zoneinformation"
#: Child collection URLs (``/Tickets/{id}/Notes``) -> the entity they list, by ``ticketID``.
_CHILD_URLS = {
    ("Tickets", "notes"): "TicketNotes",
    ("Tickets", "attachments"): "TicketAttachments",
    ("Tickets", "timeentries"): "TimeEntries",
}
#: Path tails after the entity name -> (endpoint kind, allowed methods).
_ENTITY_ENDPOINTS: dict[tuple[str, ...], tuple[str, tuple[str, ...]]] = {
    ("query",): ("query", ("POST", "GET")),
    ("query", "next"): ("next", ("POST",)),
    ("query", "count"): ("count", ("POST", "GET")),
    ("entityinformation",): ("entity_info", ("GET",)),
    ("entityinformation", "fields"): ("fields", ("GET",)),
    ("entityinformation", "userdefinedfields"): ("udfs", ("GET",)),
}


@dataclass
class Route:
    kind: str  # zone, threshold, query, next, count, get, child, entity_info, fields, udfs
    entity: str  # canonical entity name ("-" when none)
    allowed: tuple[str, ...]  # methods
    item_id: int | None = None


def known_entities(tenant: Tenant) -> dict[str, str]:
    """Entity names the routes accept, lower-cased -> canonical."""
    names = [*ENTITIES, *tenant.records, *tenant.fields, *tenant.udfs]
    return {n.lower(): n for n in names}


def parse_route(rest: str, entity_names: dict[str, str]) -> Route:
    """The route of an API path (after ``API_PREFIX``); entity names match case-insensitively."""
    segs = [s for s in rest.split("/") if s]
    if not segs:
        raise api_errors(404, "No HTTP resource was found that matches the request URI.")
    low = [s.lower() for s in segs]
    if low == ["thresholdinformation"]:
        return Route("threshold", "ThresholdInformation", ("GET",))
    entity = entity_names.get(low[0])
    if entity is None:
        raise api_errors(404, f"No HTTP resource was found for entity '{segs[0]}'.")
    tail = low[1:]
    endpoint = _ENTITY_ENDPOINTS.get(tuple(tail))
    if endpoint is not None:
        return Route(endpoint[0], entity, endpoint[1])
    if len(tail) == 1 and tail[0].isdigit():
        return Route("get", entity, ("GET",), item_id=int(tail[0]))
    if len(tail) == 2 and tail[0].isdigit() and (entity, tail[1]) in _CHILD_URLS:
        # /Tickets/{id}/Notes: GET-only, one request per parent (why extractors avoid it)
        return Route("child", _CHILD_URLS[(entity, tail[1])], ("GET",), item_id=int(tail[0]))
    raise api_errors(404, f"No HTTP resource was found that matches '{rest}'.")


def check_method(route: Route, method: str, query: dict[str, list[str]] | None = None) -> None:
    if method in route.allowed:
        return
    if route.kind == "next" and method == "GET" and query and "search" in query:
        return  # a GET query's next page carries its filter in ``search``: allowed
    raise method_not_allowed(method)
