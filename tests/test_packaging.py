"""The version is written once (pyproject.toml) and the lock files pin what pyproject.toml asks for."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import audit
from audit.cli import cli

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
DEV_LOCK = REPO / "requirements-dev.lock"
RUNTIME_LOCK = REPO / "requirements.lock"


def _pins(lock: Path) -> dict[str, str]:
    """Package name -> pinned version, for every `name==version` line of a lock file."""
    pins = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"([A-Za-z0-9._-]+)==([^\s;\\]+)", line):
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _requirements(*extras: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    texts = list(project["dependencies"])
    for extra in extras:
        texts += project["optional-dependencies"][extra]
    return [Requirement(t) for t in texts]


def test_the_package_and_the_cli_print_pyprojects_version() -> None:
    version = PYPROJECT["project"]["version"]
    assert audit.__version__ == version
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"ticket-audit, version {version}"


@pytest.mark.parametrize(
    ("lock", "extras"),
    [(DEV_LOCK, tuple(PYPROJECT["project"]["optional-dependencies"])), (RUNTIME_LOCK, ())],
    ids=["dev", "runtime"],
)
def test_the_lock_pins_every_requirement_within_its_range(lock: Path, extras: tuple[str, ...]) -> None:
    """A dependency added to pyproject.toml without `make lock` fails here, naming it."""
    pins = _pins(lock)
    for requirement in _requirements(*extras):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock.name} lacks {requirement}: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{lock.name} pins {name}=={pins[name]}, outside {requirement}: run `make lock`"
        )


def test_the_image_runs_the_tested_versions() -> None:
    """The runtime lock (deploy/Dockerfile) is the dev lock (CI) less the test and dev tools."""
    dev, runtime = _pins(DEV_LOCK), _pins(RUNTIME_LOCK)
    assert runtime and {name: dev.get(name) for name in runtime} == runtime
    assert "pytest" not in runtime and "mypy" not in runtime


def test_every_package_of_the_tree_ships_in_the_wheel() -> None:
    """setuptools packages only what pyproject lists: a sub-package left out imports in an editable
    checkout and fails in the Docker image."""
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "audit").rglob("__init__.py")
    }
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert on_disk - listed == set()
