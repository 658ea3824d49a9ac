"""Text slices of a subset of rows: the same values, in the same order, as a plain take."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.engine.text import _rows_of

FULL = pd.concat(
    [
        pd.Series([f"note {i} ✓" if i % 7 else None for i in range(k, k + 50)], dtype="string[pyarrow]")
        for k in (0, 50, 100)
    ],
    ignore_index=True,
)  # three Arrow chunks, some nulls


@pytest.mark.parametrize(
    "rows",
    [
        [3, 4, 60, 61, 149],  # ascending, across chunks
        [149, 3, 60, 4],  # unsorted
        [5, 5, 70, 2],  # repeated rows
        [42],
        [],
    ],
)
def test_rows_of_equals_take(rows: list[int]) -> None:
    part = np.asarray(rows, dtype=np.int64)
    got = _rows_of(FULL, part)
    want = pd.Series(FULL.array.take(part)).astype("string")
    assert got.tolist() == want.tolist()
    assert len(got) == len(part)
