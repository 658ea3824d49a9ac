"""API records -> typed frames: the one normalisation the store, the frames and the tests share.

Timestamps are parsed tolerantly (with or without ``Z``, any fraction) into UTC; integers are
nullable; text keeps ``None`` and ``""`` distinct; UDFs become ``udf:<name>`` string columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from audit.source.schema import UDF_PREFIX, EntitySpec, FieldType

__all__ = ["TIMESTAMP_DTYPE", "empty_frame", "parse_timestamps", "records_to_frame"]

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
