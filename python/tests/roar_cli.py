"""Driving the real ``roar`` binary from tests: a project in a temp folder, ``roar run``, and the
``roar dag --format json`` document (docs/dag-json.md) to assert on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def roar_binary() -> Path | None:
    """The roar built by scripts/build: ``$ROAR_BIN_DIR/roar``, else the debug build folder."""
    candidates = []
    if os.environ.get("ROAR_BIN_DIR"):
        candidates.append(Path(os.environ["ROAR_BIN_DIR"]) / "roar")
    candidates.append(REPO / ".build" / "debug" / "roar")
    for candidate in candidates:
        if candidate.is_file() and (candidate.parent / "libroar_preload.so").is_file():
            return candidate
    return None


def b3sum(path: Path) -> str:
    """The reference digest: the ``b3sum`` tool when installed, else the PyPI ``blake3`` package."""
    if shutil.which("b3sum"):
        out = subprocess.run(["b3sum", "--no-names", str(path)], check=True, capture_output=True, text=True)
        return out.stdout.strip()
    import blake3  # type: ignore[import-not-found]

    return blake3.blake3(Path(path).read_bytes()).hexdigest()


@dataclass
class Project:
    """A roar project in a temp folder, with the real binary."""

    root: Path
    roar: Path

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["NO_COLOR"] = "1"
        env.update(extra or {})
        return env

    def cli(self, *args: str, check: bool = True, env: dict[str, str] | None = None,
            cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(self.roar), *args], cwd=cwd or self.root, env=self.env(env),
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"roar {' '.join(args)} exited {result.returncode}\n"
                                 f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        return result

    def run(self, *command: str, check: bool = True, env: dict[str, str] | None = None,
            cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return self.cli("run", "--", *command, check=check, env=env, cwd=cwd, timeout=timeout)

    def dag(self) -> dict[str, Any]:
        document = json.loads(self.cli("dag", "--format", "json").stdout)
        assert document["schema"] == "roar.dag/1"
        return document

    def path(self, relative: str) -> str:
        return str(self.root / relative)


def new_project(parent: Path, *scripts: Path) -> Project:
    """A project initialised with the real binary in ``parent/proj``, with copies of ``scripts``."""
    binary = roar_binary()
    assert binary is not None, "roar is not built"
    root = parent / "proj"
    root.mkdir()
    project = Project(root=root, roar=binary)
    project.cli("init")
    for script in scripts:
        shutil.copy(script, root / script.name)
    return project


def last_run(dag: dict[str, Any]) -> dict[str, Any]:
    """The newest job started by ``roar run`` (role ``run``)."""
    runs = [job for job in dag["jobs"] if job["role"] == "run"]
    assert runs, "no run recorded"
    return max(runs, key=lambda job: job["step"])


def paths(refs: Sequence[dict[str, Any]]) -> set[str]:
    return {ref["path"] for ref in refs}


def ref(refs: Sequence[dict[str, Any]], path: str) -> dict[str, Any]:
    found = [r for r in refs if r["path"] == path]
    assert found, f"{path} not among {sorted(paths(refs))}"
    return found[0]


def composite_digest(components: Sequence[dict[str, Any]]) -> str:
    """A composite's ``blake3_merkle`` digest by the formula of docs/composites.md: ``components`` as
    ``{"name", "algorithm", "digest"}``, in any order."""
    import blake3  # type: ignore[import-not-found]

    def h(data: bytes) -> bytes:
        return blake3.blake3(data).digest()  # type: ignore[no-any-return]

    root = b"roar.composite/1\0"
    for part in sorted(components, key=lambda c: c["name"].encode()):
        fields = (part["name"], part["algorithm"], part["digest"])
        root += h(b"roar.composite.leaf/1\0" + b"".join(field.encode() + b"\0" for field in fields))
    return h(root).hex()


def start_and_kill_roar(project: Project, script: str, linger: float = 1) -> None:
    """Starts `roar run` on a shell script that touches `ready` when it is done and then lingers for
    `linger` seconds, SIGKILLs roar once `ready` is there, and waits for the command to end on its own."""
    import time

    process = subprocess.Popen([str(project.roar), "run", "sh", "-c", f"{script}; touch ready; sleep {linger}"],
                               cwd=project.root, env=project.env())
    deadline = time.time() + 30
    while not (project.root / "ready").exists() and time.time() < deadline:
        time.sleep(0.05)
    process.kill()
    process.wait()
    time.sleep(linger + 0.5)
