"""``ticket-audit doctor``: every check against the sandbox, and each failure with its exit code.

The CLI is driven in-process (CliRunner); the API checks talk to the in-process emulator
(``--sandbox``) or to the emulator over loopback HTTP (the environment-variable path).
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from audit.app.doctor import CHECK_NAMES, CheckResult, exit_code, format_result, run_doctor
from audit.app.extract import extract
from audit.cli import cli
from audit.core.config import Config
from audit.core.errors import EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME
from audit.sandbox.client import DEFAULT_SANDBOX_AS_OF, sandbox_api, sandbox_client
from audit.sandbox.emulator import Emulator, SandboxServer, serve_http
from audit.sandbox.generator import generate_tenant
from audit.sandbox.model import SANDBOX_CREDENTIALS as C
from audit.sandbox.model import Tenant
from audit.store.snapshot import Store

SECRET = "tOpS3cret-Value-42"
CODE = "INTEGRATION-c0de-77"


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    return generate_tenant(as_of=DEFAULT_SANDBOX_AS_OF)


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory, tenant: Tenant) -> Path:
    """A store holding one published sandbox snapshot (what a first nightly run leaves)."""
    path = tmp_path_factory.mktemp("doctor") / "store"
    with sandbox_client(emulator=Emulator(tenant)) as client:
        extract(client, Store(path), Config(), as_of=DEFAULT_SANDBOX_AS_OF, progress=False)
    return path


@pytest.fixture(scope="module")
def server(tenant: Tenant) -> Iterator[SandboxServer]:
    with serve_http(Emulator(tenant)) as srv:
        yield srv


def listing(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and mtime: any write shows up."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            st = p.stat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def doctor(*args: str) -> Result:
    return CliRunner().invoke(cli, ["doctor", *args])


def lines_of(result: Result, name: str) -> list[str]:
    return [line for line in result.output.splitlines() if line[2:].startswith(f"{name} ")]


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------- all ok


def test_sandbox_all_ok_and_nothing_written(
    store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before_store, before_cwd = listing(store_dir), listing(tmp_path)
    result = doctor("--sandbox", "--store", str(store_dir))
    assert result.exit_code == EXIT_OK, result.output
    checks = result.output.splitlines()[:-1]
    assert [line[2:].split()[0] for line in checks] == list(CHECK_NAMES)
    assert all(line.startswith("✓ ") for line in checks), result.output
    assert "exit 0" in result.output.splitlines()[-1]
    # No side effects: not a byte, not a lock, not a history file, in the store or the cwd.
    assert listing(store_dir) == before_store
    assert listing(tmp_path) == before_cwd


def test_absent_store_is_a_warning_and_is_not_created(tmp_path: Path) -> None:
    target = tmp_path / "new" / "store"
    result = doctor("--sandbox", "--store", str(target))
    assert result.exit_code == EXIT_OK, result.output
    (line,) = lines_of(result, "store")
    assert line.startswith("! ") and "first run will create it" in line
    assert not (tmp_path / "new").exists()
    assert listing(tmp_path) == {}


def test_env_credentials_over_loopback_http(server: SandboxServer, tmp_path: Path) -> None:
    env = {
        "AUTOTASK_USERNAME": C.username, "AUTOTASK_SECRET": C.secret,
        "AUTOTASK_INTEGRATION_CODE": C.integration_code, "AUTOTASK_DISCOVERY_URL": server.base_url,
    }  # fmt: skip
    results = run_doctor(store_dir=tmp_path / "s", environ=env, pdf=False)
    by_name = {r.name: r for r in results}
    for name in ("credentials", "zone", "api", "budget", "mapping"):
        assert by_name[name].status == "ok", by_name[name]
    assert "live from the API" in by_name["mapping"].message
    assert exit_code(results) == EXIT_OK


# ------------------------------------------------------------------------------- mapping


def test_mapping_typo_fails_naming_the_close_match(tmp_path: Path) -> None:
    config = write_config(tmp_path / "ta.toml", '[mapping]\nescalation_queues = ["N2 - Suport"]\n')
    result = doctor("--sandbox", "--config", str(config), "--store", str(tmp_path / "store"))
    assert result.exit_code == EXIT_CONFIG, result.output
    (line,) = [ln for ln in lines_of(result, "mapping") if ln.startswith("✗ ")]
    assert "mapping.escalation_queues: 'N2 - Suport' not found; did you mean 'N2 - Support'?" in line
    assert str(config) in line  # the hint says where to fix it


def test_mapping_udf_typo_and_missing_default_label(tmp_path: Path) -> None:
    config = write_config(tmp_path / "ta.toml", '[mapping]\nimpact_udf = "Impcat"\n')
    cfg_results = run_doctor(config_file=config, store_dir=tmp_path / "s", sandbox=sandbox_api(), pdf=False)
    mapping = [r for r in cfg_results if r.name == "mapping"]
    assert [r.status for r in mapping] == ["fail"]
    assert "mapping.impact_udf: 'Impcat' not found; did you mean 'Impact'?" in mapping[0].message
    assert exit_code(cfg_results) == EXIT_CONFIG


def test_default_label_missing_from_tenant_is_only_a_warning(tenant: Tenant, tmp_path: Path) -> None:
    # A tenant that renamed "Complete" to "Completed": the catalog default no longer matches.
    fields = {ent: [dict(f) for f in fl] for ent, fl in tenant.fields.items()}
    for f in fields["Tickets"]:
        if f["name"] == "status":
            f["picklistValues"] = [
                {**v, "label": "Completed"} if v["label"] == "Complete" else v for v in f["picklistValues"]
            ]
    renamed = dataclasses.replace(tenant, fields=fields)
    results = run_doctor(store_dir=tmp_path / "s", sandbox=sandbox_api(Emulator(renamed)), pdf=False)
    (warning,) = [r for r in results if r.name == "mapping"]
    assert warning.status == "warn"
    assert "'Complete' not found; did you mean 'Completed'?" in warning.message
    assert exit_code(results) == EXIT_OK


def test_mapping_falls_back_to_the_store_without_api(store_dir: Path) -> None:
    config_results = run_doctor(store_dir=store_dir, environ={}, pdf=False)
    (mapping,) = [r for r in config_results if r.name == "mapping"]
    assert mapping.status == "ok" and "from the store snapshot" in mapping.message


# ------------------------------------------------------------------------------- credentials, API


def test_missing_credentials_are_named_and_secrets_never_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOTASK_SECRET", SECRET)
    monkeypatch.setenv("AUTOTASK_INTEGRATION_CODE", CODE)
    result = doctor("--store", str(tmp_path / "store"))
    assert result.exit_code == EXIT_CONFIG, result.output
    (line,) = lines_of(result, "credentials")
    assert line.startswith("✗ ") and "AUTOTASK_USERNAME" in line
    assert "AUTOTASK_SECRET" not in line.split("—")[0]  # only the missing one is named missing
    assert SECRET not in result.output and CODE not in result.output
    assert lines_of(result, "zone")[0].startswith("! ")  # skipped, not failed twice


def test_refused_credentials_fail_at_runtime_without_echoing_them(
    server: SandboxServer, tmp_path: Path
) -> None:
    env = {
        "AUTOTASK_USERNAME": "someone@example.invalid", "AUTOTASK_SECRET": SECRET,
        "AUTOTASK_INTEGRATION_CODE": CODE, "AUTOTASK_ZONE_URL": server.zone_url,
    }  # fmt: skip
    results = run_doctor(store_dir=tmp_path / "s", environ=env, pdf=False)
    (api,) = [r for r in results if r.name == "api"]
    assert api.status == "fail" and "credentials" in api.hint
    text = "\n".join(format_result(r) for r in results)
    assert SECRET not in text and CODE not in text and "someone@example.invalid" not in text
    assert exit_code(results) == EXIT_RUNTIME


@pytest.mark.parametrize(
    ("variable", "wrong", "check", "said"),
    [
        ("AUTOTASK_INTEGRATION_CODE", CODE, "api", "IntegrationCode is invalid"),
        ("AUTOTASK_SECRET", SECRET, "api", "HTTP 401"),
        ("AUTOTASK_USERNAME", "someone@example.invalid", "zone", "Zone information could not be determined"),
    ],
)
def test_refused_credentials_name_the_variable_to_check(
    variable: str, wrong: str, check: str, said: str, server: SandboxServer, tmp_path: Path
) -> None:
    # Autotask answers an unknown user and a wrong integration code with HTTP 500, not 401.
    env = {
        "AUTOTASK_USERNAME": C.username, "AUTOTASK_SECRET": C.secret,
        "AUTOTASK_INTEGRATION_CODE": C.integration_code, variable: wrong,
    }  # fmt: skip
    if check == "zone":
        env["AUTOTASK_DISCOVERY_URL"] = server.base_url  # discovery does not know the user
    else:
        env["AUTOTASK_ZONE_URL"] = server.zone_url
    results = run_doctor(store_dir=tmp_path / "s", environ=env, pdf=False)
    (failed,) = [r for r in results if r.name == check]
    assert failed.status == "fail" and said in failed.message
    assert f"check {variable}" in failed.hint and "refused the credentials" in failed.hint
    assert wrong not in "\n".join(format_result(r) for r in results)
    assert exit_code(results) == EXIT_RUNTIME


def test_unreachable_api_exits_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AUTOTASK_USERNAME", C.username)
    monkeypatch.setenv("AUTOTASK_SECRET", C.secret)
    monkeypatch.setenv("AUTOTASK_INTEGRATION_CODE", C.integration_code)
    monkeypatch.setenv("AUTOTASK_ZONE_URL", f"http://127.0.0.1:{port}/ATServicesRest/")
    result = doctor("--store", str(tmp_path / "store"))
    assert result.exit_code == EXIT_RUNTIME, result.output
    assert lines_of(result, "api")[0].startswith("✗ ")
    assert C.secret not in result.output


def test_budget_above_half_used_is_a_warning(tenant: Tenant, tmp_path: Path) -> None:
    emu = Emulator(tenant, request_threshold=10)
    with sandbox_client(emulator=emu) as client:
        for _ in range(6):
            client.threshold()
    results = run_doctor(store_dir=tmp_path / "s", sandbox=sandbox_api(emu), pdf=False)
    (budget,) = [r for r in results if r.name == "budget"]
    assert budget.status == "warn" and "(70%)" in budget.message
    assert exit_code(results) == EXIT_OK


# ------------------------------------------------------------------------------- store, config, rules


def test_unreadable_store_exits_3(store_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "CURRENT").write_text("20990101T000000000000Z-deadbeef\n")  # names a missing snapshot
    result = doctor("--sandbox", "--store", str(broken))
    assert result.exit_code == EXIT_RUNTIME, result.output
    (line,) = lines_of(result, "store")
    assert line.startswith("✗ ") and "missing" in line

    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    result = doctor("--sandbox", "--store", str(a_file))
    assert result.exit_code == EXIT_RUNTIME
    assert "is not a folder" in lines_of(result, "store")[0]


def test_invalid_rules_dir_exits_2(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.yaml").write_text("step: intake\nrules:\n  - id: X-01\n    bogus: [\n", encoding="utf-8")
    config = write_config(tmp_path / "ta.toml", f'rules_dir = "{rules}"\n')
    before = listing(tmp_path)
    result = doctor("--sandbox", "--config", str(config), "--store", str(tmp_path / "store"))
    assert result.exit_code == EXIT_CONFIG, result.output
    (line,) = lines_of(result, "rules")
    assert line.startswith("✗ ") and "bad.yaml" in line and "rules validate" in line
    assert "Traceback" not in result.output
    assert listing(tmp_path) == before

    config = write_config(tmp_path / "ta.toml", f'rules_dir = "{tmp_path / "nowhere"}"\n')
    result = doctor("--sandbox", "--config", str(config), "--store", str(tmp_path / "store"))
    assert result.exit_code == EXIT_CONFIG
    assert "no such rule file or folder" in lines_of(result, "rules")[0]


def test_invalid_config_is_reported_not_raised(tmp_path: Path) -> None:
    config = write_config(tmp_path / "ta.toml", "[mapping]\nclosed_statuse = ['Complete']\n")
    result = doctor("--sandbox", "--config", str(config), "--store", str(tmp_path / "store"))
    assert result.exit_code == EXIT_CONFIG, result.output
    (line,) = lines_of(result, "config")
    assert line.startswith("✗ ") and "ta.toml:2" in line and "unknown key" in line
    assert lines_of(result, "mapping")[0].startswith("! ")  # skipped: nothing to check it against
    assert lines_of(result, "rules")[0].startswith("✓ ")  # still checked, with the defaults


# ------------------------------------------------------------------------------- exit code, format


def test_exit_code_precedence() -> None:
    ok = CheckResult("a", "ok", "fine")
    runtime = CheckResult("store", "fail", "x", category="runtime")
    config = CheckResult("rules", "fail", "y", category="config")
    warn = CheckResult("budget", "warn", "z")
    assert exit_code([ok, warn]) == EXIT_OK
    assert exit_code([ok, runtime]) == EXIT_RUNTIME
    assert exit_code([runtime, config]) == EXIT_CONFIG


def test_format_result_has_symbol_and_hint_and_ascii_fallback() -> None:
    r = CheckResult("store", "fail", "line one\nline two", "do this")
    assert format_result(r) == "✗ store       line one line two — do this"
    assert format_result(r, encoding="ascii") == "x store       line one line two -- do this"


def test_a_crashing_check_is_a_failure_and_the_others_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import audit.app.doctor as doctor_module

    def boom(*_: object) -> CheckResult:
        raise RuntimeError("bug")

    monkeypatch.setattr(doctor_module, "check_budget", boom)
    results = run_doctor(store_dir=tmp_path / "s", sandbox=sandbox_api(), pdf=False)
    (budget,) = [r for r in results if r.name == "budget"]
    assert budget.status == "fail" and "RuntimeError: bug" in budget.message
    assert [r.name for r in results][-2:] == ["mapping", "store"]
    assert exit_code(results) == EXIT_RUNTIME


def test_missing_waivers_file_is_a_config_failure(tmp_path: Path) -> None:
    config = write_config(tmp_path / "ta.toml", f'[waivers]\nfile = "{tmp_path / "waivers.yaml"}"\n')
    results = run_doctor(config_file=config, store_dir=tmp_path / "s", sandbox=sandbox_api(), pdf=False)
    (waivers,) = [r for r in results if r.name == "waivers"]
    assert waivers.status == "fail" and "cannot read waivers file" in waivers.message
    assert exit_code(results) == EXIT_CONFIG


def test_rules_hint_names_a_command_that_exists(tmp_path: Path) -> None:
    # Bundled rules rejected because of the config: the hint is the config's validation.
    config = write_config(tmp_path / "ta.toml", '[rules."XYZ-99"]\nenabled = false\n')
    result = doctor("--sandbox", "--config", str(config), "--store", str(tmp_path / "store"))
    assert result.exit_code == EXIT_CONFIG, result.output
    (line,) = lines_of(result, "rules")
    assert "XYZ-99" in line and f"`ticket-audit config validate {config}` lists every problem" in line
    assert "the bundled rules`" not in line

    # A rules folder of the config's: `rules validate` of that folder, with the config.
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.yaml").write_text("step: intake\nrules:\n  - id: X-01\n    bogus: [\n", encoding="utf-8")
    config = write_config(tmp_path / "ta.toml", f'rules_dir = "{rules}"\n')
    result = doctor("--sandbox", "--config", str(config), "--store", str(tmp_path / "store"))
    (line,) = lines_of(result, "rules")
    assert f"`ticket-audit rules validate {rules} --config {config}` lists every problem" in line


def test_rules_check_makes_the_checks_run_makes_before_reading_data(tmp_path: Path) -> None:
    # Threshold names and rule-override ids are checked against the rule set (audit.app.pipeline.prepare).
    config = write_config(
        tmp_path / "ta.toml", "[thresholds]\noverall = 80\n\n[thresholds.step]\nclosur = 90\n"
    )
    result = doctor("--sandbox", "--config", str(config), "--store", str(tmp_path / "store"))
    assert result.exit_code == EXIT_CONFIG, result.output
    (line,) = lines_of(result, "rules")
    assert line.startswith("✗ ") and f"{config}:5: thresholds.step.closur: no such step" in line
    assert "did you mean 'closure'?" in line
    assert f"`ticket-audit config validate {config}` lists every problem" in line

    # A waivers problem is the waivers check's line, not reported again under rules.
    config = write_config(tmp_path / "ta.toml", f'[waivers]\nfile = "{tmp_path / "waivers.yaml"}"\n')
    (tmp_path / "waivers.yaml").write_text("waivers: [{rule: CLO-01}]\n", encoding="utf-8")
    result = doctor("--sandbox", "--config", str(config), "--store", str(tmp_path / "store"))
    assert result.exit_code == EXIT_CONFIG, result.output
    assert lines_of(result, "waivers")[0].startswith("✗ ")
    assert lines_of(result, "rules")[0].startswith("✓ ")


def test_a_short_secret_is_never_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    import httpx

    for name in ("AUTOTASK_USERNAME", "AUTOTASK_SECRET", "AUTOTASK_INTEGRATION_CODE"):
        monkeypatch.delenv(name, raising=False)  # only run_doctor's environ holds the values

    def echoing_discovery(request: httpx.Request) -> httpx.Response:
        # A broken proxy answering discovery with the request's Secret header as the zone url.
        return httpx.Response(200, json={"url": request.headers["Secret"]})

    env = {
        "AUTOTASK_USERNAME": "api-user@example.invalid", "AUTOTASK_SECRET": "xy",
        "AUTOTASK_INTEGRATION_CODE": CODE, "AUTOTASK_DISCOVERY_URL": "https://discovery.invalid/",
    }  # fmt: skip
    results = run_doctor(
        store_dir=tmp_path / "s", environ=env, transport=httpx.MockTransport(echoing_discovery), pdf=False
    )
    (zone,) = [r for r in results if r.name == "zone"]
    assert zone.status == "fail" and "absolute http(s) URL" in zone.message
    text = "\n".join(format_result(r) for r in results)
    assert not re.search(r"(?<![A-Za-z0-9])xy(?![A-Za-z0-9])", text), text
    assert "'***'" in zone.message


def test_a_crashing_check_never_echoes_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import audit.app.doctor as doctor_module

    secret = "s3cr3t-value-from-env"

    def boom(*_: object) -> CheckResult:
        raise RuntimeError(f"request to https://x.invalid/?secret={secret} failed")

    monkeypatch.setattr(doctor_module, "check_budget", boom)
    environ = {"AUTOTASK_SECRET": secret}
    monkeypatch.delenv("AUTOTASK_SECRET", raising=False)  # only the environ given to run_doctor holds it
    results = run_doctor(store_dir=tmp_path / "s", sandbox=sandbox_api(), pdf=False, environ=environ)
    (budget,) = [r for r in results if r.name == "budget"]
    assert budget.status == "fail" and "RuntimeError" in budget.message
    assert secret not in budget.message
