"""API records -> typed frames: the one normalisation the store, the frames and the tests share.

The ``entityInformation`` answers (picklists, UDF definitions) become the ``_picklists`` and
``_udfs`` frames here too.

Timestamps are parsed tolerantly (with or without ``Z``, any fraction) into UTC; integers are
nullable; text keeps ``None`` and ``""`` distinct; UDFs become ``udf:<name>`` string columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from audit.source.schema import UDF_PREFIX, EntitySpec, FieldType

__all__ = [
    "PICKLIST_COLUMNS",
    "TIMESTAMP_DTYPE",
    "UDF_COLUMNS",
    "empty_frame",
    "parse_timestamps",
    "picklists_frame",
    "records_to_frame",
    "typed_frame",
    "udfs_frame",
]

TIMESTAMP_DTYPE = "datetime64[us, UTC]"

_DTYPES: dict[FieldType, str] = {
    FieldType.INT: "Int64",
    FieldType.STR: "string",
    FieldType.DATETIME: TIMESTAMP_DTYPE,
    FieldType.DECIMAL: "Float64",
    FieldType.BOOL: "boolean",
}


def parse_timestamps(values: Iterable[Any]) -> pd.Series:
    """ISO-8601 strings (``Z`` or none, any fraction) -> UTC timestamps; null stays NaT."""
    series = pd.Series(list(values), dtype="object")
    parsed = pd.to_datetime(series, utc=True, format="ISO8601", errors="coerce")
    return parsed.astype(TIMESTAMP_DTYPE)


def _column(values: list[Any], ftype: FieldType) -> pd.Series:
    if ftype is FieldType.DATETIME:
        return parse_timestamps(values)
    if ftype is FieldType.DECIMAL:
        return pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").astype("Float64")
    if ftype is FieldType.BOOL:
        cleaned = [
            None
            if v is None
            else bool(int(v))
            if isinstance(v, (int, float, str)) and not isinstance(v, bool) and str(v).strip() in {"0", "1"}
            else bool(v)
            for v in values
        ]
        return pd.Series(cleaned, dtype="boolean")
    if ftype is FieldType.INT:
        return pd.Series([None if v is None else int(v) for v in values], dtype="Int64")
    return pd.Series([None if v is None else str(v) for v in values], dtype="string")


def empty_frame(spec: EntitySpec, udf_names: Sequence[str] = ()) -> pd.DataFrame:
    return records_to_frame(spec, [], udf_names)


def records_to_frame(
    spec: EntitySpec, records: Sequence[Mapping[str, Any]], udf_names: Sequence[str] = ()
) -> pd.DataFrame:
    """Typed frame of ``records`` (API items), sorted by id, one column per spec field.

    Field names are matched case-insensitively (the API's key case varies). Fields missing from
    a record are null. For entities with UDFs, ``udf_names`` fixes the UDF columns (so a frame
    has the same columns whatever rows it holds); unknown UDFs on records are kept too.
    """
    lower_to_field = {name.lower(): name for name in spec.fields}
    columns: dict[str, list[Any]] = {name: [] for name in spec.fields}
    udf_cols: dict[str, list[Any]] = {f"{UDF_PREFIX}{n}": [] for n in udf_names}
    for i, record in enumerate(records):
        seen = dict.fromkeys(spec.fields)
        for key, value in record.items():
            name = lower_to_field.get(key.lower())
            if name is not None:
                seen[name] = value
        for name, value in seen.items():
            columns[name].append(value)
        if spec.has_udfs:
            row_udfs = {
                f"{UDF_PREFIX}{u.get('name')}": u.get("value")
                for u in (record.get("userDefinedFields") or [])
            }
            for col in row_udfs.keys() - udf_cols.keys():
                udf_cols[col] = [None] * i
            for col, values in udf_cols.items():
                values.append(row_udfs.get(col))
    data = {name: _column(values, spec.fields[name]) for name, values in columns.items()}
    for col in sorted(udf_cols):
        data[col] = _column(udf_cols[col], FieldType.STR)
    frame = pd.DataFrame(data)
    if len(frame):
        frame = frame.sort_values(spec.key, kind="stable").reset_index(drop=True)
    return frame


# ------------------------------------------------------------------------- reference frames
# The tenant's picklists and UDF definitions (``entityInformation`` answers) as frames.

PICKLIST_COLUMNS: dict[str, str] = {
    "entity": "string",
    "field": "string",
    "value": "Int64",
    "label": "string",
    "parent_value": "Int64",
    "is_active": "boolean",
    "sort_order": "Int64",
}
UDF_COLUMNS: dict[str, str] = {
    "entity": "string",
    "name": "string",
    "label": "string",
    "data_type": "string",
    "is_picklist": "boolean",
    "is_required": "boolean",
    "is_active": "boolean",
}


def typed_frame(rows: Sequence[Mapping[str, Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    data = {name: pd.Series([r.get(name) for r in rows], dtype="object") for name in columns}
    frame = pd.DataFrame(data, columns=list(columns))
    return (
        frame.astype(dict(columns))
        if len(frame)
        else pd.DataFrame({n: pd.Series([], dtype=t) for n, t in columns.items()})
    )


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _bool_or_none(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return bool(value)


def picklists_frame(fields_by_entity: Mapping[str, Sequence[Mapping[str, Any]]]) -> pd.DataFrame:
    """``entityInformation/fields`` answers -> the ``_picklists`` frame.

    Picklist values are strings in this API but integers on records: they are stored as ints so
    they join with record columns. A value that is not an integer cannot appear on a record
    and is dropped. UDF picklists (given under the same entity) land with field ``udf:<name>``
    when the caller passes them with that name.
    """
    rows: list[dict[str, Any]] = []
    for ent, fields in sorted(fields_by_entity.items()):
        for fld in fields:
            if not fld.get("isPickList") and not fld.get("picklistValues"):
                continue
            for pv in fld.get("picklistValues") or []:
                value = _int_or_none(pv.get("value"))
                if value is None:
                    continue
                rows.append(
                    {
                        "entity": ent,
                        "field": str(fld.get("name")),
                        "value": value,
                        "label": None if pv.get("label") is None else str(pv.get("label")),
                        "parent_value": _int_or_none(pv.get("parentValue")),
                        "is_active": _bool_or_none(pv.get("isActive")),
                        "sort_order": _int_or_none(pv.get("sortOrder")),
                    }
                )
    frame = typed_frame(rows, PICKLIST_COLUMNS)
    return frame.sort_values(["entity", "field", "value"], kind="stable").reset_index(drop=True)


def udfs_frame(udfs_by_entity: Mapping[str, Sequence[Mapping[str, Any]]]) -> pd.DataFrame:
    """``entityInformation/userDefinedFields`` answers -> the ``_udfs`` frame."""
    rows = [
        {
            "entity": ent,
            "name": str(u.get("name")),
            "label": None if u.get("label") is None else str(u.get("label")),
            # UDF definitions call it ``type`` (REST swagger: UserDefinedFieldInformationResultModel).
            "data_type": None if u.get("type") is None else str(u.get("type")),
            "is_picklist": _bool_or_none(u.get("isPickList")),
            "is_required": _bool_or_none(u.get("isRequired")),
            "is_active": _bool_or_none(u.get("isActive", True)),
        }
        for ent, udfs in sorted(udfs_by_entity.items())
        for u in udfs
    ]
    frame = typed_frame(rows, UDF_COLUMNS)
    return frame.sort_values(["entity", "name"], kind="stable").reset_index(drop=True)
