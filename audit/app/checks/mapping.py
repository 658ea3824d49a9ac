"""Doctor check of the tenant mapping: every label it names against the tenant's picklists and UDFs
(live from the API, else from the store's snapshot)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from audit.app.checks.api import (
    Api,
)
from audit.app.checks.result import CheckResult, fail, ok, quote_list, warn
from audit.core.config import Config
from audit.core.errors import (
    ApiError,
    StoreError,
)
from audit.core.suggest import close_matches, did_you_mean
from audit.engine.frames import MAPPING_LABELS, mapping_label_issues
from audit.store.snapshot import Store, picklists_frame

if TYPE_CHECKING:
    import pandas as pd


#: Mapping settings naming UDFs of Tickets, and the settings holding values of those UDFs.
UDF_SETTINGS = ("impact_udf", "urgency_udf", "on_call_udf", "vendor_case_udf")
UDF_VALUE_SETTINGS = {"impact_values": "impact_udf", "urgency_values": "urgency_udf"}


@dataclass
class _Tenant:
    """The tenant's picklists and UDFs, live from the API or from the store's snapshot."""

    picklists: pd.DataFrame
    udf_names: tuple[str, ...]
    udf_values: dict[str, tuple[str, ...]]  # UDF name -> picklist labels (picklist UDFs only)
    source: str


def _tenant_from_api(api: Api) -> _Tenant | str:
    if api.client is None or api.threshold is None:
        return "the API was not reached"
    entities = sorted({ent for ent, _ in MAPPING_LABELS.values()})
    try:
        fields = {ent: api.client.entity_fields(ent) for ent in entities}
        udfs = api.client.entity_udfs("Tickets")
    except (ApiError, httpx.HTTPError) as exc:
        return api.clean(f"reading the field lists failed: {exc}")
    names = tuple(sorted(str(u.get("name")) for u in udfs if u.get("name")))
    values = {
        str(u.get("name")): tuple(
            sorted(str(v.get("label")) for v in u.get("picklistValues") or [] if v.get("label"))
        )
        for u in udfs
        if u.get("isPickList") and u.get("picklistValues")
    }
    return _Tenant(picklists_frame(fields), names, values, "live from the API")


def _tenant_from_store(store_path: Path) -> _Tenant | str:
    store = Store(store_path)
    try:
        if not store.exists():
            return "the store holds no snapshot yet"
        picklists = store.picklists()
        udfs = store.udf_definitions()
    except StoreError as exc:
        return f"the store is unreadable ({exc})"
    tickets = udfs[udfs["entity"].astype("string").str.lower() == "tickets"]
    names = tuple(sorted(str(n) for n in tickets["name"].dropna()))
    return _Tenant(picklists, names, {}, f"from the store snapshot {store.snapshot_id} (API not checked)")


def _label_problem(
    setting: str, label: str, available: Sequence[str], where: str, explicit: bool, config: Config
) -> CheckResult:
    suggestions = close_matches(label, available)
    message = f"mapping.{setting}: {label!r} not found"
    message += f"; {did_you_mean(suggestions)}" if suggestions else f" in the tenant's {where}"
    hint = f"labels are case-sensitive; the tenant's {where}: {quote_list(available)}"
    if explicit:
        return fail(
            "mapping",
            message,
            f"fix [mapping] {setting} in {config.source or 'the config'}; {hint}",
            category="config",
        )
    return warn(
        "mapping",
        message + " (catalog default)",
        f"set [mapping] {setting} to the tenant's labels; {hint}",
        category="config",
    )


def check_mapping(config: Config | None, api: Api, store_path: Path | None) -> list[CheckResult]:
    if config is None:
        return [
            warn("mapping", "skipped: the config file is invalid", "fix the config first", category="config")
        ]
    tenant = _tenant_labels(api, store_path)
    if isinstance(tenant, str):
        return [
            warn(
                "mapping",
                f"not checked: {tenant}",
                "run doctor where the API is reachable",
                category="config",
            )
        ]
    results = _picklist_label_problems(config, tenant) + _udf_problems(config, tenant)
    if not results:
        mapping = config.mapping
        checked = sum(len(getattr(mapping, s)) for s in MAPPING_LABELS) + len(UDF_SETTINGS)
        results.append(
            ok(
                "mapping",
                f"all {checked} mapping labels found in the tenant's picklists and UDFs ({tenant.source})",
                category="config",
            )
        )
    return results


def _tenant_labels(api: Api, store_path: Path | None) -> _Tenant | str:
    """The tenant's picklists and UDFs, live from the API, else from the store's snapshot; or
    why neither could be read."""
    tenant = _tenant_from_api(api)
    if isinstance(tenant, str) and store_path is not None:
        api_reason = tenant
        tenant = _tenant_from_store(store_path)
        if isinstance(tenant, str):
            tenant = f"{api_reason} and {tenant}"
    return tenant


def _picklist_label_problems(config: Config, tenant: _Tenant) -> list[CheckResult]:
    """Picklist labels: the same judgement build_frames makes (explicit -> error, default ->
    warning); a setting's missing default labels are one warning together."""
    results: list[CheckResult] = []
    defaults: dict[str, list[Any]] = {}
    for issue in mapping_label_issues(config, tenant.picklists):
        where = f"{issue.entity}.{issue.field} picklist"
        if issue.explicit:
            results.append(_label_problem(issue.setting, issue.label, issue.available, where, True, config))
        else:
            defaults.setdefault(issue.setting, []).append(issue)
    for setting, group in defaults.items():
        first = group[0]
        where = f"{first.entity}.{first.field} picklist"
        if len(group) == 1:
            results.append(_label_problem(setting, first.label, first.available, where, False, config))
            continue
        labels = [i.label for i in group]
        suggestions = [s for i in group for s in close_matches(i.label, i.available)]
        message = f"mapping.{setting}: default labels {quote_list(labels)} are not in the tenant's {where}"
        if suggestions:
            message += f"; {did_you_mean(list(dict.fromkeys(suggestions)))}"
        results.append(
            warn(
                "mapping",
                message,
                f"harmless when the tenant does not use them; set [mapping] {setting} to the tenant's labels "
                f"to silence this ({quote_list(first.available)})",
                category="config",
            )
        )
    return results


def _udf_problems(config: Config, tenant: _Tenant) -> list[CheckResult]:
    """UDF names and picklist values, with the same explicit/default rule (frames only adds a
    missing UDF as an empty column, so a typo would silently make the impact/urgency rules "not
    measured")."""
    results: list[CheckResult] = []
    mapping = config.mapping
    for setting in UDF_SETTINGS:
        name = getattr(mapping, setting)
        if name not in tenant.udf_names:
            results.append(
                _label_problem(
                    setting,
                    name,
                    tenant.udf_names,
                    "Tickets UDFs",
                    setting in config.explicit_mapping_keys,
                    config,
                )
            )
    for setting, udf_setting in UDF_VALUE_SETTINGS.items():
        allowed = tenant.udf_values.get(getattr(mapping, udf_setting))
        if not allowed:  # a free-text UDF: any value may appear
            continue
        for value in getattr(mapping, setting):
            if value not in allowed:
                where = f"Tickets UDF {getattr(mapping, udf_setting)!r} picklist"
                results.append(
                    _label_problem(
                        setting, value, allowed, where, setting in config.explicit_mapping_keys, config
                    )
                )
    return results
