"""A real PostgreSQL server for tests (Debian's package, installed by scripts/setup): a fresh
cluster in a temp folder, listening on 127.0.0.1 on a free port only (no Unix socket outside
that folder), trust authentication, stopped by ``pg_ctl stop`` (by its postmaster PID file)
after the tests. PostgreSQL refuses to run as root: as root the cluster belongs to ``postgres``."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Postgres:
    directory: Path
    port: int
    bin: Path
    as_user: list[str]

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run([str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                                 "-d", database, "-At", "-c", sql], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_postgres(base: Path) -> Postgres:
    binaries = postgres_bin()
    if binaries is None:
        raise AssertionError("PostgreSQL is not installed: run scripts/setup (it installs Debian's postgresql)")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        # pytest's temp folders are root's alone (0700): the postgres user gets a folder of its own.
        base = Path(tempfile.mkdtemp(prefix="roar-postgres-"))
        shutil.chown(base, "postgres")
    base.mkdir(parents=True, exist_ok=True)
    directory = base / "pgdata"
    subprocess.run([*as_user, str(binaries / "initdb"), "-D", str(directory), "-U", "postgres", "--auth=trust",
                    "-E", "UTF8", "--no-instructions"], check=True, capture_output=True, timeout=120)
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {directory} -c fsync=off"
    started = subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(directory), "-o", options,
                              "-l", str(directory / "server.log"), "-w", "-t", "60", "start"],
                             capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        log = (directory / "server.log").read_text(errors="replace") if (directory / "server.log").exists() else ""
        raise AssertionError(f"PostgreSQL did not start: {started.stderr}\n{log[-3000:]}")
    return Postgres(directory, port, binaries, as_user)


def stop_postgres(server: Postgres) -> None:
    subprocess.run([*server.as_user, str(server.bin / "pg_ctl"), "-D", str(server.directory), "-m", "fast", "-w",
                    "stop"], capture_output=True, timeout=120)
    if server.as_user:
        shutil.rmtree(server.directory.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    server = start_postgres(tmp_path_factory.mktemp("postgres"))
    try:
        yield server
    finally:
        stop_postgres(server)
