"""``roar serve``, ``roar login`` and ``roar register`` for real (docs/server.md,
docs/server-api.md): a real server process on 127.0.0.1, a real project recorded by ``roar run``
of a real local Ray job, and assertions on what the server answers — the same jobs, digests and
edges as the project's own ``roar dag --format json`` — and on how it refuses what it must."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fixtures_postgres import postgres_bin
from fixtures_ray import SCENARIOS, loopback_env, python_exe
from fixtures_server import APIDocument, Server, roar_server, start_server, stop_server  # noqa: F401  (fixture)
from roar_cli import Project, new_project, roar_binary

pytestmark = pytest.mark.skipif(roar_binary() is None, reason="roar is not built: run scripts/build first")

PROJECT = "e2e"


@dataclass
class Published:
    project: Project
    server: Server
    writer: str  # alice: writer of PROJECT
    reader: str  # bob: reader of "other" only
    credentials: Path
    dag: dict[str, Any]
    first: str  # what the first `roar register` printed

    def env(self, **extra: str) -> dict[str, str]:
        return {"ROAR_CREDENTIALS": str(self.credentials), **extra}

    def register(self, *args: str, check: bool = True) -> Any:
        return self.project.cli("register", "--server", self.server.url, "--project", PROJECT, *args,
                                env=self.env(), check=check)

    def api(self, path: str, token: str | None = None) -> Any:
        return self.server.get(f"/api/v1/projects/{PROJECT}{path}", token or self.writer)


@pytest.fixture(scope="module")
def published(roar_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    project = new_project(tmp_path_factory.mktemp("published"), SCENARIOS / "e2e_local.py")
    ran = project.run(python_exe(), "e2e_local.py", "fanout", "nested", "failing", env=loopback_env(),
                      timeout=600, check=False)
    assert ran.returncode == 0, ran.stderr[-4000:]
    project.run("sh", "-c", "wc -c fan/out.txt nested/parent.txt > sizes.txt")
    writer = roar_server.token("alice", writer=(PROJECT,))
    reader = roar_server.token("bob", reader=("other",))
    credentials = tmp_path_factory.mktemp("home") / "credentials.json"
    result = login_with_stdin(project, roar_server.url, writer, credentials)
    assert "logged in to" in result, result
    published = Published(project, roar_server, writer, reader, credentials, project.dag(), "")
    published.first = published.register().stdout
    yield published


def login_with_stdin(project: Project, url: str, token: str, credentials: Path) -> str:
    """``roar login URL`` with the token on standard input, as a person pastes it."""
    result = subprocess.run([str(project.roar), "login", url], input=token + "\n", capture_output=True, text=True,
                            cwd=project.root, env=project.env({"ROAR_CREDENTIALS": str(credentials)}), timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def counts(server: Server) -> dict[str, int]:
    """Rows per table in the server's database, whichever backend."""
    tables = ("jobs", "refs", "edges", "projects")
    if server.database:
        bin_dir = postgres_bin()
        assert bin_dir is not None
        sql = " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM {t}" for t in tables)
        out = subprocess.run([str(bin_dir / "psql"), server.database, "-At", "-F", " ", "-c", sql],
                             capture_output=True, text=True, check=True, timeout=60).stdout
        return {name: int(count) for name, count in (line.split() for line in out.splitlines())}
    with sqlite3.connect(server.data / "lineage.db") as db:
        return {table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in tables}


# ---------------------------------------------------------------------------------------------
# publishing


def test_register_publishes_every_job_as_recorded(published: Published) -> None:
    jobs = published.dag["jobs"]
    assert len(jobs) >= 8  # the run, four shards, merge, nested parent + children, the failing task, the wc step
    assert f"{len(jobs)} new, 0 updated, 0 unchanged" in published.first, published.first
    for job in jobs:
        served = published.api(f"/jobs/{job['uid']}")
        assert served["job"] == job, job["uid"]  # every field: inputs, outputs with all digests, ray ids, git
        children = sorted(j["uid"] for j in jobs if j["parent_uid"] == job["uid"])
        assert sorted(served["children"]) == children
    runs = published.api("/runs")["items"]
    assert {r["uid"] for r in runs} == {j["uid"] for j in jobs if j["role"] == "run"}
    (summary,) = published.server.get("/api/v1/projects", published.writer)["projects"]
    assert summary["name"] == PROJECT and summary["jobs"] == len(jobs) and summary["runs"] == 2
    failed = [j for j in jobs if j["status"] == "failed" and j["role"] == "task"]
    assert failed and published.api(f"/jobs/{failed[0]['uid']}")["job"]["error"] == failed[0]["error"]


