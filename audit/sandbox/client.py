"""An :class:`AutotaskClient` wired to the embedded sandbox emulator (in-process, no network).

Used by ``ticket-audit extract --sandbox``, the demo and the tests. Kept out of
``audit.sandbox`` so that package stays the emulator and generator only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from audit.source.autotask import AutotaskClient, Credentials

if TYPE_CHECKING:
    from audit.sandbox.emulator import Emulator, FaultPlan
    from audit.sandbox.model import Tenant
from audit.sandbox.emulator import Emulator
from audit.sandbox.generator import generate_tenant
from audit.source.autotask import ZoneInfo

__all__ = ["DEFAULT_SANDBOX_AS_OF", "sandbox_client", "sandbox_emulator"]

#: The default sandbox tenant's "now": fixed so the demo and tests are reproducible.
DEFAULT_SANDBOX_AS_OF = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def sandbox_emulator(tenant: Tenant | None = None, *, faults: FaultPlan | None = None) -> Emulator:
    """The emulator over ``tenant`` (default: the generator's default tenant)."""

    if tenant is None:
        tenant = generate_tenant(as_of=DEFAULT_SANDBOX_AS_OF)
    return Emulator(tenant, faults=faults)


def sandbox_client(
    tenant: Tenant | None = None,
    *,
    faults: FaultPlan | None = None,
    emulator: Emulator | None = None,
    max_retries: int = 6,
    backoff_base: float = 0.0,
    seed: int | None = 0,
) -> AutotaskClient:
    """A client answered in-process by the emulator over ``tenant`` (or the given ``emulator``).

    Back-off is 0 by default: in-process faults need no waiting, and the demo stays fast.
    """

    emu = emulator if emulator is not None else sandbox_emulator(tenant, faults=faults)
    creds = emu.credentials
    # The zone as the emulator's zoneInformation answers it (name and web URL included), so the
    # reports and the QA workbook carry the sandbox's zone and tenant id, as for a real tenant.
    zone = emu.tenant.zone
    return AutotaskClient(
        ZoneInfo(
            zone_name=str(zone.get("zoneName") or ""),
            url=emu.zone_url,
            web_url=str(zone.get("webUrl") or emu.base_url),
        ),
        Credentials(creds.username, creds.secret, creds.integration_code),
        transport=emu.transport(),
        max_retries=max_retries,
        backoff_base=backoff_base,
        seed=seed,
    )
