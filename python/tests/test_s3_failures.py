"""S3 calls that fail, through the real ``roar run`` (issue 10's bad-input cases): an endpoint nothing
listens on, a 403, expired credentials, a GetObject stream cut short. The program must see exactly
what it sees without roar (same output, same exception, same exit status), failed calls are no I/O,
and a read cut short is recorded as a read of the object (its ETag) without a content digest.

The faulty endpoint is a small HTTP server in this process on 127.0.0.1 that answers like S3 does for
these failures; it stands in for S3's misbehaviour, not for anything of roar's."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fixtures_ray import loopback_env
from roar_cli import Project, last_run, roar_binary

pytestmark = pytest.mark.skipif(roar_binary() is None, reason="roar is not built: run scripts/build first")

SCENARIO = Path(__file__).resolve().parent / "s3_scenarios" / "s3_failures.py"
PYTHON = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "python")
BODY = bytes(range(256)) * 4  # 1 KiB
ETAG = hashlib.md5(BODY).hexdigest()


class FaultyS3(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def error(self, status: int, code: str, message: str) -> None:
        body = f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body) if self.command != "HEAD" else 0))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        bucket = self.path.lstrip("/").split("/")[0]
        if bucket == "deny":
            return self.error(403, "AccessDenied", "Access Denied")
        if bucket == "expired":
            return self.error(400, "ExpiredToken", "The provided token has expired.")
        self.send_response(200)
        self.send_header("ETag", f'"{ETAG}"')
        self.send_header("Content-Length", str(len(BODY)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if self.command == "GET":
            # "cut": the connection drops after a tenth of the promised bytes.
            self.wfile.write(BODY[: len(BODY) // 10] if bucket == "cut" else BODY)
            self.wfile.flush()
            if bucket == "cut":
                self.close_connection = True

    do_GET = do_PUT = do_HEAD = answer


@pytest.fixture(scope="module")
def faulty_s3() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FaultyS3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def scrub(stderr: str) -> str:
    """The program's traceback, without roar's own summary lines."""
    return "\n".join(line for line in stderr.splitlines() if not line.startswith("roar:"))


def test_failed_calls_reach_the_program_unchanged_and_are_no_io(project: Project, faulty_s3: str) -> None:
    shutil.copy(SCENARIO, project.root / SCENARIO.name)
    env = {**loopback_env(), "FAULTY_S3": faulty_s3}
    plain_env = {k: v for k, v in os.environ.items() if not k.startswith("ROAR_")}
    plain = subprocess.run([PYTHON, SCENARIO.name], cwd=project.root, env={**plain_env, **env},
                           capture_output=True, text=True, timeout=120)
    traced = project.run(PYTHON, SCENARIO.name, check=False, env=env, timeout=120)

    assert plain.returncode == 1, plain.stderr
    assert traced.returncode == plain.returncode
    assert traced.stdout == plain.stdout
    assert scrub(traced.stderr).splitlines()[-1] == scrub(plain.stderr).splitlines()[-1]
    said = dict(line.split(": ", 1) for line in plain.stdout.splitlines())
    assert said["unreachable"].startswith("EndpointConnectionError")
    assert "AccessDenied" in said["denied put"] and "ExpiredToken" in said["expired credentials"]
    assert said["cut stream"].startswith("ResponseStreamingError"), said["cut stream"]
    assert said["whole object"] == f"ok {len(BODY)}"
    assert "403" in scrub(plain.stderr).splitlines()[-1]

    job = last_run(project.dag())
    assert job["status"] == "failed" and job["exit_code"] == 1
    assert not [r for r in job["outputs"] if r["kind"] == "s3"], "a denied put is no write"
    inputs = {r["path"]: r for r in job["inputs"] if r["kind"] == "s3"}
    # Denied, expired and unreachable calls are no reads; the two GetObjects that answered 200 are.
    assert set(inputs) == {"s3://cut/k", "s3://whole/k"}
    assert inputs["s3://whole/k"]["hashes"]["etag"] == ETAG
    assert "blake3" in inputs["s3://whole/k"]["hashes"]
    # Cut short: the object that was read, by its ETag; no digest of bytes that never all came.
    assert inputs["s3://cut/k"]["hashes"] == {"etag": ETAG}
    assert b"roar-test-secret-do-not-store" not in (project.root / ".roar" / "roar.db").read_bytes()
