"""Fixtures of the app tests: a store holding one extraction of a small sandbox tenant."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from audit.app.extract import extract
from audit.core.config import Config
from audit.sandbox.client import DEFAULT_SANDBOX_AS_OF, sandbox_client
from audit.sandbox.generator import generate_tenant
from audit.store.snapshot import Store

AS_OF = DEFAULT_SANDBOX_AS_OF


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding one extraction of a small sandbox tenant (tests copy it)."""
    path = tmp_path_factory.mktemp("pipeline") / "store"
    tenant = generate_tenant(5, tickets=80, technicians=2, as_of=AS_OF)
    with sandbox_client(tenant) as client:
        extract(client, Store(path), Config(), as_of=AS_OF, progress=False)
    return path


@pytest.fixture
def store(snapshot: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(snapshot, tmp_path / "store"))
