"""Fragment sessions on a real ``roar serve`` (docs/server.md, docs/server-api.md), with each
backend: a host makes a session for a run and gets a capability; batches sealed to the run's key
(``sealed_batches.seal``, the format's second implementation) are filed with it, listed and
fetched back byte for byte; the capability can do nothing else; and the server's database and
log hold none of the batches' plaintext."""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import pytest
from fixtures_postgres import postgres_bin
from fixtures_server import APIDocument, Server, roar_server  # noqa: F401  (fixture)
from roar_cli import roar_binary
from sealed_batches import new_run_key, open_batch, seal

pytestmark = pytest.mark.skipif(roar_binary() is None, reason="roar is not built: run scripts/build first")

PROJECT = "streams"
SECRET = "/home/alice/proj/data/very-secret-input.csv"


@dataclass
class Session:
    server: Server
    writer: str
    id: str
    run_id: str
    capability: str
    private: bytes
    public: bytes

    def batch(self, producer: str, seq: int, text: str = SECRET, session: str | None = None) -> bytes:
        plaintext = json.dumps({"session_id": self.run_id, "segments": [{"path": text}]}).encode()
        return seal(plaintext, self.public, producer, seq, session or self.run_id)

    def put(self, producer: str, seq: int, data: bytes, token: str | None = None) -> tuple[int, dict[str, Any]]:
        status, _, body = self.server.request(
            "PUT", f"/api/v1/sessions/{self.id}/batches/{producer}/{seq}", token or self.capability, data,
            headers={"Content-Type": "application/octet-stream"})
        return status, json.loads(body)


@pytest.fixture
def session(roar_server: Server) -> Session:
    writer = roar_server.token(f"host-{secrets.token_hex(3)}", writer=(PROJECT,))
    private, public = new_run_key()
    run_id = "run-" + secrets.token_hex(8)
    body = json.dumps({"run_id": run_id, "key_fingerprint": hashlib.sha256(public).hexdigest(), "ttl_s": 3600})
    status, _, answer = roar_server.request("POST", f"/api/v1/projects/{PROJECT}/sessions", writer, body.encode())
    assert status == 201, answer
    created = json.loads(answer)
    assert created["capability"].startswith("roarcap_") and created["session"]["run_id"] == run_id
    return Session(roar_server, writer, created["session"]["id"], run_id, created["capability"], private, public)


def test_batches_are_filed_listed_and_fetched_byte_for_byte(session: Session) -> None:
    sent = {(p, s): session.batch(p, s) for p in ("node-a", "node-b") for s in range(3)}
    for (producer, seq), data in sent.items():
        status, answer = session.put(producer, seq, data)
        assert status == 201 and answer["stored"] is True
    listed: list[dict[str, Any]] = []
    after = ""
    while True:
        page = session.server.get(f"/api/v1/sessions/{session.id}/batches?limit=4{after}", session.writer)
        listed += page["items"]
        if not page.get("next"):
            break
        after = f"&after={page['next']}"
    assert [(b["producer"], b["seq"]) for b in listed] == list(sent)  # in the order they arrived
    for item in listed:
        data = sent[(item["producer"], item["seq"])]
        assert item["size"] == len(data) and item["sha256"] == hashlib.sha256(data).hexdigest()
        status, _, fetched = session.server.request(
            "GET", f"/api/v1/sessions/{session.id}/batches/{item['producer']}/{item['seq']}", session.writer)
        assert status == 200 and fetched == data
        producer, seq, run, _, plaintext = open_batch(fetched, session.private)
        assert (producer, seq, run) == (item["producer"], item["seq"], session.run_id)
        assert SECRET in plaintext.decode()
    info = session.server.get(f"/api/v1/sessions/{session.id}", session.writer)
    assert info["batches"] == 6 and info["bytes"] == sum(len(d) for d in sent.values())


def test_appends_are_idempotent_and_names_are_checked(session: Session) -> None:
    first = session.batch("node-a", 7)
    assert session.put("node-a", 7, first)[0] == 201
    status, answer = session.put("node-a", 7, first)
    assert status == 200 and answer["stored"] is False  # a retry
    status, answer = session.put("node-a", 7, session.batch("node-a", 7))  # same name, other bytes
    assert status == 409 and "already filed" in answer["error"]["message"]
    status, answer = session.put("node-a", 8, session.batch("node-a", 9))
    assert status == 400 and "node-a#9, not node-a#8" in answer["error"]["message"]
    status, answer = session.put("node-a", 10, session.batch("node-a", 10, session="another-run"))
    assert status == 400 and "belongs to run another-run" in answer["error"]["message"]
    status, answer = session.put("node-a", 11, b"not a batch at all")
    assert status == 400 and "not a sealed roar batch" in answer["error"]["message"]


