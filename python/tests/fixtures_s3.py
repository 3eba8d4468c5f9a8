"""A real S3 server for the tests: ``moto_server`` on 127.0.0.1, one per test module."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MOTO = REPO / ".venv" / "bin" / "moto_server"


@dataclass
class S3Server:
    endpoint: str

    def env(self) -> dict[str, str]:
        """What a program needs to reach it with boto3 (test credentials: moto accepts any)."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": "roar-test-key",
            "AWS_SECRET_ACCESS_KEY": "roar-test-secret-do-not-store",
            "AWS_DEFAULT_REGION": "us-east-1",
            "S3_ENDPOINT": self.endpoint,
        }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    if not MOTO.exists():
        pytest.fail(f"{MOTO} is missing: run scripts/setup (moto[server] is in python/requirements.txt)")
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROAR_", "LD_PRELOAD"))}
    with open(log, "wb") as out:
        process = subprocess.Popen([str(MOTO), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"moto_server did not start:\n{log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield S3Server(endpoint=f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