def test_register_again_changes_nothing(published: Published) -> None:
    before = counts(published.server)
    again = published.register().stdout
    jobs, edges = len(published.dag["jobs"]), len(published.dag["edges"])
    assert f"0 new, 0 updated, {jobs} unchanged; edges 0 new, {edges} unchanged" in again, again
    assert counts(published.server) == before


def test_register_one_step_sends_it_and_the_jobs_under_it(published: Published) -> None:
    result = published.register("@1", "--dry-run").stdout
    under_run = [j for j in published.dag["jobs"] if j["uid"] != last_step(published.dag)["uid"]]
    assert f"would register {len(under_run)} jobs" in result, result
    assert counts(published.server)["jobs"] == len(published.dag["jobs"])


def last_step(dag: dict[str, Any]) -> dict[str, Any]:
    return max((j for j in dag["jobs"] if j["role"] == "run"), key=lambda j: j["step"])


# ---------------------------------------------------------------------------------------------
# the query API against the project's own graph


def local_walk(dag: dict[str, Any], start: set[str], forward: bool) -> set[str]:
    seen, frontier = set(start), list(start)
    while frontier:
        current = frontier.pop()
        for edge in dag["edges"]:
            here, there = (edge["from"], edge["to"]) if forward else (edge["to"], edge["from"])
            if here == current and there not in seen:
                seen.add(there)
                frontier.append(there)
    return seen - start


def writer_of(dag: dict[str, Any], path: str) -> dict[str, Any]:
    (job,) = [j for j in dag["jobs"] if any(o["path"] == path and o["kind"] == "file" for o in j["outputs"])]
    return job


def test_lineage_upstream_and_downstream_match_the_local_graph(published: Published) -> None:
    dag, root = published.dag, published.project.root
    sizes = str(root / "sizes.txt")
    upstream = published.api(f"/lineage?path={quote(sizes)}&direction=upstream")
    step = last_step(dag)
    assert [j["uid"] for j in upstream["start"]] == [step["uid"]]
    assert {j["job"]["uid"] for j in upstream["jobs"]} == local_walk(dag, {step["uid"]}, forward=False)
    assert not upstream["truncated"]
    assert {(e["from"], e["to"], e["path"]) for e in upstream["edges"]} <= {
        (e["from"], e["to"], e["path"]) for e in dag["edges"]}
    merge = writer_of(dag, str(root / "fan/out.txt"))
    assert merge["uid"] in {j["job"]["uid"] for j in upstream["jobs"]}

    shard_input = str(root / "fan/in-0.txt")
    downstream = published.api(f"/lineage?path={quote(shard_input)}&direction=downstream")
    readers = {j["uid"] for j in dag["jobs"] if any(i["path"] == shard_input for i in j["inputs"])}
    assert {j["uid"] for j in downstream["start"]} == readers
    assert {j["job"]["uid"] for j in downstream["jobs"]} == local_walk(dag, readers, forward=True)

    shallow = published.api(f"/lineage?job={step['uid']}&direction=upstream&depth=1")
    assert shallow["truncated"] and {j["depth"] for j in shallow["jobs"]} == {1}


def test_artifacts_by_digest_prefix_and_by_path(published: Published) -> None:
    dag, root = published.dag, published.project.root
    merged = str(root / "fan/out.txt")
    merge = writer_of(dag, merged)
    digest = next(o for o in merge["outputs"] if o["path"] == merged)["hashes"]["blake3"]
    uses = published.api(f"/artifacts?digest={digest[:12]}")["items"]
    expected = {(j["uid"], "output") for j in dag["jobs"] for o in j["outputs"] if o["hashes"].get("blake3") == digest}
    expected |= {(j["uid"], "input") for j in dag["jobs"] for i in j["inputs"] if i["hashes"].get("blake3") == digest}
    assert {(u["job"]["uid"], u["direction"]) for u in uses} == expected
    assert all(u["digest"] == f"blake3:{digest}" for u in uses)
    by_path = published.api(f"/artifacts?path={quote(merged)}")["items"]
    assert {(u["job"]["uid"], u["direction"]) for u in by_path} >= {(merge["uid"], "output")}