def test_the_capability_writes_its_session_and_nothing_else(session: Session, roar_server: Server) -> None:
    capability = session.capability
    for method, path in [("GET", f"/api/v1/sessions/{session.id}/batches"), ("GET", f"/api/v1/sessions/{session.id}"),
                         ("GET", f"/api/v1/projects/{PROJECT}/runs"), ("GET", "/api/v1/projects")]:
        status, _, body = roar_server.request(method, path, capability)
        assert status == 403, (path, body)
    register = json.dumps({"schema": "roar.register/1", "jobs": []}).encode()
    assert roar_server.request("POST", f"/api/v1/projects/{PROJECT}/register", capability, register)[0] == 403
    other = roar_server.request("POST", f"/api/v1/projects/{PROJECT}/sessions", session.writer, json.dumps(
        {"run_id": "run-other", "key_fingerprint": "0" * 64}).encode())
    other_id = json.loads(other[2])["session"]["id"]
    status, _, body = roar_server.request("PUT", f"/api/v1/sessions/{other_id}/batches/node-a/0", capability,
                                          session.batch("node-a", 0, session="run-other"))
    assert status == 403 and "another session" in json.loads(body)["error"]["message"]
    assert roar_server.request("GET", f"/api/v1/sessions/{session.id}", "roarcap_" + "x" * 43)[0] == 401
    reader = roar_server.token("reader", reader=(PROJECT,))
    assert roar_server.request("GET", f"/api/v1/sessions/{session.id}/batches", reader)[0] == 200
    assert roar_server.request("PUT", f"/api/v1/sessions/{session.id}/batches/node-a/0", reader,
                               session.batch("node-a", 0))[0] == 403
    stranger = roar_server.token("stranger", writer=("elsewhere",))
    assert roar_server.request("GET", f"/api/v1/sessions/{session.id}/batches", stranger)[0] == 403


def test_close_renew_and_expiry(session: Session, roar_server: Server) -> None:
    assert session.put("node-a", 0, session.batch("node-a", 0))[0] == 201
    status, _, body = roar_server.request("POST", f"/api/v1/sessions/{session.id}/renew", session.writer,
                                          json.dumps({"ttl_s": 7200}).encode())
    assert status == 200 and json.loads(body)["expires_at"] > time.time() + 7000
    status, _, body = roar_server.request("POST", f"/api/v1/sessions/{session.id}/close", session.capability)
    assert status == 200 and json.loads(body)["closed_at"]
    assert session.put("node-a", 1, session.batch("node-a", 1))[0] == 409
    assert roar_server.get(f"/api/v1/sessions/{session.id}/batches", session.writer)["items"]  # still readable

    short = roar_server.request("POST", f"/api/v1/projects/{PROJECT}/sessions", session.writer, json.dumps(
        {"run_id": "run-short", "key_fingerprint": "1" * 64, "ttl_s": 1}).encode())
    assert short[0] == 201
    short_id = json.loads(short[2])["session"]["id"]
    time.sleep(1.2)
    status, _, body = roar_server.request("GET", f"/api/v1/sessions/{short_id}/batches", session.writer)
    assert status == 410 and "expired" in json.loads(body)["error"]["message"]
    for bad in ({"run_id": "x y", "key_fingerprint": "0" * 64}, {"run_id": "r", "key_fingerprint": "abc"},
                {"run_id": "r", "key_fingerprint": "0" * 64, "ttl_s": 10**9}):
        status, _, body = roar_server.request("POST", f"/api/v1/projects/{PROJECT}/sessions", session.writer,
                                              json.dumps(bad).encode())
        assert status == 400, bad


def test_the_server_keeps_no_plaintext(session: Session, roar_server: Server) -> None:
    marker = f"/data/{secrets.token_hex(8)}/plain-path.parquet"
    for seq in range(3):
        assert session.put("node-z", seq, session.batch("node-z", seq, text=marker))[0] == 201
    assert marker.encode() not in database_bytes(roar_server)
    assert marker not in roar_server.log.read_text(errors="replace")
    assert session.capability not in roar_server.log.read_text(errors="replace")


def database_bytes(server: Server) -> bytes:
    """Everything the server's database holds: the SQLite files, or a dump of the PostgreSQL database."""
    if server.database:
        bin_dir = postgres_bin()
        assert bin_dir is not None
        return subprocess.run([str(bin_dir / "pg_dump"), server.database], capture_output=True, check=True,
                              timeout=120).stdout
    return b"".join(p.read_bytes() for p in server.data.glob("lineage.db*"))


def test_session_answers_match_the_openapi_document(session: Session, roar_server: Server) -> None:
    api = APIDocument(roar_server)
    sessions, one = "/api/v1/sessions/{session}", f"/api/v1/sessions/{session.id}"
    filed = "/api/v1/sessions/{session}/batches/{producer}/{seq}"
    data = session.batch("node-a", 0)
    for want in (201, 200, 409):
        status, _, answer = roar_server.request("PUT", f"{one}/batches/node-a/0", session.capability,
                                                data if want != 409 else session.batch("node-a", 0))
        assert status == want
        api.check(filed, "put", status, answer)
    for route, path, method, who, want in [
        (sessions, one, "get", session.writer, 200),
        (sessions + "/batches", one + "/batches", "get", session.writer, 200),
        (sessions + "/batches", one + "/batches", "get", session.capability, 403),
        (sessions + "/renew", one + "/renew", "post", session.writer, 200),
        (sessions + "/close", one + "/close", "post", session.writer, 200),
    ]:
        status, _, answer = roar_server.request(method.upper(), path, who, b"{}" if method == "post" else None)
        assert status == want, (path, answer)
        api.check(route, method, status, answer)
    status, _, answer = roar_server.request("POST", f"/api/v1/projects/{PROJECT}/sessions", session.writer,
                                            json.dumps({"run_id": "r2", "key_fingerprint": "2" * 64}).encode())
    api.check("/api/v1/projects/{project}/sessions", "post", status, answer)
