"""The Autotask emulator, in-process (httpx transport): every fact of the real API it honours."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from audit.sandbox._emu_tiny import tiny_tenant
from audit.sandbox.emulator import Emulator, FaultPlan
from audit.sandbox.model import SANDBOX_CREDENTIALS as C
from audit.sandbox.model import Tenant

HEADERS = {"ApiIntegrationCode": C.integration_code, "UserName": C.username, "Secret": C.secret}
BASE = "http://emu.invalid/ATServicesRest/V1.0/"
ALL = [{"op": "gte", "field": "id", "value": 0}]


@pytest.fixture
def tenant() -> Tenant:
    return tiny_tenant()


@pytest.fixture
def emu(tenant: Tenant) -> Emulator:
    return Emulator(tenant)


@pytest.fixture
def client(emu: Emulator) -> httpx.Client:
    return httpx.Client(transport=emu.transport(), base_url=BASE, headers=HEADERS)


def ids(client: httpx.Client, entity: str, flt: Any, **extra: Any) -> list[int]:
    r = client.post(f"{entity}/query", json={"filter": flt, **extra})
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


def error(r: httpx.Response, status: int = 500) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert isinstance(body["errors"], list) and body["errors"]
    return " ".join(body["errors"])


# ----------------------------------------------------------------------------- operators

C_ = dict  # a condition, for readability below


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ([C_(op="eq", field="status", value=5)], [1002]),
        ([C_(op="eq", field="STATUS", value="5")], [1002]),  # case-insensitive name, numeric string
        ([C_(op="noteq", field="status", value=1)], [1002, 1005, 1006]),
        ([C_(op="gt", field="id", value=1004)], [1005, 1006]),
        ([C_(op="gte", field="id", value=1004)], [1004, 1005, 1006]),
        ([C_(op="lt", field="id", value=1002)], [1001]),
        ([C_(op="lte", field="id", value=1002)], [1001, 1002]),
        ([C_(op="gt", field="id", value=1001), C_(op="lt", field="id", value=1004)], [1002, 1003]),
        ([C_(op="eq", field="id", value="1003")], [1003]),
        ([C_(op="in", field="id", value=[1006, 1002, 99])], [1002, 1006]),
        # date-times compare as instants, with or without Z / fraction / offset
        ([C_(op="eq", field="lastActivityDate", value="2026-11-13T16:00:00Z")], [1002]),
        (
            [C_(op="gte", field="lastActivityDate", value="2026-11-13T16:00:00")],
            [1002, 1003, 1004, 1005, 1006],
        ),
        (
            [C_(op="gt", field="lastActivityDate", value="2026-11-13T16:00:00.000+00:00")],
            [1003, 1004, 1005, 1006],
        ),
        ([C_(op="lt", field="lastActivityDate", value="2026-11-13T17:00:00+01:00")], [1001]),
        ([C_(op="lte", field="lastActivityDate", value="2026-11-13T17:00:00+01:00")], [1001, 1002]),
        ([C_(op="lte", field="lastActivityDate", value="2026-11-14T08:30:00.123Z")], [1001, 1002, 1003]),
        ([C_(op="gt", field="lastActivityDate", value="2026-11-15T23:59:59.9Z")], [1005, 1006]),
        # strings: case-insensitive like SQL Server
        ([C_(op="eq", field="title", value="password RESET")], [1004]),
        ([C_(op="beginsWith", field="title", value="VPN")], [1003, 1005]),
        ([C_(op="endsWith", field="title", value="acme")], [1003]),
        ([C_(op="contains", field="title", value="BOUN")], [1006]),
        ([C_(op="exist", field="assignedResourceID")], [1001, 1002, 1003, 1005, 1006]),
        ([C_(op="notExist", field="assignedResourceID")], [1004]),
        ([C_(op="notexist", field="completedDate")], [1001, 1003, 1004, 1005, 1006]),
        ([C_(op="in", field="status", value=[5, 7])], [1002, 1006]),
        ([C_(op="notIn", field="priority", value=[2])], [1003]),
        ([C_(op="in", field="title", value=["vpn SLOW", "email bounce"])], [1005, 1006]),
        ([C_(op="eq", field="serviceLevelAgreementHasBeenMet", value=True)], [1006]),
        ([C_(op="eq", field="source", value=-1)], [1004]),
        # null semantics: SQL (a null matches no comparison, noteq included)
        ([C_(op="noteq", field="assignedResourceID", value=29682885)], []),
        # UDFs
        ([C_(op="eq", field="Impact", value="high", udf=True)], [1001, 1003, 1005]),
        ([C_(op="eq", field="impact", value="Low", udf=True)], [1002, 1004, 1006]),
        ([C_(op="exist", field="Vendor Case ID", udf=True)], [1003, 1006]),
        ([C_(op="notExist", field="vendor case id", udf=True)], [1001, 1002, 1004, 1005]),
        ([C_(op="in", field="Urgency", value=["1", "2"], udf=True)], [1001, 1002]),
        ([C_(op="beginsWith", field="Vendor Case ID", value="vc-", udf=True)], [1003, 1006]),
        # groups, nested, and top level and-ed
        (
            [
                C_(
                    op="or",
                    items=[
                        C_(op="eq", field="status", value=5),
                        C_(
                            op="and",
                            items=[
                                C_(op="eq", field="priority", value=1),
                                C_(op="contains", field="title", value="vpn"),
                            ],
                        ),
                    ],
                )
            ],
            [1002, 1003],
        ),
        (
            [
                C_(op="noteq", field="status", value=5),
                C_(
                    op="or",
                    items=[
                        C_(op="beginsWith", field="title", value="vpn"),
                        C_(op="beginsWith", field="title", value="email"),
                    ],
                ),
            ],
            [1003, 1005, 1006],
        ),
        (
            [
                C_(
                    op="and",
                    items=[
                        C_(op="eq", field="Impact", value="High", udf=True),
                        C_(op="gt", field="id", value=1001),
                    ],
                )
            ],
            [1003, 1005],
        ),
        # an unknown operator is ignored silently (the client must validate)
        (
            [C_(op="like", field="title", value="zzz"), C_(op="eq", field="status", value=1)],
            [1001, 1003, 1004],
        ),
        (
            [
                C_(
                    op="or",
                    items=[C_(op="bogus", field="title", value="x"), C_(op="eq", field="id", value=1002)],
                )
            ],
            [1002],
        ),
        ([C_(op="bogus", field="nosuchfield", value="x")], [1001, 1002, 1003, 1004, 1005, 1006]),
        # key case of the condition itself varies in the wild
        ([{"Op": "eq", "Field": "status", "Value": 5}], [1002]),
    ],
)
def test_operators(client: httpx.Client, flt: list[dict[str, Any]], expected: list[int]) -> None:
    assert ids(client, "Tickets", flt) == expected


def test_operators_on_other_types(client: httpx.Client) -> None:
    assert ids(client, "Contacts", [C_(op="eq", field="isActive", value=True)]) == [30]  # 1/0 on records
    assert ids(client, "TimeEntries", [C_(op="gt", field="hoursWorked", value=1.25)]) == [
        7001,
        7002,
        7003,
    ]  # "1.5000"
    assert ids(client, "TimeEntries", [C_(op="eq", field="isNonBillable", value=False)]) == [7001, 7003]
    assert ids(client, "Companies", [C_(op="eq", field="companyname", value="acme")]) == [1]


def test_indexed_child_lookup_matches_plain_scan(client: httpx.Client) -> None:
    by_index = ids(client, "TicketNotes", [C_(op="in", field="ticketID", value=[1001, 1003])])
    assert by_index == [5001, 5002, 5004, 5005, 5006]
    narrowed = [C_(op="eq", field="ticketID", value=1003), C_(op="gt", field="id", value=5004)]
    assert ids(client, "TicketNotes", narrowed) == [5005, 5006]
    assert ids(
        client,
        "TicketNotes",
        [C_(op="in", field="ticketID", value=[1001]), C_(op="in", field="id", value=[5002, 5004])],
    ) == [5002]
    # the index narrows, the full filter still decides
    assert ids(
        client,
        "TicketNotes",
        [C_(op="eq", field="ticketID", value=1003), C_(op="eq", field="publish", value=2)],
    ) == [5004, 5006]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "filter"),
        ({"filter": []}, "filter"),
        ({"filter": [C_(op="in", field="id", value=list(range(501)))]}, "500"),
        ({"filter": [C_(op="eq", field="nosuchfield", value=1)]}, "nosuchfield"),
        ({"filter": [C_(op="eq", field="Nope", value="x", udf=True)]}, "Nope"),
        ({"filter": [C_(op="in", field="status", value=5)]}, "list"),
        ({"filter": [C_(op="eq", field="status")]}, "value"),
        ({"filter": [C_(op="eq", field="status", value="abc")]}, "abc"),
        ({"filter": [C_(op="eq", field="serviceLevelAgreementHasBeenMet", value="true")]}, "true or false"),
        ({"filter": [C_(op="gt", field="lastActivityDate", value="yesterday")]}, "yesterday"),
        ({"filter": [C_(op="or", items=[])]}, "items"),
        ({"filter": ALL, "MaxRecords": 501}, "MaxRecords"),
        ({"filter": ALL, "maxRecords": 0}, "MaxRecords"),
        ({"filter": ALL, "IncludeFields": ["id", "userDefinedFields"]}, "userDefinedFields"),
    ],
)
def test_validation_errors_are_500(client: httpx.Client, body: dict[str, Any], needle: str) -> None:
    assert needle.lower() in error(client.post("Tickets/query", json=body)).lower()


def test_in_with_500_values_is_fine(client: httpx.Client) -> None:
    assert ids(client, "Tickets", [C_(op="in", field="id", value=list(range(1000, 1500)))]) == list(
        range(1001, 1007)
    )


def test_invalid_json_body_is_500(client: httpx.Client) -> None:
    error(client.post("Tickets/query", content=b"{not json", headers={"Content-Type": "application/json"}))


# ----------------------------------------------------------------------------- paging


def test_paging_by_post_with_the_same_body(client: httpx.Client) -> None:
    body = {"MaxRecords": 2, "filter": [C_(op="gte", field="id", value=0)]}
    first = client.post("Tickets/query", json=body).json()
    assert [i["id"] for i in first["items"]] == [1001, 1002]
    details = first["pageDetails"]
    assert details == {**details, "count": 2, "requestCount": 2, "prevPageUrl": None}
    assert details["nextPageUrl"].startswith(BASE + "Tickets/query/next?paging=")
    seen = [i["id"] for i in first["items"]]
    page, pages = first, 1
    while page["pageDetails"]["nextPageUrl"]:
        r = client.post(page["pageDetails"]["nextPageUrl"], json=body)
        assert r.status_code == 200, r.text
        page = r.json()
        pages += 1
        assert page["pageDetails"]["prevPageUrl"]
        seen += [i["id"] for i in page["items"]]
    assert pages == 3 and seen == [1001, 1002, 1003, 1004, 1005, 1006]
    # prevPageUrl leads back to the page before
    prev = client.post(page["pageDetails"]["prevPageUrl"], json=body).json()
    assert [i["id"] for i in prev["items"]] == [1003, 1004]


def test_exact_multiple_has_no_empty_last_page(client: httpx.Client) -> None:
    body = {"MaxRecords": 3, "filter": ALL}
    first = client.post("Tickets/query", json=body).json()
    second = client.post(first["pageDetails"]["nextPageUrl"], json=body).json()
    assert [i["id"] for i in second["items"]] == [1004, 1005, 1006]
    assert second["pageDetails"]["nextPageUrl"] is None


def test_next_page_get_is_405_and_post_without_body_is_500(client: httpx.Client) -> None:
    body = {"maxRecords": 2, "Filter": ALL}  # the other key casing
    next_url = client.post("Tickets/query", json=body).json()["pageDetails"]["nextPageUrl"]
    r = client.get(next_url)
    assert r.status_code == 405
    assert "Message" in r.json() and "GET" in r.json()["Message"]
    error(client.post(next_url))
    error(client.post("Tickets/query/next", json=body))  # no paging token


def test_paging_token_carries_position_not_filter(client: httpx.Client) -> None:
    body = {"MaxRecords": 2, "filter": ALL}
    next_url = client.post("Tickets/query", json=body).json()["pageDetails"]["nextPageUrl"]
    other = {"MaxRecords": 2, "filter": [C_(op="eq", field="status", value=1)]}
    page = client.post(next_url, json=other).json()
    assert [i["id"] for i in page["items"]] == [1003, 1004]  # status 1 rows after position 1002


def test_get_query_with_search(client: httpx.Client) -> None:
    search = json.dumps({"MaxRecords": 4, "filter": ALL})
    first = client.get("Tickets/query", params={"search": search})
    assert first.status_code == 200 and len(first.json()["items"]) == 4
    nxt = client.get(first.json()["pageDetails"]["nextPageUrl"])  # carries search: a GET is allowed
    assert [i["id"] for i in nxt.json()["items"]] == [1005, 1006]
    assert client.get("Tickets/query/count", params={"search": search}).json() == {"queryCount": 6}
    error(client.get("Tickets/query"))


def test_include_fields(client: httpx.Client) -> None:
    body = {
        "filter": [C_(op="eq", field="id", value=1003)],
        "IncludeFields": ["Title", "status", "nosuchfield"],
    }
    [item] = client.post("Tickets/query", json=body).json()["items"]
    assert item == {"id": 1003, "title": "VPN down for ACME", "status": 1, "userDefinedFields": []}
    body = {"filter": ALL, "includeFields": ["lastActivityDate"], "MaxRecords": 1}
    [item] = client.post("Tickets/query", json=body).json()["items"]
    assert set(item) == {"id", "lastActivityDate", "userDefinedFields"}
    [full] = client.post("Tickets/query", json={"filter": [C_(op="eq", field="id", value=1001)]}).json()[
        "items"
    ]
    assert full["userDefinedFields"][0] == {"name": "Impact", "value": "High"} and "description" in full


def test_count_and_get_by_id(client: httpx.Client) -> None:
    assert client.post(
        "Tickets/query/count", json={"filter": [C_(op="eq", field="status", value=1)]}
    ).json() == {"queryCount": 3}
    assert client.post("TicketNotes/query/count", json={"filter": ALL}).json() == {"queryCount": 7}
    error(client.post("Tickets/query/count", json={}))
    r = client.get("Tickets/1004")
    assert r.status_code == 200 and r.json()["item"]["title"] == "Password reset"
    assert client.get("Tickets/4242").status_code == 404


def test_child_urls_are_get_only_per_ticket(emu: Emulator, client: httpx.Client) -> None:
    r = client.get("Tickets/1003/Notes")
    assert r.status_code == 200 and [i["id"] for i in r.json()["items"]] == [5004, 5005, 5006]
    assert client.get("Tickets/1004/notes").json()["items"] == []
    assert client.post("Tickets/1003/Notes", json={"filter": ALL}).status_code == 405
    assert emu.stats.requests[("GET", "TicketNotes", "child")] == 2


def test_entity_information(client: httpx.Client, tenant: Tenant) -> None:
    fields = client.get("Tickets/entityInformation/fields").json()["fields"]
    status = next(f for f in fields if f["name"] == "status")
    assert (
        status["isPickList"]
        and {"value": "5", "label": "Complete"}.items() <= status["picklistValues"][1].items()
    )
    udfs = client.get("tickets/entityinformation/userDefinedFields").json()["fields"]
    assert [u["name"] for u in udfs] == ["Impact", "Urgency", "On-call", "Vendor Case ID"]
    # UDF definitions name the data type ``type`` (REST swagger), not ``dataType`` as fields do.
    assert all(u["type"] == "string" and "dataType" not in u for u in udfs)
    assert client.get("TimeEntries/entityInformation/userDefinedFields").json() == {"fields": []}
    assert client.get("Tickets/entityInformation").json()["info"]["hasUserDefinedFields"] is True


def test_ticket_history_needs_exactly_one_ticket_condition(client: httpx.Client) -> None:
    assert ids(client, "TicketHistory", [C_(op="eq", field="ticketID", value=1002)]) == [9001, 9003]
    assert ids(client, "TicketHistory", [C_(op="eq", field="TICKETID", value=1001)]) == [9000, 9002]
    for bad in (
        ALL,
        [C_(op="in", field="ticketID", value=[1001, 1002])],
        [C_(op="eq", field="ticketID", value=1001), C_(op="gt", field="id", value=0)],
        [C_(op="or", items=[C_(op="eq", field="ticketID", value=1001)])],
    ):
        assert "TicketHistory" in error(client.post("TicketHistory/query", json={"filter": bad}))


def test_ticket_attachments_need_a_top_level_ticket_condition(client: httpx.Client) -> None:
    # By ticket: the ticket's own attachment and those of its notes and time entries.
    assert ids(client, "TicketAttachments", [C_(op="eq", field="ticketID", value=1001)]) == [8001, 8002]
    assert ids(client, "TicketAttachments", [C_(op="in", field="TicketID", value=[1001, 1002])]) == [
        8001,
        8002,
        8003,
    ]
    assert ids(
        client,
        "TicketAttachments",
        [C_(op="in", field="ticketID", value=[1002]), C_(op="gt", field="id", value=0)],
    ) == [8003]
    count = client.post(
        "TicketAttachments/query/count", json={"filter": [C_(op="eq", field="ticketID", value=1002)]}
    )
    assert count.json() == {"queryCount": 1}
    # Without a top-level ticketID eq|in condition: 500 with an errors body, for queries and counts.
    for bad in (
        ALL,
        [C_(op="gte", field="attachDate", value="2026-01-01T00:00:00Z")],
        [C_(op="gte", field="ticketID", value=0)],
        [C_(op="in", field="parentID", value=[1001])],
        [C_(op="or", items=[C_(op="eq", field="ticketID", value=1001)])],
        [C_(op="in", field="ticketID", value=[])],
    ):
        assert "ticketID" in error(client.post("TicketAttachments/query", json={"filter": bad}))
        assert "ticketID" in error(client.post("TicketAttachments/query/count", json={"filter": bad}))
    # The child URL names its ticket.
    assert [a["id"] for a in client.get("Tickets/1002/Attachments").json()["items"]] == [8003]


# ----------------------------------------------------------------------------- routing, auth


def test_paths_are_case_insensitive_and_unknown_ones_404(client: httpx.Client) -> None:
    r = client.post("http://emu.invalid/atservicesrest/v1.0/tickets/QUERY", json={"filter": ALL})
    assert r.status_code == 200 and r.json()["pageDetails"]["count"] == 6
    assert client.post("NoSuchEntity/query", json={"filter": ALL}).status_code == 404
    assert (
        client.post("http://emu.invalid/ATServicesRest/V2.0/Tickets/query", json={"filter": ALL}).status_code
        == 404
    )
    assert client.get("Tickets/query/sideways").status_code == 404
    assert client.delete("Tickets/query").status_code == 405
    # an entity the schema knows but the tenant does not hold answers empty, not 404
    assert ids(client, "ServiceLevelAgreementResults", ALL) == []


@pytest.mark.parametrize(
    ("drop", "status", "message"),
    [
        ("ApiIntegrationCode", 500, "IntegrationCode is invalid"),
        ("UserName", 500, "Zone information could not be determined for user"),
        ("Secret", 401, "Authorization has been denied"),
    ],
)
def test_missing_or_wrong_credentials_answer_as_autotask_does(
    emu: Emulator, drop: str, status: int, message: str
) -> None:
    # An unknown user and a wrong integration code are 500 with a message, a wrong secret 401.
    headers = {k: v for k, v in HEADERS.items() if k != drop}
    with httpx.Client(transport=emu.transport(), base_url=BASE, headers=headers) as c:
        r = c.post("Tickets/query", json={"filter": ALL})
        assert r.status_code == status and message in error(r, status)
    with httpx.Client(transport=emu.transport(), base_url=BASE, headers={**HEADERS, drop: "wrong"}) as c:
        r = c.get("ThresholdInformation")
        assert r.status_code == status and message in error(r, status)


def test_impersonation_header_breaks_queries(client: httpx.Client) -> None:
    error(client.post("Tickets/query", json={"filter": ALL}, headers={"ImpersonationResourceId": "29682885"}))


def test_zone_information_with_or_without_auth(emu: Emulator) -> None:
    url = "http://discovery.invalid/atservicesrest/v1.0/zoneInformation"
    for headers in ({}, HEADERS):
        with httpx.Client(transport=emu.transport(), headers=headers) as c:
            r = c.get(url, params={"user": C.username})
            assert r.status_code == 200
            zone = r.json()
            assert zone["url"] == "http://discovery.invalid/ATServicesRest/"  # rewritten to the serving host
            assert zone["webUrl"] == "https://ww99.autotask.net/" and zone["ci"] == 99
    with httpx.Client(transport=emu.transport()) as c:
        assert c.get(url).status_code == 500
        assert c.get(url, params={"user": "someone@else.invalid"}).status_code == 500


# ----------------------------------------------------------------------------- budget, threads


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_threshold_information_counts_a_rolling_hour(tenant: Tenant) -> None:
    clock = FakeClock()
    emu = Emulator(tenant, request_threshold=5, clock=clock)
    with httpx.Client(transport=emu.transport(), base_url=BASE, headers=HEADERS) as c:
        info = c.get("ThresholdInformation").json()
        assert info == {
            "externalRequestThreshold": 5,
            "requestThresholdTimeframe": 60,
            "currentTimeframeRequestCount": 1,
        }
        for _ in range(3):
            assert c.post("Tickets/query", json={"filter": ALL}).status_code == 200
        clock.now += 1800
        assert c.get("ThresholdInformation").json()["currentTimeframeRequestCount"] == 5
        r = c.post("Tickets/query", json={"filter": ALL})
        assert r.status_code == 500 and "request threshold" in error(r, 500)  # as Autotask: 500, not 429
        assert c.get("ThresholdInformation").status_code == 200  # the budget stays readable
        clock.now += 1801  # the first four requests leave the window
        assert c.get("ThresholdInformation").json()["currentTimeframeRequestCount"] == 3
        assert c.post("Tickets/query", json={"filter": ALL}).status_code == 200
    assert emu.request_count() == 4


def test_401_and_404_do_not_use_the_budget(emu: Emulator, client: httpx.Client) -> None:
    client.post("NoSuchEntity/query", json={"filter": ALL})
    httpx.Client(transport=emu.transport(), base_url=BASE).post("Tickets/query", json={"filter": ALL})
    client.post("Tickets/query", json={"filter": []})  # a validation error is a served request
    assert emu.request_count() == 1


def test_handler_is_a_pure_function(emu: Emulator) -> None:
    status, headers, body = emu.handle(
        "post",
        "http://h.invalid/ATServicesRest/V1.0/Tickets/query/count",
        HEADERS,
        json.dumps({"filter": ALL}).encode(),
    )
    assert (status, json.loads(body)) == (200, {"queryCount": 6})
    assert headers["content-type"].startswith("application/json")


def test_throttle_latency_past_half_the_threshold(tenant: Tenant) -> None:
    emu = Emulator(tenant, request_threshold=4, throttle_latency=True)
    with httpx.Client(transport=emu.transport(), base_url=BASE, headers=HEADERS) as c:
        start = time.perf_counter()
        for _ in range(2):
            c.post("Tickets/query/count", json={"filter": ALL})
        assert time.perf_counter() - start < 0.4
        start = time.perf_counter()
        c.post("Tickets/query/count", json={"filter": ALL})  # sees 2 of 4 used: 50%, no delay yet
        c.post("Tickets/query/count", json={"filter": ALL})
        assert time.perf_counter() - start >= 0.5


def test_thread_limit_in_process(tenant: Tenant) -> None:
    emu = Emulator(tenant, latency=0.6)
    statuses: list[int] = []
    lock = threading.Lock()

    def call(entity: str) -> None:
        with httpx.Client(transport=emu.transport(), base_url=BASE, headers=HEADERS) as c:
            status = c.post(f"{entity}/query", json={"filter": ALL}).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=call, args=("Tickets",)) for _ in range(5)]
    threads.append(threading.Thread(target=call, args=("TicketNotes",)))  # another endpoint: own limit
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 200, 200, 200, 500, 500]  # thread threshold exceeded: 500


# ----------------------------------------------------------------------------- faults


def faulty(tenant: Tenant, kind: str, **kw: Any) -> tuple[Emulator, httpx.Client]:
    emu = Emulator(tenant, faults=FaultPlan(rate=1.0, seed=3, kinds=(kind,), **kw))
    return emu, httpx.Client(transport=emu.transport(), base_url=BASE, headers=HEADERS)


def test_fault_429_and_500(tenant: Tenant) -> None:
    emu, c = faulty(tenant, "429", retry_after=2)
    rs = [c.post("Tickets/query", json={"filter": ALL}) for _ in range(12)]
    assert {r.status_code for r in rs} == {429}
    assert {r.headers.get("retry-after") for r in rs} == {"2", None}  # with and without Retry-After
    assert emu.stats.faults == {"429": 12} and emu.request_count() == 0
    emu, c = faulty(tenant, "500")
    assert "injected" in error(c.post("Tickets/query", json={"filter": ALL}))


def test_fault_drop_raises_transport_errors(tenant: Tenant) -> None:
    _, c = faulty(tenant, "drop")
    kinds = set()
    for _ in range(12):
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)) as info:
            c.post("Tickets/query", json={"filter": ALL})
        kinds.add(type(info.value))
    assert kinds == {httpx.RemoteProtocolError, httpx.ReadError}


def test_fault_slow_and_truncate(tenant: Tenant) -> None:
    emu, c = faulty(tenant, "slow", slow_seconds=0.2)
    start = time.perf_counter()
    r = c.post("Tickets/query", json={"filter": ALL})
    assert time.perf_counter() - start >= 0.2 and r.json()["pageDetails"]["count"] == 6
    assert emu.request_count() == 1  # a slow answer is still an answer
    emu, c = faulty(tenant, "truncate")
    r = c.post("Tickets/query", json={"filter": ALL})
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
    assert emu.request_count() == 0 and emu.stats.rows["Tickets"] == 0


def test_faults_are_deterministic_per_seed_and_have_no_effect(tenant: Tenant) -> None:
    def run(seed: int) -> tuple[list[str], list[int]]:
        emu = Emulator(
            tenant, faults=FaultPlan(rate=0.4, seed=seed, kinds=("429", "500", "drop", "truncate"))
        )
        outcomes: list[str] = []
        with httpx.Client(transport=emu.transport(), base_url=BASE, headers=HEADERS) as c:
            body = {"MaxRecords": 2, "filter": ALL}
            url, got = "Tickets/query", []
            while url:  # a retrying pager: faults must not change what it ends up with
                try:
                    r = c.post(url, json=body)
                    page = json.loads(r.content)
                except (httpx.TransportError, json.JSONDecodeError) as exc:
                    outcomes.append(type(exc).__name__)
                    continue
                if r.status_code != 200:
                    outcomes.append(str(r.status_code))
                    continue
                outcomes.append("ok")
                got += [i["id"] for i in page["items"]]
                url = page["pageDetails"]["nextPageUrl"]
        return outcomes, got

    a, b, other = run(11), run(11), run(12)
    assert a == b
    assert a[0] != other[0] or a != other
    assert a[1] == [1001, 1002, 1003, 1004, 1005, 1006]
    assert "ok" in a[0] and any(o != "ok" for o in a[0])


def test_fault_plan_validates_and_can_target_endpoints(tenant: Tenant) -> None:
    with pytest.raises(ValueError):
        FaultPlan(rate=1.5)
    with pytest.raises(ValueError):
        FaultPlan(rate=0.1, kinds=("teapot",))
    emu = Emulator(tenant, faults=FaultPlan(rate=1.0, kinds=("500",), endpoints=("next",)))
    with httpx.Client(transport=emu.transport(), base_url=BASE, headers=HEADERS) as c:
        assert c.get("ThresholdInformation").status_code == 200
        first = c.post("Tickets/query", json={"MaxRecords": 1, "filter": ALL})
        assert first.status_code == 200
        assert (
            c.post(
                first.json()["pageDetails"]["nextPageUrl"], json={"MaxRecords": 1, "filter": ALL}
            ).status_code
            == 500
        )


# ----------------------------------------------------------------------------- stats, refresh


def test_stats_count_requests_by_kind(emu: Emulator, client: httpx.Client) -> None:
    body = {"MaxRecords": 4, "filter": ALL}
    first = client.post("Tickets/query", json=body).json()
    client.post(first["pageDetails"]["nextPageUrl"], json=body)
    client.post("Tickets/query/count", json=body)
    client.get("Tickets/entityInformation/fields")
    client.get("Tickets/entityInformation/userDefinedFields")
    client.get("ThresholdInformation")
    client.get("Tickets/1001")
    s = emu.stats
    assert s.requests[("POST", "Tickets", "query")] == 1
    assert s.requests[("POST", "Tickets", "next")] == 1
    assert s.count(kind="count") == 1 and s.count(kind="fields") == 1 and s.count(kind="udfs") == 1
    assert s.count(entity="ThresholdInformation") == 1 and s.count(method="GET", kind="get") == 1
    assert s.total == 7 and s.rows["Tickets"] == 7 and s.statuses[200] == 7
    snap = s.snapshot()
    assert snap["requests"]["POST Tickets query"] == 1 and snap["total"] == 7
    s.reset()
    assert s.total == 0


def test_refresh_after_tenant_changes(emu: Emulator, client: httpx.Client, tenant: Tenant) -> None:
    assert ids(client, "Tickets", [C_(op="eq", field="status", value=5)]) == [1002]
    tenant.records["Tickets"][0]["status"] = 5  # in place: visible at once (rows are shared)
    assert ids(client, "Tickets", [C_(op="eq", field="status", value=5)]) == [1001, 1002]
    tenant.records["Tickets"].append({**tenant.records["Tickets"][0], "id": 999})  # length change: noticed
    assert ids(client, "Tickets", [C_(op="eq", field="status", value=5)]) == [999, 1001, 1002]
    tenant.records["Tickets"] = list(reversed(tenant.records["Tickets"]))[1:]  # replaced, unsorted, 999 gone
    assert ids(client, "Tickets", [C_(op="eq", field="status", value=5)]) == [1001, 1002]
    tenant.records["TicketNotes"][0]["ticketID"] = 1006  # an indexed field: needs refresh()
    emu.refresh()
    assert ids(client, "TicketNotes", [C_(op="eq", field="ticketID", value=1006)]) == [5001]