def test_search_by_function_and_path_prefix_and_pages(published: Published) -> None:
    dag = published.dag
    shards = {j["uid"] for j in dag["jobs"] if j.get("ray") and j["ray"]["function"].endswith(".shard")}
    assert len(shards) == 4
    found = published.api("/search?q=.shard")["items"]
    assert {j["uid"] for j in found} >= shards
    first = published.api("/search?q=.shard&limit=2")
    assert len(first["items"]) == 2 and first["next"]
    rest = published.api(f"/search?q=.shard&limit=100&after={first['next']}")["items"]
    assert {j["uid"] for j in first["items"]} | {j["uid"] for j in rest} == {j["uid"] for j in found}
    nested = published.api(f"/search?q={quote(str(published.project.root / 'nested/'))}")["items"]
    assert {j["uid"] for j in nested} == {j["uid"] for j in dag["jobs"] if any(
        r["path"].startswith(str(published.project.root / "nested/")) for r in j["inputs"] + j["outputs"])}
    # LIKE wildcards are literal: a `%` matches only a `%`.
    assert published.api("/search?q=%25")["items"] == []


def quote(text: str) -> str:
    from urllib.parse import quote as url_quote

    return url_quote(text, safe="")


# ---------------------------------------------------------------------------------------------
# refusing by the book


def error_of(body: bytes) -> dict[str, str]:
    return json.loads(body)["error"]  # type: ignore[no-any-return]


def test_tokens_401_and_403(published: Published) -> None:
    server = published.server
    status, headers, body = server.request("GET", f"/api/v1/projects/{PROJECT}/runs")
    assert status == 401 and headers.get("WWW-Authenticate") == 'Bearer realm="roar"'
    assert error_of(body)["code"] == "unauthenticated"
    wrong = "roar_" + "A" * 43
    assert server.request("GET", f"/api/v1/projects/{PROJECT}/runs", wrong)[0] == 401
    assert server.request("GET", f"/api/v1/projects/{PROJECT}/runs", "not-a-token")[0] == 401
    status, _, body = server.request("GET", f"/api/v1/projects/{PROJECT}/runs", published.reader)
    assert status == 403 and "bob" in error_of(body)["message"]
    assert server.request("GET", "/api/v1/projects/other/runs", published.reader)[0] == 200
    body_ok = json.dumps({"schema": "roar.register/1", "jobs": [], "edges": []}).encode()
    status, _, body = server.request("POST", "/api/v1/projects/other/register", published.reader, body_ok)
    assert status == 403 and "may not write" in error_of(body)["message"]
    assert server.get("/api/v1/projects", published.reader)["projects"] == []  # sees no project it may not read
    failed = published.project.cli("register", "--server", server.url, "--project", "other",
                                   env=published.env(), check=False)
    assert failed.returncode != 0 and "403" in failed.stderr and "alice" in failed.stderr


def test_malformed_bodies_are_400_naming_the_field(published: Published) -> None:
    server, path = published.server, f"/api/v1/projects/{PROJECT}/register"
    status, _, body = server.request("POST", path, published.writer, b"{not json")
    assert status == 400 and "not JSON" in error_of(body)["message"]
    job = dict(published.dag["jobs"][0])
    cases = {
        "schema": ({"schema": "roar.dag/1", "jobs": []}, 'schema: expected "roar.register/1"'),
        "uid": ({"schema": "roar.register/1", "jobs": [{**job, "uid": 7}]}, "jobs[0].uid: expected a string, got int"),
        "path": ({"schema": "roar.register/1", "jobs": [{**job, "outputs": [{"kind": "file", "path": ""}]}]},
                 "jobs[0].outputs[0].path"),
        "status": ({"schema": "roar.register/1", "jobs": [{**job, "status": "great"}]},
                   "jobs[0].status: expected one of"),
        "edge": ({"schema": "roar.register/1", "jobs": [], "edges": [{"from": "a", "to": "b"}]},
                 "edges[0].path: missing"),
    }
    for name, (document, message) in cases.items():
        status, _, body = server.request("POST", path, published.writer, json.dumps(document).encode())
        assert status == 400, name
        assert message in error_of(body)["message"], (name, error_of(body))
    assert server.request("GET", f"/api/v1/projects/{PROJECT}/lineage?direction=sideways&job=x",
                          published.writer)[0] == 400
    status, _, body = server.request("GET", f"/api/v1/projects/{PROJECT}/runs?limit=0", published.writer)
    assert status == 400 and "limit" in error_of(body)["message"]
    assert server.request("GET", "/api/v1/projects/..bad/runs", published.writer)[0] in (400, 404)


def test_oversized_body_is_413(published: Published) -> None:
    big = b'{"schema": "roar.register/1", "jobs": [], "pad": "' + b"x" * (33 << 20) + b'"}'
    status, _, body = published.server.request("POST", f"/api/v1/projects/{PROJECT}/register", published.writer, big)
    assert status == 413 and "--max-body-mib" in error_of(body)["message"]


