"""Benchmark: the sandbox emulator serving pages of full tickets over loopback HTTP.

    python -m benchmarks.serve --tickets 20000

Serves ``--tickets`` tickets (300-character descriptions) of the tiny tenant on loopback and
pages through them by POST with ``MaxRecords`` 500, as the extractor does. Prints one JSON line:
``rows``, ``pages``, ``seconds`` and ``rows_per_s`` (the extraction benchmark asks the whole
path for >= 10,000 rows/s). A speed figure belongs here, never in a test: on a shared machine
it measures the load, not the code.
"""

from __future__ import annotations

import argparse
import json
import time

import httpx

from audit.sandbox._emu_tiny import _ticket, tiny_tenant
from audit.sandbox.emulator import Emulator, serve_http
from audit.sandbox.model import SANDBOX_CREDENTIALS


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20_000)
    args = parser.parse_args(argv)
    tenant = tiny_tenant()
    tenant.records["Tickets"] = [
        _ticket(i % 15 + 1, id=i + 1, description="x" * 300) for i in range(args.tickets)
    ]
    c = SANDBOX_CREDENTIALS
    headers = {"ApiIntegrationCode": c.integration_code, "UserName": c.username, "Secret": c.secret}
    body = {
        "MaxRecords": 500,
        "filter": [{"op": "gte", "field": "lastActivityDate", "value": "2026-01-01T00:00:00Z"}],
    }
    with serve_http(Emulator(tenant)) as srv, httpx.Client(headers=headers, timeout=30) as client:
        start, rows, pages = time.perf_counter(), 0, 0
        page = client.post(srv.zone_url + "V1.0/Tickets/query", json=body).json()
        while True:
            rows += len(page["items"])
            pages += 1
            if not page["pageDetails"]["nextPageUrl"]:
                break
            page = client.post(page["pageDetails"]["nextPageUrl"], json=body).json()
        seconds = time.perf_counter() - start
    result = {"rows": rows, "pages": pages, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
