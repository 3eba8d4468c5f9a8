"""A real ``roar serve`` for tests: its own data folder, bound to 127.0.0.1 on a free port (the
server prints it), stopped by PID with SIGTERM (its graceful shutdown) after the test."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from roar_cli import roar_binary


@dataclass
class Server:
    roar: Path
    data: Path
    #: ``--database`` (PostgreSQL) or None for the SQLite file in ``data``.
    database: str | None = None
    url: str = ""
    process: subprocess.Popen[str] | None = None
    log: Path = field(default_factory=Path)

    def token(self, name: str, *, writer: tuple[str, ...] = (), reader: tuple[str, ...] = (),
              admin: bool = False) -> str:
        argv = [str(self.roar), "serve", "token", "create", name, *self.storage_options()]
        for project in writer:
            argv += ["--writer", project]
        for project in reader:
            argv += ["--reader", project]
        if admin:
            argv.append("--admin")
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
        return result.stdout.strip()

    def storage_options(self) -> list[str]:
        return ["--database", self.database] if self.database else ["--data", str(self.data)]

    def request(self, method: str, path: str, token: str | None = None, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request; (status, headers, body) whatever the status."""
        request = urllib.request.Request(self.url + path, data=body, method=method)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def get(self, path: str, token: str | None) -> Any:
        status, _, body = self.request("GET", path, token)
        assert status == 200, (status, body[:2000])
        return json.loads(body)


def start_server(roar: Path, data: Path, *extra: str, database: str | None = None) -> Server:
    data.mkdir(parents=True, exist_ok=True)
    server = Server(roar=roar, data=data, database=database, log=data / "server.log")
    log = open(server.log, "w")
    server.process = subprocess.Popen(
        [str(roar), "serve", "--port", "0", *server.storage_options(), *extra],
        stdout=subprocess.PIPE, stderr=log, text=True)
    log.close()
    assert server.process.stdout is not None
    line = server.process.stdout.readline()  # "roar serve: listening on http://127.0.0.1:PORT (data: …)"
    if "listening on " not in line:
        server.process.wait(timeout=10)
        raise AssertionError(f"roar serve did not start: {line!r}\n{server.log.read_text()}")
    server.url = line.split("listening on ", 1)[1].split()[0]
    assert server.url.startswith(("http://127.0.0.1:", "https://127.0.0.1:")), server.url
    deadline = time.monotonic() + 10
    while True:
        try:
            if server.request("GET", "/healthz")[0] == 200:
                return server
        except OSError:
            pass
        assert time.monotonic() < deadline, "roar serve never answered /healthz"
        time.sleep(0.05)


def stop_server(server: Server) -> int:
    """SIGTERM (the graceful shutdown), then the exit status."""
    assert server.process is not None
    if server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait()
            raise AssertionError("roar serve did not stop on SIGTERM within 20 s") from None
    return server.process.returncode


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def roar_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A running ``roar serve``, once with each backend: the same suite runs against both."""
    binary = roar_binary()
    if binary is None:
        pytest.skip("roar is not built: run scripts/build first")
    database = None
    if request.param == "postgres":
        postgres = request.getfixturevalue("postgres")
        database = postgres.create_database(f"roar_{secrets.token_hex(4)}")
    server = start_server(binary, tmp_path_factory.mktemp("server") / "data", database=database)
    try:
        yield server
    finally:
        stop_server(server)
