"""Benchmark: a full extraction through the loopback emulator.

    python -m benchmarks.extract --tickets 100000

The emulator runs in a child process (its own interpreter and GIL, as a real server would be);
the parent extracts over real HTTP into a temporary store with the production client and
extractor. Prints one JSON line:

* ``query_requests`` — query + next-page requests the server saw;
* ``ideal_query_requests`` — the floor: Σ ceil(rows/500) over every query the run needed, where
  an entity read by ``ticketID in [...]`` (attachments: the API's rule) costs at least one
  request per 500 tickets asked, ``max(ceil(rows/500), ceil(tickets/500))``;
* ``ratio`` — ``query_requests / ideal_query_requests`` (target ≤ 1.05);
* ``reference_requests`` — the rest (threshold, counts, entityInformation);
* ``rows_per_second`` — rows fetched / wall time of ``extract()`` (target ≥ 10,000);
* ``next_night`` — the requests of a second, incremental run one day later on the unchanged
  tenant (the fixed nightly cost: counts, metadata, and the attachments of the tickets active
  in the report's trend weeks, which are read by ticket every night).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["main"]

AS_OF = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def _serve(conn: Connection, tickets: int, weeks: int, seed: int) -> None:
    """Child process: generate the tenant, serve it, answer "stats" requests until "stop"."""
    from audit.sandbox.emulator import Emulator, serve_http
    from audit.sandbox.generator import generate_tenant

    started = time.monotonic()
    tenant = generate_tenant(seed, tickets=tickets, weeks=weeks, as_of=AS_OF)
    emulator = Emulator(tenant)
    rows = {name: len(items) for name, items in tenant.records.items()}
    with serve_http(emulator) as server:
        conn.send({"zone_url": server.zone_url, "rows": rows, "generate_seconds": time.monotonic() - started})
        while True:
            message = conn.recv()
            if message == "stats":
                conn.send(emulator.stats.snapshot())
            else:
                break


def run(tickets: int, weeks: int, seed: int) -> dict[str, Any]:
    from audit.app.extract import PAGE_SIZE, extract
    from audit.core.config import ExtractSettings
    from audit.sandbox.model import SANDBOX_CREDENTIALS
    from audit.source.autotask import AutotaskClient, Credentials
    from audit.store.snapshot import Store

    ctx = mp.get_context("spawn")  # a fresh interpreter: no state shared with this one
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, tickets, weeks, seed), daemon=True)
    proc.start()
    try:
        info = parent.recv()
        creds = Credentials(
            SANDBOX_CREDENTIALS.username, SANDBOX_CREDENTIALS.secret, SANDBOX_CREDENTIALS.integration_code
        )
        settings = ExtractSettings(initial_days=weeks * 7 + 30)
        with (
            tempfile.TemporaryDirectory(prefix="bench-extract-") as tmp,
            AutotaskClient(info["zone_url"], creds) as client,
        ):
            started = time.monotonic()
            report = extract(client, Store(tmp), settings, as_of=AS_OF, progress=False)
            seconds = time.monotonic() - started
            parent.send("stats")
            stats = parent.recv()
            night = extract(client, Store(tmp), settings, as_of=AS_OF + timedelta(days=1), progress=False)
        parent.send("stop")
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()
    by_kind: dict[str, int] = {}
    for key, n in stats["requests"].items():
        kind = key.rsplit(" ", 1)[-1]
        by_kind[kind] = by_kind.get(kind, 0) + n
    query_requests = by_kind.get("query", 0) + by_kind.get("next", 0)
    ideal = sum(
        max(math.ceil(n / PAGE_SIZE), math.ceil(report.by_ticket.get(entity, 0) / PAGE_SIZE))
        for entity, n in report.fetched.items()
        if n or report.by_ticket.get(entity)
    )
    rows = report.rows
    return {
        "benchmark": "extract",
        "tickets": tickets,
        "weeks": weeks,
        "rows": rows,
        "rows_by_entity": report.fetched,
        "tickets_asked_by_entity": report.by_ticket,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "query_requests": query_requests,
        "ideal_query_requests": ideal,
        "ratio": round(query_requests / ideal, 4) if ideal else None,
        "reference_requests": report.requests - query_requests,
        "requests": report.requests,
        "planned_requests": report.planned_requests,
        "requests_by_kind": by_kind,
        "generate_seconds": round(info["generate_seconds"], 1),
        "next_night": {
            "requests": night.requests,
            "planned_requests": night.planned_requests,
            "rows_by_entity": night.fetched,
            "tickets_asked_by_entity": night.by_ticket,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.extract", description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--weeks", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    result = run(args.tickets, args.weeks, args.seed)
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
