"""The project both export test modules read (test_openlineage.py, test_prov.py): one real ``roar run``
of ray_scenarios/export_lineage.py against moto, then a second step that reads its output, and the
exports of it; plus the official OpenLineage JSON Schemas (``../shared/schemas/openlineage`` or
``$ROAR_OPENLINEAGE_SCHEMAS``) and roar's own facet schemas (``docs/schemas/``)."""

from __future__ import annotations

import json
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fixtures_ray import SCENARIOS, loopback_env, python_exe
from fixtures_s3 import S3Server
from roar_cli import REPO, Project, roar_binary

BUCKET = "roar-export"
ODD = "odd dir/we+ird:name é.txt"
RAW_STORED = "odd dir/latin\\xe9.txt"  # how the store spells the non-UTF-8 name (docs/store.md)
OWN_SCHEMAS = REPO / "docs" / "schemas"


@dataclass
class Exported:
    project: Project
    dag: dict[str, Any]
    hostname: str

    def path(self, relative: str) -> str:
        return str(self.project.root / relative)

    def job(self, function: str) -> dict[str, Any]:
        found = [j for j in self.dag["jobs"] if (j.get("ray") or {}).get("function", "").endswith("." + function)]
        assert len(found) == 1, (function, [(j.get("ray") or {}).get("function") for j in self.dag["jobs"]])
        return found[0]

    def runs(self) -> list[dict[str, Any]]:
        return sorted((j for j in self.dag["jobs"] if j["role"] == "run"), key=lambda j: j["step"])

    def export(self, *args: str) -> str:
        return self.project.cli("export", *args).stdout


def make_exported(tmp_path: Path, s3_server: S3Server) -> Exported:
    binary = roar_binary()
    assert binary is not None, "roar is not built: set ROAR_BIN_DIR or run scripts/build"
    root = tmp_path / "proj"
    root.mkdir()
    project = Project(root=root, roar=binary)
    project.cli("init")
    shutil.copy(SCENARIOS / "export_lineage.py", root / "export_lineage.py")
    env = {**loopback_env(), **s3_server.env()}
    result = project.run(python_exe(), "export_lineage.py", BUCKET, env=env, timeout=600)
    assert "failed as expected" in result.stdout, result.stderr[-4000:]
    project.run("sh", "-c", "cat summary.txt > final.txt")
    return Exported(project=project, dag=project.dag(), hostname=socket.gethostname())


def openlineage_schema_dir() -> Path:
    configured = os.environ.get("ROAR_OPENLINEAGE_SCHEMAS")
    directory = Path(configured) if configured else REPO.parent / "shared" / "schemas" / "openlineage"
    if not (directory / "OpenLineage.json").is_file():
        raise AssertionError(
            f"the official OpenLineage JSON Schemas are not in {directory} (no OpenLineage.json): "
            "put them there (see its README) or set ROAR_OPENLINEAGE_SCHEMAS to their folder")
    return directory


def load_schemas() -> list[dict[str, Any]]:
    files = sorted(openlineage_schema_dir().glob("*.json")) + sorted(OWN_SCHEMAS.glob("*.json"))
    return [json.loads(path.read_text()) for path in files]
