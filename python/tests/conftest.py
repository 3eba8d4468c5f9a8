"""Shared fixtures. Each area keeps its own fixtures in its own module; they are gathered here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from roar_cli import Project, roar_binary  # noqa: E402


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A fresh roar project (``roar init`` done) in a temp folder, driven by the real binary."""
    binary = roar_binary()
    if binary is None:
        pytest.skip("roar is not built: run scripts/build (or scripts/test) first")
    root = tmp_path / "proj"
    root.mkdir()
    proj = Project(root=root, roar=binary)
    proj.cli("init")
    return proj

from fixtures_cluster import ray_cluster  # noqa: E402,F401  (test_cluster_submit.py)
from fixtures_postgres import postgres  # noqa: E402,F401  (test_server.py)
