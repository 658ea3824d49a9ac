"""Behaviour pin: findings.csv and summary.json of two tenants, byte for byte.

A refactoring must not change what the audit finds or how it scores. The two tenants are the
embedded sandbox (``extract --sandbox``, the demo's tenant) and a smaller generated tenant with
another seed served over loopback HTTP; both are evaluated by the installed console script at the
sandbox's as-of, and the two files are compared with the copies under ``tests/golden/``.

A change that is *meant* to change findings (a new rule, a fixed message) regenerates them with
``UPDATE_GOLDEN=1 python -m pytest tests/test_golden_outputs.py`` and the diff goes in the same
commit, where a reviewer reads it (CONTRIBUTING.md, "adding a rule").
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.e2e_support import AS_OF, loopback_api, small_tenant, ticket_audit

GOLDEN = Path(__file__).parent / "golden"
PINNED = ("findings.csv", "summary.json")

#: The loopback emulator listens on a free port, which shows in the ticket links: the one byte
#: range that may differ between two runs.
_PORT = re.compile(rb"127\.0\.0\.1:\d+")


def _compare(name: str, out: Path) -> None:
    for file in PINNED:
        expected = GOLDEN / name / file
        actual = _PORT.sub(b"127.0.0.1:PORT", (out / file).read_bytes())
        if os.environ.get("UPDATE_GOLDEN") == "1":
            expected.parent.mkdir(parents=True, exist_ok=True)
            expected.write_bytes(actual)
            continue
        assert expected.exists(), f"{expected} is missing: run with UPDATE_GOLDEN=1 to create it"
        # Compare bytes, but show the first differing line: a 600-ticket diff is unreadable.
        if actual != expected.read_bytes():
            want = expected.read_text(encoding="utf-8").splitlines()
            got = actual.decode("utf-8").splitlines()
            first = next(
                (i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b),
                min(len(want), len(got)),
            )
            pytest.fail(
                f"{name}/{file} changed (line {first + 1}; {len(want)} lines pinned, {len(got)} now)\n"
                f"pinned: {want[first] if first < len(want) else '<end>'}\n"
                f"now:    {got[first] if first < len(got) else '<end>'}"
            )


@pytest.mark.slow
def test_sandbox_tenant_outputs_are_pinned(tmp_path: Path) -> None:
    store, out = tmp_path / "store", tmp_path / "out"
    extract = ticket_audit("extract", "--sandbox", "--store", store, cwd=tmp_path)
    assert extract.returncode == 0, extract.stderr
    evaluate = ticket_audit("evaluate", "--store", store, "--out", out, "--as-of", AS_OF, cwd=tmp_path)
    assert evaluate.returncode in (0, 1), evaluate.stderr
    _compare("sandbox", out)


@pytest.mark.slow
def test_generated_tenant_outputs_are_pinned(tmp_path: Path) -> None:
    store, out = tmp_path / "store", tmp_path / "out"
    with loopback_api(small_tenant(seed=23)) as api:
        extract = ticket_audit("extract", "--store", store, "--as-of", AS_OF, cwd=tmp_path, env=api.env)
        assert extract.returncode == 0, extract.stderr
    evaluate = ticket_audit("evaluate", "--store", store, "--out", out, "--as-of", AS_OF, cwd=tmp_path)
    assert evaluate.returncode in (0, 1), evaluate.stderr
    _compare("generated", out)
