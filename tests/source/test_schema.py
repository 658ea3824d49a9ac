"""Conformance contract: the schema names only fields Autotask's REST API has.

``audit/sandbox/autotask_fields.json`` is the real API's field list per entity, taken from
Autotask's published REST swagger (its ``source`` says how). Every field the schema reads, every
field the extractor filters on or lists in ``IncludeFields`` (seen on the wire) must exist there
for its entity with a compatible type, and the emulator's ``entityInformation/fields`` must agree
with it. A schema change naming a field Autotask does not have fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from audit.app.extract import extract
from audit.core.config import ExtractSettings
from audit.sandbox._reference import autotask_fields
from audit.sandbox.client import sandbox_client
from audit.sandbox.emulator import Emulator, EmuResponse
from audit.sandbox.generator import generate_tenant, mutate_tenant
from audit.source.schema import ENTITIES, EntitySpec, FieldType
from audit.store.snapshot import Store

AS_OF = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)

#: entityInformation data types each schema type may read.
COMPATIBLE: dict[FieldType, set[str]] = {
    FieldType.INT: {"integer", "long", "short"},
    FieldType.STR: {"string"},
    FieldType.DATETIME: {"datetime"},
    FieldType.DECIMAL: {"double", "decimal"},
    FieldType.BOOL: {"boolean"},
}
#: Fields the schema reads as booleans that Autotask sends as 1/0 integers.
INTEGER_FLAGS = {("Contacts", "isActive")}


def mismatches(spec: EntitySpec, contract: Mapping[str, Any]) -> list[str]:
    """What ``spec`` says that the contract contradicts (empty: conforming)."""
    entity = contract.get(spec.name)
    if entity is None:
        return [f"{spec.name}: not an entity of the Autotask REST API"]
    fields = entity["fields"]
    out = []
    for name, ftype in spec.fields.items():
        real = fields.get(name)
        allowed = COMPATIBLE[ftype] | ({"integer"} if (spec.name, name) in INTEGER_FLAGS else set())
        if real is None:
            out.append(f"{spec.name}.{name}: no such field")
        elif real["type"] not in allowed:
            out.append(
                f"{spec.name}.{name}: Autotask's type is {real['type']}, the schema reads {ftype.value}"
            )
    for name in (spec.watermark, spec.key, *spec.picklists):
        if name is not None and name not in fields:
            out.append(f"{spec.name}.{name}: no such field")
    out += [
        f"{spec.name}.{p}: not a picklist"
        for p in spec.picklists
        if fields.get(p, {}).get("picklist") is False
    ]
    if spec.has_udfs and not entity["has_udfs"]:
        out.append(f"{spec.name}: has no user-defined fields")
    return out


@pytest.mark.parametrize("name", list(ENTITIES))
def test_every_schema_field_exists_with_a_compatible_type(name: str) -> None:
    assert mismatches(ENTITIES[name], autotask_fields()) == []


def test_a_field_autotask_lacks_fails_the_contract() -> None:
    real = ENTITIES["TicketAttachments"]
    invented = EntitySpec(
        name=real.name,
        fields={**real.fields, "lastModifiedDate": FieldType.DATETIME},
        watermark="lastModifiedDate",
        child_of_ticket=True,
    )
    assert mismatches(invented, autotask_fields()) == [
        "TicketAttachments.lastModifiedDate: no such field",
        "TicketAttachments.lastModifiedDate: no such field",
    ]
    wrong_type = EntitySpec(name="TicketNotes", fields={"id": FieldType.INT, "publish": FieldType.STR})
    assert mismatches(wrong_type, autotask_fields()) == [
        "TicketNotes.publish: Autotask's type is integer, the schema reads str"
    ]
    assert mismatches(EntitySpec(name="TicketSummaries", fields={"id": FieldType.INT}), autotask_fields())


class _Recorder(Emulator):
    """The emulator, keeping every query and count body it is sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bodies: list[tuple[str, dict[str, Any]]] = []

    def handle(
        self, method: str, url: str, headers: Mapping[str, str] | None = None, body: bytes | None = None
    ) -> EmuResponse:
        path = httpx.URL(url).path.lower()
        if body and "/query" in path:
            entity = path.split("/v1.0/")[1].split("/")[0]
            self.bodies.append((entity, json.loads(body)))
        return super().handle(method, url, headers, body)


def _filter_fields(conditions: Any) -> Iterator[str]:
    for item in conditions or []:
        if item.get("items"):
            yield from _filter_fields(item["items"])
        elif "field" in item and not item.get("udf"):
            yield item["field"]


def test_every_field_the_extractor_sends_exists(tmp_path: Any) -> None:
    """Filters and IncludeFields as they go on the wire, over a first run (with history and
    back-fill) and an incremental run that reconciles deleted children."""
    tenant = generate_tenant(5, tickets=120, weeks=4, as_of=AS_OF, technicians=4)
    emulator = _Recorder(tenant)
    store = Store(tmp_path)
    settings = ExtractSettings(initial_days=10, include_history=True)
    with sandbox_client(emulator=emulator) as client:
        extract(client, store, settings, as_of=AS_OF, progress=False)
    mutate_tenant(tenant, 0.05, seed=2, at=AS_OF + timedelta(days=1), deletions=1, deleted_children=3)
    emulator.refresh()
    with sandbox_client(emulator=emulator) as client:
        extract(client, store, settings, as_of=AS_OF + timedelta(days=1, hours=1), progress=False)

    names = {name.lower(): name for name in ENTITIES}
    contract = autotask_fields()
    sent: set[tuple[str, str]] = set()
    for path_entity, body in emulator.bodies:
        entity = names[path_entity]
        lowered = {k.lower(): v for k, v in body.items()}
        sent.update((entity, f) for f in _filter_fields(lowered.get("filter")))
        sent.update((entity, f) for f in lowered.get("includefields") or [])
    assert {e for e, _ in sent} >= {
        "Tickets",
        "TicketNotes",
        "TimeEntries",
        "TicketAttachments",
        "DeletedTicketActivityLogs",
        "TicketHistory",
    }, sent
    assert ("TicketAttachments", "ticketID") in sent
    unknown = sorted(f"{e}.{f}" for e, f in sent if f not in contract[e]["fields"])
    assert unknown == []


def test_the_emulator_metadata_agrees_with_the_contract() -> None:
    tenant = generate_tenant(5, tickets=40, weeks=2, as_of=AS_OF, technicians=3)
    contract = autotask_fields()
    with sandbox_client(tenant) as client:
        for name in ENTITIES:
            served = {f["name"]: f for f in client.entity_fields(name)}
            real = contract[name]["fields"]
            assert set(served) <= set(real), name
            for field_name, info in served.items():
                assert info["dataType"] == real[field_name]["type"], (name, field_name)
                if real[field_name]["picklist"] is not None:
                    assert info["isPickList"] is real[field_name]["picklist"], (name, field_name)
