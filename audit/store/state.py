"""``state.json`` of a snapshot: watermarks, coverage, zone, rule-set version and the run log.

What the next run needs from the last one, as plain data: read and written by the store
(:mod:`audit.store.snapshot`), never by anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["STORE_SCHEMA_VERSION", "RunEntry", "StoreState"]

#: Bumped when the on-disk layout or a column type changes; an older store is refused clearly.
STORE_SCHEMA_VERSION = 1


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_dt(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RunEntry:
    """One line of the run log."""

    run_id: str
    started: datetime
    finished: datetime | None = None
    as_of: datetime | None = None
    status: str = "ok"  # ok | failed | interrupted
    fetched: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    deleted_tickets: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("started", "finished", "as_of"):
            data[key] = _iso(data[key])
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunEntry:
        return cls(
            run_id=str(data["run_id"]),
            started=_parse_dt(data["started"]) or datetime.fromtimestamp(0, UTC),
            finished=_parse_dt(data.get("finished")),
            as_of=_parse_dt(data.get("as_of")),
            status=str(data.get("status", "ok")),
            fetched={str(k): int(v) for k, v in (data.get("fetched") or {}).items()},
            requests=int(data.get("requests", 0)),
            deleted_tickets=int(data.get("deleted_tickets", 0)),
            error=data.get("error"),
        )


@dataclass(frozen=True)
class StoreState:
    """``state.json`` of a snapshot: what the next run needs, and what the last runs did."""

    schema_version: int = STORE_SCHEMA_VERSION
    run_id: str | None = None
    as_of: datetime | None = None
    watermarks: dict[str, datetime] = field(default_factory=dict)
    #: Per child entity, the earliest instant its rows are complete from (first run's window);
    #: tickets older than it entering the snapshot later get their children back-filled.
    coverage: dict[str, datetime] = field(default_factory=dict)
    #: Per entity, ids of rows dated after the run that read them (kept out of the watermark):
    #: each is logged once, not on every run that reads it again.
    future_rows: dict[str, list[int]] = field(default_factory=dict)
    zone_name: str | None = None
    web_url: str | None = None
    ruleset_version: str | None = None
    runs: list[RunEntry] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "run_id": self.run_id,
            "as_of": _iso(self.as_of),
            "watermarks": {k: _iso(v) for k, v in sorted(self.watermarks.items())},
            "coverage": {k: _iso(v) for k, v in sorted(self.coverage.items())},
            "future_rows": {k: sorted(v) for k, v in sorted(self.future_rows.items()) if v},
            "zone_name": self.zone_name,
            "web_url": self.web_url,
            "ruleset_version": self.ruleset_version,
            "runs": [r.to_json() for r in self.runs],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoreState:
        def instants(key: str) -> dict[str, datetime]:
            out = {}
            for name, value in (data.get(key) or {}).items():
                parsed = _parse_dt(value)
                if parsed is not None:
                    out[str(name)] = parsed
            return out

        return cls(
            schema_version=int(data.get("schema_version", 0)),
            run_id=data.get("run_id"),
            as_of=_parse_dt(data.get("as_of")),
            watermarks=instants("watermarks"),
            coverage=instants("coverage"),
            future_rows={
                str(k): [int(i) for i in v if isinstance(i, int)]
                for k, v in (data.get("future_rows") or {}).items()
                if isinstance(v, list)
            },
            zone_name=data.get("zone_name"),
            web_url=data.get("web_url"),
            # Stores written by 0.1 spell the key "rule_set_version"; they are still read.
            ruleset_version=data.get("ruleset_version", data.get("rule_set_version")),
            runs=[RunEntry.from_json(r) for r in data.get("runs") or []],
        )
