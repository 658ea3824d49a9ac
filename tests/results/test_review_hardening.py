"""The QA review import against hostile or careless input: each attack reproduced, then refused.

Concurrent imports (one reviewer's verdicts lost), a workbook zip bomb (inflated size, rows,
comments), a verdict formula without a computed value (skipped silently), a reviewer message
naming a column the workbook lacks, an import into a store that does not exist.
"""

from __future__ import annotations

import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

import audit.results.review as review_module
import audit.results.review_reader as reader_module
from audit.cli import cli
from audit.core.errors import EXIT_CONFIG, ConfigError
from audit.results.review_reader import MAX_COMMENT_CHARS
from audit.results.verdicts import load_verdicts, verdicts_path
from tests.results.test_review import _hand_made_workbook, do_import, review, run, workbook  # noqa: F401 (fixtures below)  # noqa: F401  (pytest fixtures)


def test_two_imports_at_once_keep_both_reviewers_verdicts(
    tmp_path: Path,
    workbook: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = review(workbook, tmp_path / "a.xlsx", {"CLO-01|ticket|100": ("Confirmed", "")})
    second = review(workbook, tmp_path / "b.xlsx", {"CLO-01|ticket|101": ("False positive", "in the note")})
    write = review_module.write_records

    def slow_write(*args: Any, **kwargs: Any) -> None:
        time.sleep(0.3)  # widen the read-merge-write window the race needs
        write(*args, **kwargs)

    monkeypatch.setattr(review_module, "write_records", slow_write)
    errors: list[BaseException] = []

    def do(path: Path) -> None:
        try:
            do_import(path, tmp_path)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=do, args=(p,)) for p in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert set(load_verdicts(verdicts_path(tmp_path / "store"))) == {"CLO-01|ticket|100", "CLO-01|ticket|101"}


def _bomb(path: Path, inflated: int) -> Path:
    """A real .xlsx with one extra part of ``inflated`` zero bytes (compresses about 1000:1)."""
    chunk = b"\0" * (1 << 20)
    with (
        zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/media/padding.bin", "w", force_zip64=True) as part,
    ):
        for _ in range(inflated >> 20):
            part.write(chunk)
    return path


def test_a_zip_bomb_is_refused_before_it_is_inflated(
    tmp_path: Path,
    workbook: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reader_module, "MAX_WORKBOOK_UNCOMPRESSED", 8 << 20)  # the real cap is 256 MiB
    bomb = _bomb(review(workbook, tmp_path / "bomb.xlsx", {"CLO-01|ticket|100": ("Confirmed", "")}), 16 << 20)
    assert bomb.stat().st_size < 1 << 20  # a small file...
    with pytest.raises(ConfigError, match=r"inflates to 16,8.* bytes, more than the 8,388,608") as info:
        do_import(bomb, tmp_path)
    assert info.value.exit_code == EXIT_CONFIG
    assert not (tmp_path / "store").exists()


def test_too_many_rows_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader_module, "MAX_SHEET_ROWS", 5)
    wb, ws = _hand_made_workbook(["Verdict", "Finding key", "Reviewer"])
    for i in range(6):
        ws.append(["Confirmed", f"CLO-01|ticket|{i}", "QA"])
    wb.save(tmp_path / "long.xlsx")
    with pytest.raises(ConfigError, match="more than 5 rows"):
        do_import(tmp_path / "long.xlsx", tmp_path)
    assert not (tmp_path / "store").exists()


def test_an_overlong_comment_is_refused_naming_the_cell(tmp_path: Path) -> None:
    wb, ws = _hand_made_workbook(["Verdict", "Finding key", "Comment", "Reviewer"])
    ws.append(["Confirmed", "CLO-01|ticket|1", "x" * (MAX_COMMENT_CHARS + 1), "QA"])
    wb.save(tmp_path / "comment.xlsx")
    with pytest.raises(ConfigError, match=r"Findings!A2: the comment has 2,001 characters"):
        do_import(tmp_path / "comment.xlsx", tmp_path)


def test_a_verdict_formula_without_a_value_is_reported_not_skipped(tmp_path: Path) -> None:
    wb, ws = _hand_made_workbook(["Verdict", "Finding key", "Reviewer"])
    ws.append(["Confirmed", "CLO-01|ticket|1", "QA"])
    ws.append(['=IF(1=1,"Confirmed","")', "CLO-01|ticket|2", "QA"])  # openpyxl saves no cached value
    wb.save(tmp_path / "formula.xlsx")
    assert load_workbook(tmp_path / "formula.xlsx", data_only=True)["Findings"]["A3"].value is None
    with pytest.raises(ConfigError, match=r"Findings!A3: the verdict is a formula without a computed value"):
        do_import(tmp_path / "formula.xlsx", tmp_path)
    assert not (tmp_path / "store").exists()  # nothing imported, not even the good row


@pytest.mark.parametrize(
    ("header", "expected", "absent"),
    [
        (["Verdict", "Finding key", "Reviewer"], "fill the Reviewer column or pass --reviewer NAME", None),
        (["Verdict", "Finding key"], "pass --reviewer NAME", "Reviewer column"),
    ],
)
def test_the_reviewer_error_names_only_columns_that_exist(
    tmp_path: Path, header: list[str], expected: str, absent: str | None
) -> None:
    wb, ws = _hand_made_workbook(header)
    ws.append(["Confirmed", "CLO-01|ticket|1"])
    wb.save(tmp_path / "who.xlsx")
    with pytest.raises(ConfigError) as info:
        do_import(tmp_path / "who.xlsx", tmp_path)
    assert expected in str(info.value) and (absent is None or absent not in str(info.value))


def test_import_into_a_store_that_does_not_exist_exits_2_and_writes_nothing(
    tmp_path: Path,
    workbook: Path,  # noqa: F811 (the fixture imported above)
) -> None:
    reviewed = review(workbook, tmp_path / "r.xlsx", {"CLO-01|ticket|100": ("Confirmed", "")})
    result = CliRunner().invoke(
        cli,
        [
            "review",
            "import",
            str(reviewed),
            "--store",
            str(tmp_path / "typo"),
            "--ruleset-version",
            "any",
            "--tenant",
            "Acme IT",
        ],
    )
    assert result.exit_code == EXIT_CONFIG and "no such store folder" in result.output
    assert not (tmp_path / "typo").exists()
