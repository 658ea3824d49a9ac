"""The scheduling examples in deploy/ (shown in the README) parse, and call real CLI options."""

from __future__ import annotations

import configparser
import re
import shlex
import tomllib
from pathlib import Path

import click
import yaml

from tests.cli_support import assert_cli_accepts

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
README = Path(__file__).resolve().parents[1] / "README.md"
CRON_FIELD = r"(\*|\d+(-\d+)?)(/\d+)?(,(\d+(-\d+)?))*"


def test_systemd_units_parse_and_call_the_cli() -> None:
    service = configparser.ConfigParser(strict=True, interpolation=None)
    service.optionxform = str  # type: ignore[assignment,method-assign]
    service.read(DEPLOY / "ticket-audit.service")
    assert service["Service"]["Type"] == "oneshot"
    exec_start = shlex.split(service["Service"]["ExecStart"])
    assert exec_start[0].endswith("/ticket-audit")
    assert_cli_accepts(exec_start[1:])
    timer = configparser.ConfigParser(strict=True, interpolation=None)
    timer.optionxform = str  # type: ignore[assignment,method-assign]
    timer.read(DEPLOY / "ticket-audit.timer")
    assert re.fullmatch(r"\*-\*-\* \d\d:\d\d:\d\d", timer["Timer"]["OnCalendar"])
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_crontab_line_is_valid() -> None:
    lines = [ln for ln in (DEPLOY / "crontab").read_text().splitlines() if ln and not ln.startswith("#")]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    for f in fields[:5]:
        assert re.fullmatch(CRON_FIELD, f), f
    command = fields[5]
    run = command[command.index("ticket-audit run") :].split(">>")[0]
    assert_cli_accepts(shlex.split(run)[1:])


def test_kubernetes_cronjob_is_valid() -> None:
    doc = yaml.safe_load((DEPLOY / "cronjob.yaml").read_text())
    assert doc["kind"] == "CronJob" and doc["apiVersion"] == "batch/v1"
    spec = doc["spec"]
    assert all(re.fullmatch(CRON_FIELD, f) for f in spec["schedule"].split())
    assert spec["concurrencyPolicy"] == "Forbid"
    container = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"][0]["secretRef"]["name"]
    assert_cli_accepts(container["args"])
    # The example tags the image with the release it was built from: pyproject.toml's version.
    project = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    version = project["version"]
    assert container["image"].endswith(f":{version}")
    assert f"-t {container['image']} ." in (DEPLOY / "cronjob.yaml").read_text()


def test_dockerfile_installs_the_project() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11" in text
    assert 'ENTRYPOINT ["ticket-audit"]' in text


def test_readme_shows_the_examples_as_they_are() -> None:
    """The README shows each deploy file verbatim, so the documented example is the tested one."""
    readme = README.read_text()
    for name in ("ticket-audit.service", "ticket-audit.timer", "cronjob.yaml", "crontab"):
        assert f"deploy/{name}" in readme, name
        assert (DEPLOY / name).read_text().rstrip("\n") in readme, f"README's copy of deploy/{name} is stale"


def test_assert_cli_accepts_rejects_unknown_options() -> None:
    try:
        assert_cli_accepts(["config", "init", "--no-such-flag"])
    except click.UsageError:
        return
    raise AssertionError("an unknown option was accepted")