def test_login_keeps_the_token_private_and_outside_the_project(published: Published) -> None:
    mode = stat.S_IMODE(os.stat(published.credentials).st_mode)
    assert mode == 0o600
    assert json.loads(published.credentials.read_text())["servers"][published.server.url]["token"] == published.writer
    assert not any(published.writer in p.read_text(errors="replace")
                   for p in published.project.root.rglob("*") if p.is_file() and p.suffix in (".toml", ".json", ".txt"))
    refused = published.project.cli("login", published.server.url, "--token", "roar_" + "B" * 43,
                                    env=published.env(), check=False)
    assert refused.returncode != 0 and "401" in refused.stderr


def test_metrics_and_health(published: Published) -> None:
    status, headers, body = published.server.request("GET", "/metrics")
    text = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    stored = next(line for line in text.splitlines() if line.startswith("roar_register_jobs_stored_total"))
    assert float(stored.split()[-1]) >= len(published.dag["jobs"])
    assert "http_requests_total" in text or "http_server_request_duration" in text
    assert published.server.get("/healthz", None) == {"status": "ok"}


def test_auth_failures_are_rate_limited_then_sigterm_stops_the_server(tmp_path: Path) -> None:
    binary = roar_binary()
    assert binary is not None
    server = start_server(binary, tmp_path / "data")  # its own: the limit blocks the whole address
    try:
        token = server.token("carol", admin=True)
        statuses = [server.request("GET", "/api/v1/whoami", "roar_" + "C" * 43)[0] for _ in range(20)]
        assert statuses == [401] * 20
        status, headers, _ = server.request("GET", "/api/v1/whoami", token)
        assert status == 429 and headers.get("Retry-After") == "60"
    finally:
        assert stop_server(server) == 0
    assert "roar_" + "C" * 43 not in server.log.read_text()  # tokens are never logged


# ---------------------------------------------------------------------------------------------
# the OpenAPI document describes what the server answers


def test_answers_match_the_openapi_document(published: Published) -> None:
    server, token = published.server, published.writer
    api = APIDocument(server)
    assert api.document["openapi"].startswith("3.1")

    def check(route: str, path: str, method: str = "get", want: int = 200, body: bytes | None = None,
              who: str | None = token) -> None:
        status, _, answer = server.request(method.upper(), path, who, body)
        assert status == want, (path, status, answer[:500])
        api.check(route, method, status, answer)

    base = f"/api/v1/projects/{PROJECT}"
    job = published.dag["jobs"][1]
    merged = quote(str(published.project.root / "fan/out.txt"))
    p = "/api/v1/projects/{project}"
    check("/api/v1/whoami", "/api/v1/whoami")
    check("/api/v1/whoami", "/api/v1/whoami", want=401, who=None)
    check("/api/v1/projects", "/api/v1/projects")
    check(p + "/runs", base + "/runs?limit=1")
    check(p + "/runs", base + "/runs?limit=0", want=400)
    check(p + "/runs", base + "/runs", want=403, who=published.reader)
    check(p + "/jobs/{uid}", f"{base}/jobs/{job['uid']}")
    check(p + "/jobs/{uid}", f"{base}/jobs/missing", want=404)
    check(p + "/artifacts", f"{base}/artifacts?path={merged}")
    check(p + "/lineage", f"{base}/lineage?path={merged}")
    check(p + "/search", f"{base}/search?q=shard")
    register = json.dumps({"schema": "roar.register/1", "jobs": [job], "edges": []}).encode()
    check(p + "/register", base + "/register", "post", body=register)
    check(p + "/register", base + "/register", "post", want=400, body=b"[]")
    check("/healthz", "/healthz", who=None)


def test_tls_serves_https_with_the_given_certificate(tmp_path: Path) -> None:
    import datetime
    import ipaddress
    import ssl
    import urllib.error
    import urllib.request

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
                   .not_valid_after(now + datetime.timedelta(hours=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    binary = roar_binary()
    assert binary is not None
    server = start_server(binary, tmp_path / "data", "--tls-cert", str(cert_path), "--tls-key", str(key_path))
    try:
        assert server.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert_path))
        with urllib.request.urlopen(server.url + "/healthz", context=context, timeout=30) as response:
            assert json.loads(response.read()) == {"status": "ok"}
        with pytest.raises(urllib.error.URLError):  # not trusted without the certificate
            urllib.request.urlopen(server.url + "/healthz", context=ssl.create_default_context(), timeout=30)
    finally:
        assert stop_server(server) == 0
    refused = subprocess.run([str(binary), "serve", "--port", "0", "--data", str(tmp_path / "d2"), "--tls-cert",
                              str(cert_path)], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "--tls-key" in refused.stderr
