"""README, "Running it in CI": the GitHub Actions and GitLab CI snippets parse and hold what a nightly
audit needs, and every documented command line parses with the real CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from audit.cli import cli
from tests.cli_support import assert_cli_accepts

README = Path(__file__).resolve().parents[1] / "README.md"
CRON = re.compile(r"^\S+ \S+ \S+ \S+ \S+$")


def _ci_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Running it in CI")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def _blocks(language: str, text: str | None = None) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", _ci_section() if text is None else text, flags=re.S)


def _yaml_snippets() -> tuple[dict[Any, Any], dict[Any, Any]]:
    blocks = _blocks("yaml")
    assert len(blocks) == 2, "the CI section holds exactly two YAML snippets: GitHub Actions, then GitLab CI"
    github, gitlab = (yaml.safe_load(b) for b in blocks)
    assert isinstance(github, dict) and isinstance(gitlab, dict)
    return github, gitlab


def _commands(text: str) -> list[list[str]]:
    """Every `ticket-audit ...` command line in a text (folded YAML scalars joined)."""
    out = []
    for match in re.finditer(r"ticket-audit (?:run|check|review|extract|evaluate|report)\b[^\n]*", text):
        words = shlex.split(match.group(0))
        out.append(words[1:])
    return out


def test_github_workflow() -> None:
    github, _ = _yaml_snippets()
    # YAML 1.1 reads the bare key `on` as boolean true.
    triggers: Any = github.get("on", github.get(True))
    assert CRON.match(triggers["schedule"][0]["cron"])
    assert github["concurrency"]["group"]
    [job] = github["jobs"].values()
    steps = job["steps"]
    uses = {s.get("uses", "").split("@")[0]: s for s in steps if "uses" in s}
    restore, save = uses["actions/cache/restore"], uses["actions/cache/save"]
    assert restore["with"]["path"] == save["with"]["path"] == ".ticket-audit/store"
    assert restore["with"]["restore-keys"].strip() and save["if"] == "always()"
    assert uses["actions/upload-artifact"]["if"] == "always()"
    assert uses["actions/upload-artifact"]["with"]["path"].rstrip("/") == "reports"
    [audit] = [s for s in steps if "ticket-audit run" in s.get("run", "")]
    assert "--fail-under" in audit["run"] and "--store .ticket-audit/store" in audit["run"]
    assert "--out reports" in audit["run"]
    assert "if" not in audit  # the audit step's exit code fails the job
    assert set(audit["env"]) == {"AUTOTASK_USERNAME", "AUTOTASK_SECRET", "AUTOTASK_INTEGRATION_CODE"}
    assert all("secrets." in v for v in audit["env"].values())


def test_gitlab_job() -> None:
    _, gitlab = _yaml_snippets()
    [job] = [v for k, v in gitlab.items() if isinstance(v, dict) and "script" in v]
    assert any("schedule" in r["if"] for r in job["rules"])
    assert job["resource_group"]
    [store_cache] = [c for c in job["cache"] if ".ticket-audit/store/" in c["paths"]]
    assert store_cache["when"] == "always"
    assert job["artifacts"]["when"] == "always"
    assert "reports/" in job["artifacts"]["paths"]
    assert job["artifacts"]["reports"]["junit"] == "reports/junit.xml"
    [script] = [s for s in job["script"] if "ticket-audit run" in s]
    assert "--fail-under" in script and "--store .ticket-audit/store" in script and "--out reports" in script


def test_documented_commands_parse_with_the_real_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "qa-review.xlsx").write_bytes(b"")  # `review import` wants an existing workbook path
    (tmp_path / "demo-output").mkdir()  # and the README's after-the-demo example names the demo's
    (tmp_path / "demo-output" / "qa-review.xlsx").write_bytes(b"")
    github, gitlab = _yaml_snippets()
    texts = list(_blocks("sh", README.read_text(encoding="utf-8")))
    texts += [s.get("run", "") for s in next(iter(github["jobs"].values()))["steps"]]
    texts += [s for job in gitlab.values() if isinstance(job, dict) for s in job.get("script", [])]
    commands = [c for t in texts for c in _commands(t)]
    assert any(c[0] == "check" for c in commands) and any(c[0] == "review" for c in commands)
    checked = 0
    for args in commands:
        if args[0] not in cli.commands:  # a command another part of the tool registers later (e.g. run)
            continue
        assert_cli_accepts(args)
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("code", ["**0**", "**1**", "**2**", "**3**", "2 > 3 > 1 > 0"])
def test_exit_codes_are_documented(code: str) -> None:
    assert code in README.read_text(encoding="utf-8")
