"""The command line as a whole: piped output, error wording, shared options, usage errors.

Exit codes of the design: 0 met, 1 breached, 2 usage/config (nothing ran), 3 runtime.
"""

from __future__ import annotations

import csv
import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from audit.app.extract import extract
from audit.cli import _AuditGroup, _os_error_message, cli, main
from audit.core.errors import EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME, EXIT_THRESHOLD
from audit.sandbox.client import DEFAULT_SANDBOX_AS_OF, sandbox_client
from audit.sandbox.emulator import Emulator
from audit.store.snapshot import Store
from tests.e2e_support import AS_OF, small_tenant

REPO = Path(__file__).resolve().parents[2]
TICKET_AUDIT = str(Path(sys.executable).with_name("ticket-audit"))
BUNDLED_RULES = REPO / "rules"


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def stderr_of(result: Result) -> str:
    return result.stderr


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding one extraction of a small sandbox tenant."""
    path = tmp_path_factory.mktemp("cli") / "store"
    from audit.core.config import Config

    with sandbox_client(emulator=Emulator(small_tenant())) as client:
        extract(client, Store(path), Config(), as_of=DEFAULT_SANDBOX_AS_OF, progress=False)
    return path


@pytest.fixture(scope="module")
def evaluated(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``evaluate --out DIR`` of the store (summary.json, findings.csv): what ``check`` gates."""
    out = tmp_path_factory.mktemp("evaluated") / "out"
    result = invoke("evaluate", "--store", store_dir, "--out", out, "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    return out


# ------------------------------------------------------------------------------ piped output


def _closed_pipe_run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the console script with stdout into a pipe nobody reads any more (`| head -0`).

    The reader is gone before the first write, so every write meets a broken pipe: the
    deterministic form of `| head -1` stopping early.
    """
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [TICKET_AUDIT, *map(str, args)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            timeout=300,
        )
    finally:
        os.close(write_end)


def _head_1(*args: str | Path, cwd: Path) -> tuple[int, str, str]:
    """``ticket-audit ARGS | head -1`` in bash: (ticket-audit's exit code, head's output, stderr)."""
    command = " ".join(f"'{a}'" for a in [TICKET_AUDIT, *map(str, args)])
    proc = subprocess.run(
        ["bash", "-c", f"{command} 2>stderr.txt | head -1; exit ${{PIPESTATUS[0]}}"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )
    return proc.returncode, proc.stdout, (cwd / "stderr.txt").read_text()


def test_list_command_into_a_closed_pipe_exits_0_quietly(tmp_path: Path) -> None:
    proc = _closed_pipe_run("rules", "list", cwd=tmp_path)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert proc.stderr == ""

    code, out, err = _head_1("rules", "list", cwd=tmp_path)
    assert code == EXIT_OK and out.startswith("INT-01") and err == ""


def test_gate_into_a_closed_pipe_keeps_its_exit_code(evaluated: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(evaluated, out)
    baseline = tmp_path / "b.json"
    assert _closed_pipe_run("check", "--out", out, "--write-baseline", baseline, cwd=tmp_path).returncode == 0
    (out / "gate.json").unlink()

    proc = _closed_pipe_run(
        "check", "--out", out, "--baseline", baseline, "--fail-under", "99.9", cwd=tmp_path
    )
    assert proc.returncode == EXIT_THRESHOLD, proc.stderr  # the gate's own result, not 3
    assert "error" not in proc.stderr and "BrokenPipe" not in proc.stderr
    # The command ran to its end: the gate's results were written although nobody read stdout.
    assert json.loads((out / "gate.json").read_text())["exit_code"] == EXIT_THRESHOLD

    code, first, err = _head_1(
        "check", "--out", out, "--baseline", baseline, "--fail-under", "99.9", cwd=tmp_path
    )
    assert code == EXIT_THRESHOLD and first.startswith("FAIL") and "error" not in err


def test_broken_pipe_on_an_unguarded_path_is_not_an_internal_error() -> None:
    @click.group(cls=_AuditGroup)
    def group() -> None:
        pass

    @group.command("emit")
    def emit() -> None:
        raise BrokenPipeError(32, "Broken pipe")

    result = CliRunner().invoke(group, ["emit"])
    assert result.exit_code == EXIT_OK
    assert "internal error" not in result.output


# --------------------------------------------------------------------- environment problems


def test_unwritable_out_is_a_plain_runtime_error(store_dir: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    result = invoke("evaluate", "--store", store_dir, "--out", a_file / "out", "--as-of", AS_OF)
    assert result.exit_code == EXIT_RUNTIME
    err = stderr_of(result)
    assert "internal error" not in err
    assert f"ticket-audit: error: cannot create folder {a_file / 'out'}: Not a directory" in err


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_out_under_proc_names_the_path(store_dir: Path) -> None:
    result = invoke("evaluate", "--store", store_dir, "--out", "/proc/forbidden", "--as-of", AS_OF)
    assert result.exit_code == EXIT_RUNTIME
    assert (
        "ticket-audit: error: cannot create folder /proc/forbidden: No such file or directory"
        in stderr_of(result)
    )


def test_os_error_messages() -> None:
    assert _os_error_message(OSError(98, "Address already in use")) == "Address already in use"
    assert _os_error_message(PermissionError(13, "Permission denied", "/x/y.csv")) == (
        "cannot access /x/y.csv: Permission denied"
    )
    moved = OSError(18, "Invalid cross-device link", "/a", None, "/b")
    assert _os_error_message(moved) == "cannot move /a to /b: Invalid cross-device link"


# ---------------------------------------------------------------------------- shared options

COMMON = ("--config", "--store", "--out", "--from", "--to", "--week", "--as-of", "--rules", "--waivers")


def _help_records(command: click.Command) -> dict[str, tuple[str, str]]:
    ctx = click.Context(command)
    records = {}
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            record = param.get_help_record(ctx)
            assert record is not None
            for opt in param.opts:
                records[opt] = record
    return records


def _command(path: str) -> click.Command:
    command: click.Command = cli
    for name in path.split():
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


#: Each command's shared options (run / evaluate / report take every one of COMMON).
SHARED = {
    "run": COMMON,
    "evaluate": COMMON,
    "report": COMMON,
    "check": ("--config", "--out", "--as-of", "--waivers"),
    "review import": ("--config", "--store", "--waivers"),
}


def test_run_evaluate_report_share_their_options_and_help_texts() -> None:
    helps = {name: _help_records(_command(name)) for name in SHARED}
    for option in COMMON:
        shown = {name: helps[name].get(option) for name, options in SHARED.items() if option in options}
        assert len(set(shown.values())) == 1 and None not in shown.values(), (option, shown)


#: The gate `run` ends with and `check` re-runs: the same options, defined once (cli/_options.py).
GATE = ("--fail-under", "--baseline", "--write-baseline", "--tolerance")


def _options_of(command: click.Command) -> dict[str, click.Option]:
    return {opt: p for p in command.params if isinstance(p, click.Option) for opt in p.opts}


def test_run_and_check_share_the_gate_options() -> None:
    run, check = _command("run"), _command("check")
    options = {"run": _options_of(run), "check": _options_of(check)}
    helps = {"run": _help_records(run), "check": _help_records(check)}
    for option in GATE:
        mine, theirs = options["run"][option], options["check"][option]
        assert (mine.name, repr(mine.type), mine.default, mine.metavar) == (
            theirs.name,
            repr(theirs.type),
            theirs.default,
            theirs.metavar,
        ), option
        assert helps["run"][option] == helps["check"][option], option
    fail_under = options["check"]["--fail-under"].type
    assert isinstance(fail_under, click.FloatRange) and (fail_under.min, fail_under.max) == (0, 100)


@pytest.mark.parametrize("command", ["run", "check"])
@pytest.mark.parametrize("score", ["101", "-1"])
def test_a_fail_under_outside_0_to_100_is_a_usage_error(
    command: str, score: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--fail-under", score]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"Invalid value for '--fail-under': {float(score)} is not in the range 0<=x<=100." in err


def _all_commands(group: click.Group = cli, prefix: str = "") -> dict[str, click.Command]:
    out: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        out[prefix + name] = command
        if isinstance(command, click.Group):
            out.update(_all_commands(command, f"{prefix}{name} "))
    return out


def test_as_of_help_states_the_sandbox_default_where_there_is_one() -> None:
    # `run --sandbox` (like `extract --sandbox`) defaults to the sandbox tenant's as-of, not now.
    for name, command in _all_commands().items():
        records = _help_records(command)
        if "--as-of" in records and "--sandbox" in records:
            assert "sandbox" in records["--as-of"][1], (name, records["--as-of"])
    assert "checked run" in _help_records(cli.commands["check"])["--as-of"][1]


def test_config_and_store_read_the_same_everywhere() -> None:
    rules = cli.commands["rules"]
    assert isinstance(rules, click.Group)
    commands = [cli.commands[n] for n in ("run", "evaluate", "report", "extract", "doctor", "history")]
    commands += [rules.commands[n] for n in ("list", "show", "validate")]
    configs = {_help_records(c)["--config"] for c in commands}
    stores = {_help_records(c)["--store"] for c in commands if "--store" in _help_records(c)}
    assert len(configs) == 1 and len(stores) == 1, (configs, stores)
    (store_help,) = stores
    assert store_help[0] == "--store DIR" and "the config's `store`" in store_help[1]


def _rules_copy(tmp_path: Path, name: str = "intake.yaml") -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for file in ("definitions.yaml", name):
        shutil.copy(BUNDLED_RULES / file, folder / file)
    return folder / name


def test_report_takes_the_rules_and_waivers_evaluate_took(store_dir: Path, tmp_path: Path) -> None:
    rules = _rules_copy(tmp_path)
    evaluated = tmp_path / "evaluated"
    result = invoke("evaluate", "--store", store_dir, "--out", evaluated, "--as-of", AS_OF, "--rules", rules)
    assert result.exit_code == 0, result.output
    with (evaluated / "findings.csv").open(encoding="utf-8") as f:
        first = next(csv.DictReader(f))
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        f"waivers:\n  - rule: {first['rule_id']}\n    ticket: {first['ticket_id']}\n    reason: known\n"
        "    approved_by: qa\n    expires: 2099-12-31\n",
        encoding="utf-8",
    )

    reported = tmp_path / "reported"
    result = invoke(
        "report",
        "--store",
        store_dir,
        "--out",
        reported,
        "--as-of",
        AS_OF,
        "--rules",
        rules,
        "--waivers",
        waivers,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((reported / "summary.json").read_text())
    assert set(summary["rules"]) == set(json.loads((evaluated / "summary.json").read_text())["rules"])
    assert {rule_id[:4] for rule_id in summary["rules"]} == {"INT-"}  # not the bundled catalog
    assert summary["overall"]["waived"] >= 1 and "waivers" in summary

    missing = invoke("report", "--store", store_dir, "--out", reported, "--waivers", tmp_path / "nope.yaml")
    assert missing.exit_code == EXIT_CONFIG and "waivers file not found" in stderr_of(missing)


def test_sandbox_serve_shows_its_defaults_and_accepts_what_demo_accepts() -> None:
    from audit.sandbox.generator import generate_tenant

    sandbox = cli.commands["sandbox"]
    assert isinstance(sandbox, click.Group)
    serve = {p.name: p for p in sandbox.commands["serve"].params}
    demo = {p.name: p for p in cli.commands["demo"].params}
    defaults = inspect.signature(generate_tenant).parameters
    assert serve["tickets"].default == demo["tickets"].default == defaults["tickets"].default
    assert serve["weeks"].default == defaults["weeks"].default
    assert serve["as_of"].default == AS_OF  # the demo's "now"
    assert repr(serve["tickets"].type) == repr(demo["tickets"].type)
    records = _help_records(sandbox.commands["serve"])
    for option in ("--tickets", "--weeks", "--as-of"):
        assert "generator default" not in records[option][1]
        assert "[default: " in records[option][1], records[option]
    result = invoke("sandbox", "serve", "--tiny", "--tickets", "10")
    assert result.exit_code == EXIT_CONFIG and "50<=x<=200000" in result.output


@pytest.mark.parametrize("option", ["--from", "--to"])
def test_a_bad_date_says_what_a_date_looks_like(option: str) -> None:
    dates = {"--from": "2026-11-16", "--to": "2026-11-22", option: "16/11/2026"}
    result = invoke("report", "--from", dates["--from"], "--to", dates["--to"], "--as-of", AS_OF)
    assert result.exit_code == EXIT_CONFIG
    err = stderr_of(result)
    assert f"{option}: expected a date YYYY-MM-DD (for example 2026-11-16), got '16/11/2026'" in err
    assert "isoformat" not in err


# ----------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    "args",
    [
        ["report", "--bogus"],
        ["rules", "show"],
        ["check", "--tolerance", "-1"],
        ["nonsense"],
        ["report", "--rules"],
    ],
)
def test_click_usage_errors_exit_2_with_usage(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == EXIT_CONFIG
    assert "Error:" in capsys.readouterr().err  # click's own wording (and usage, where click shows it)


def test_main_restores_the_streams_it_guards(capsys: pytest.CaptureFixture[str]) -> None:
    saved = sys.stdout, sys.stderr
    assert main(["rules", "list"]) == EXIT_OK
    assert (sys.stdout, sys.stderr) == saved
    assert capsys.readouterr().out.startswith("INT-01")


def test_console_script_usage_error_exit_code(tmp_path: Path) -> None:
    proc = subprocess.run(
        [TICKET_AUDIT, "report", "--bogus"], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert proc.returncode == EXIT_CONFIG and "Usage:" in proc.stderr
