"""Fixtures and helpers of the Ray runtime tests (test_runtime.py, test_ray_local.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHON_DIR = REPO / "python"
SITE_DIR = PYTHON_DIR / "roar_runtime" / "_site"
SCENARIOS = Path(__file__).resolve().parent / "ray_scenarios"
VENV_PYTHON = REPO / ".venv" / "bin" / "python"


def python_exe() -> str:
    return str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable


# ---------------------------------------------------------------------------------------------
# spool reading (docs/spool-format.md), for the tests only

_UNESCAPE = re.compile(rb"%([0-9A-F]{2})")


def unescape(field: bytes) -> str:
    return _UNESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), field).decode("utf-8", "surrogateescape")


@dataclass
class Record:
    file: str
    pid: int
    type: str
    fields: list[str]

    @property
    def tag(self) -> str:
        return self.fields[0]

    @property
    def event(self) -> dict[str, Any]:
        assert self.type == "E"
        return json.loads(self.fields[2])  # type: ignore[no-any-return]


def read_spool(directory: Path) -> list[Record]:
    records: list[Record] = []
    for path in sorted(Path(directory).glob("*.spool")):
        data = path.read_bytes()
        pid = int(path.name.split("-")[0])
        for line in data.split(b"\n")[:-1]:  # the last piece is empty or truncated
            parts = line.split(b"\t")
            records.append(Record(path.name, pid, parts[0].decode(), [unescape(p) for p in parts[1:]]))
    return records


def events(records: list[Record], name: str | None = None) -> list[Record]:
    found = [r for r in records if r.type == "E"]
    if name is not None:
        found = [r for r in found if r.event.get("event") == name]
    return found


# ---------------------------------------------------------------------------------------------
# environments


def loopback_env() -> dict[str, str]:
    """Ray on this machine's loopback only: with this Ray (Linux) ``ray.init`` otherwise picks
    the address of the outward interface as the node IP."""
    return {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def runtime_env_vars(spool: Path, **extra: str) -> dict[str, str]:
    """The environment ``roar run`` would give a Python program, without the roar binary:
    roar_runtime (and its sitecustomize) from the source tree, a spool directory."""
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("ROAR_") or key == "LD_PRELOAD":
            del env[key]
    env.update(loopback_env())
    env.update(
        {
            "ROAR_WRAP": "1",
            "ROAR_SPOOL": str(spool),
            "ROAR_RUN_ID": "test-run",
            "ROAR_TAG": "",
            "ROAR_RAY_ENABLED": "1",
            "ROAR_RAY_ACTOR_ATTRIBUTION": "per_call",
            "PYTHONPATH": os.pathsep.join([str(SITE_DIR), str(PYTHON_DIR), str(SCENARIOS)]),
        }
    )
    env.update(extra)
    return env


def preload_library() -> Path | None:
    """The built preload library, when there is one."""
    candidates = []
    if os.environ.get("ROAR_BIN_DIR"):
        candidates.append(Path(os.environ["ROAR_BIN_DIR"]) / "libroar_preload.so")
    candidates.append(REPO / ".build" / "debug" / "libroar_preload.so")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


@pytest.fixture
def spool_dir(tmp_path: Path) -> Iterator[Path]:
    spool = tmp_path / "spool"
    spool.mkdir()
    yield spool


def run_python(
    script: Path, args: list[str], env: dict[str, str], cwd: Path, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [python_exe(), str(script), *args], env=env, cwd=str(cwd), capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{script.name} exited {result.returncode}\n"
            f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-8000:]}"
        )
    return result


def copy_scenario(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copy(SCENARIOS / name, target)
    return target
