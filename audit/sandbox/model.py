"""The sandbox tenant as data: what the generator produces and the emulator serves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

__all__ = ["Tenant", "SandboxCredentials", "SANDBOX_CREDENTIALS", "GROUND_TRUTH_COLUMNS"]

#: Columns of ``Tenant.ground_truth``: one row per planted failing check.
GROUND_TRUTH_COLUMNS = ("rule_id", "row_kind", "row_id", "ticket_id", "anchor_date")


@dataclass(frozen=True)
class SandboxCredentials:
    """The API user the sandbox accepts. Not secret: the sandbox is synthetic and local."""

    username: str = "sandbox-api@example.invalid"
    secret: str = "sandbox-secret-not-real"
    integration_code: str = "SANDBOXINTEGRATIONCODE"


SANDBOX_CREDENTIALS = SandboxCredentials()


@dataclass
class Tenant:
    """A synthetic Autotask tenant.

    ``records`` maps an entity name (as in :data:`audit.source.schema.ENTITIES`) to its items exactly as
    the REST API returns them (ISO-8601 strings, integer picklist values, ``userDefinedFields``
    lists). ``fields``/``udfs`` are the ``entityInformation`` answers per entity.
    """

    seed: int
    as_of: datetime
    records: dict[str, list[dict[str, Any]]]
    fields: dict[str, list[dict[str, Any]]]
    udfs: dict[str, list[dict[str, Any]]]
    zone: dict[str, Any]
    ground_truth: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(GROUND_TRUTH_COLUMNS))
    )
    name: str = "Sandbox MSP"
