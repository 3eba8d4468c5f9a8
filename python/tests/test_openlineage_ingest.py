"""OpenLineage in and out of ``roar serve`` for real (docs/openlineage.md, "Sending" and "Ingesting"):
``roar register --openlineage`` POSTs a real project's events (the export fixture: Ray, S3 on moto, a
composite, odd and non-UTF-8 names, plus a Ray step reading a file no roar job wrote) to a real server,
once per backend, and the server gives back the graph ``roar register`` stores — the same jobs, paths,
digests and edges. A Spark-shaped START/COMPLETE pair that wrote the file the Ray step read appears upstream
of it, in the API and in ``roar lineage --server``. Bad events are 400s naming the field; a tiny HTTP
endpoint that fails once with 503 shows the client's retry and its API key header."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fixtures_export import ODD, RAW_STORED, Exported, make_exported
from fixtures_ray import SCENARIOS, loopback_env, python_exe
from fixtures_s3 import S3Server, s3_server  # noqa: F401  (the fixture)
from fixtures_server import APIDocument, Server, roar_server  # noqa: F401  (the fixture)
from roar_cli import roar_binary

pytestmark = pytest.mark.skipif(roar_binary() is None, reason="roar is not built: run scripts/build first")

NATIVE = "native"  # `roar register`
VIA_OPENLINEAGE = "viaol"  # `roar register --openlineage`
LATE = "late"  # the foreign events first, `roar register` after
FEATURES = "landing/features.csv"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Exported:  # noqa: F811
    """The export fixture's project, and a third step: a Ray task reading a file no roar job wrote."""
    made = make_exported(tmp_path_factory.mktemp("ingest"), s3_server)
    root = made.project.root
    (root / "landing").mkdir()
    (root / FEATURES).write_text("a,b\n1,2\n3,4\n")
    shutil.copy(SCENARIOS / "spark_reader.py", root / "spark_reader.py")
    made.project.run(python_exe(), "spark_reader.py", env=loopback_env(), timeout=600)
    return Exported(project=made.project, dag=made.project.dag(), hostname=made.hostname)


@dataclass
class Published:
    exported: Exported
    server: Server
    writer: str
    reader: str
    registered: str  # what `roar register --openlineage` printed

    def api(self, project: str, path: str) -> Any:
        return self.server.get(f"/api/v1/projects/{project}{path}", self.writer)

    def cli(self, *args: str, check: bool = True, **env: str) -> Any:
        return self.exported.project.cli(*args, env={"ROAR_CREDENTIALS": "/nonexistent/credentials.json", **env},
                                         check=check)

    def post_event(self, event: dict[str, Any], token: str | None = None, query: str = "") -> tuple[int, Any]:
        status, _, body = self.server.request("POST", "/api/v1/lineage" + query, token or self.writer,
                                              json.dumps(event).encode())
        return status, json.loads(body)


@pytest.fixture(scope="module")
def published(exported: Exported, roar_server: Server) -> Iterator[Published]:  # noqa: F811
    writer = roar_server.token("ingest-writer", writer=(NATIVE, VIA_OPENLINEAGE, LATE))
    reader = roar_server.token("ingest-reader", reader=(NATIVE,))
    project = exported.project
    project.cli("register", "--server", roar_server.url, "--project", NATIVE, env={"ROAR_TOKEN": writer})
    sent = project.cli("register", "--openlineage", roar_server.url, "--project", VIA_OPENLINEAGE,
                       env={"ROAR_OPENLINEAGE_API_KEY": writer, "ROAR_CREDENTIALS": "/nonexistent/c.json"})
    yield Published(exported, roar_server, writer, reader, sent.stdout)


def job_document(published: Published, project: str, uid: str) -> dict[str, Any]:
    return published.api(project, f"/jobs/{uid}")["job"]


def served_edges(published: Published, project: str) -> set[tuple[str, str, str]]:
    """Every edge the server holds among the project's jobs: one step downstream of each job."""
    edges: set[tuple[str, str, str]] = set()
    for job in published.exported.dag["jobs"]:
        answer = published.api(project, f"/lineage?job={job['uid']}&direction=downstream&depth=1")
        edges |= {(e["from"], e["to"], e["path"]) for e in answer["edges"]}
    return edges


def refs(job: dict[str, Any], key: str) -> set[tuple[str, str, str]]:
    """(path, kind, the digests) of a job's inputs or outputs."""
    return {(r["path"], r["kind"], json.dumps(r.get("hashes") or {}, sort_keys=True)) for r in job.get(key) or []}


# ---------------------------------------------------------------------------------------------
# roar's own events, through POST /api/v1/lineage


def test_sent_events_give_the_registered_graph(published: Published) -> None:
    dag = published.exported.dag
    events = len(published.exported.export("--format", "openlineage", "--all").splitlines())
    assert f"sent {events} OpenLineage events of {len(dag['jobs'])} jobs" in published.registered
    for job in dag["jobs"]:
        native = job_document(published, NATIVE, job["uid"])
        sent = job_document(published, VIA_OPENLINEAGE, job["uid"])
        for key in ("uid", "role", "status", "step", "parent_uid", "command", "exit_code", "cwd", "error"):
            assert sent.get(key) == native.get(key), (job["uid"], key)
        assert (sent.get("ray") or {}).get("function") == (native.get("ray") or {}).get("function")
        assert abs(sent["started_at"] - native["started_at"]) < 0.001, job["uid"]
        for key in ("inputs", "outputs"):
            assert refs(sent, key) == refs(native, key), (job["uid"], key)
        assert sorted(sent.get("deletes") or []) == sorted(native.get("deletes") or [])
        if job["status"] == "failed" and job["role"] == "task":
            assert sent["error"] == native["error"] and native["error"]
    native_edges = {(e["from"], e["to"], e["path"]) for e in dag["edges"]}
    # Edges through a composite, an S3 object and the odd name are among them: the inference must find each.
    assert len(native_edges) >= 5
    assert any(p.startswith("s3://") for _, _, p in native_edges), native_edges
    assert any(p == published.exported.path("ds") for _, _, p in native_edges), native_edges
    assert any(p == published.exported.path(ODD) for _, _, p in native_edges), native_edges
    assert served_edges(published, NATIVE) == native_edges
    assert served_edges(published, VIA_OPENLINEAGE) == native_edges


def test_odd_and_non_utf8_names_survive(published: Published) -> None:
    jobs = published.exported.dag["jobs"]
    paths = {r["path"] for j in jobs for r in (j.get("inputs") or []) + (j.get("outputs") or [])}
    for relative in (ODD, RAW_STORED):
        path = published.exported.path(relative)
        assert path in paths
        uses = published.api(VIA_OPENLINEAGE, f"/artifacts?path={quote(path, safe='')}")["items"]
        native = published.api(NATIVE, f"/artifacts?path={quote(path, safe='')}")["items"]
        assert uses and sorted((u["job"]["uid"], u["direction"], u["digest"]) for u in uses) == sorted(
            (u["job"]["uid"], u["direction"], u["digest"]) for u in native)
    keys = {p for p in paths if p.startswith("s3://")}
    assert any(k.endswith("/in/odd key+1.txt") for k in keys), keys
    for key in keys:
        assert published.api(VIA_OPENLINEAGE, f"/artifacts?path={quote(key, safe='')}")["items"], key


def test_sending_again_changes_nothing(published: Published) -> None:
    before = published.server.get("/api/v1/projects", published.writer)["projects"]
    edges = served_edges(published, VIA_OPENLINEAGE)
    published.cli("register", "--openlineage", published.server.url, "--project", VIA_OPENLINEAGE,
                  ROAR_OPENLINEAGE_API_KEY=published.writer)
    after = published.server.get("/api/v1/projects", published.writer)["projects"]
    counts = {p["name"]: (p["jobs"], p["runs"]) for p in before}
    assert {p["name"]: (p["jobs"], p["runs"]) for p in after} == counts
    assert served_edges(published, VIA_OPENLINEAGE) == edges
    # One event again, directly: the job's document is the same, so it is unchanged.
    first = json.loads(published.exported.export("--format", "openlineage", "--all").splitlines()[-1])
    status, answer = published.post_event(first, query=f"?project={VIA_OPENLINEAGE}")
    assert status == 200 and answer["stored"] == "unchanged", answer
    status, _, metrics = published.server.request("GET", "/metrics")
    assert status == 200 and b'roar_openlineage_events_total{stored="unchanged"}' in metrics


# ---------------------------------------------------------------------------------------------
# a foreign producer


def spark_events(path: str, reader_started: float) -> tuple[str, list[dict[str, Any]]]:
    """A START and a COMPLETE as Spark's OpenLineage integration sends them (job namespace `spark://…`,
    local files in namespace `file`, no dataset version), a minute before the reader started."""
    run_id = str(uuid.uuid4())
    start = datetime.fromtimestamp(reader_started, tz=UTC) - timedelta(seconds=120)
    base = {
        "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.23.0/integration/spark",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id, "facets": {"spark_version": {
            "_producer": "https://github.com/OpenLineage/OpenLineage/tree/1.23.0/integration/spark",
            "_schemaURL": "https://openlineage.io/spark-version.json", "spark-version": "3.5.1"}}},
        "job": {"namespace": "spark://cluster", "name": "features_etl.execute_insert_into_hadoop_fs_relation_command"},
        "inputs": [{"namespace": "s3://warehouse", "name": "raw/events"}],
    }
    started = {**base, "eventType": "START", "eventTime": start.isoformat().replace("+00:00", "Z"), "outputs": []}
    completed = {**base, "eventType": "COMPLETE",
                 "eventTime": (start + timedelta(seconds=60)).isoformat().replace("+00:00", "Z"),
                 "outputs": [{"namespace": "file", "name": path,
                              "outputFacets": {"outputStatistics": {
                                  "_producer": base["producer"],
                                  "_schemaURL": "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json",
                                  "rowCount": 2, "size": 12}}}]}
    return run_id, [started, completed]


def reader_task(exported: Exported) -> dict[str, Any]:
    found = [j for j in exported.dag["jobs"]
             if any(i["path"] == exported.path(FEATURES) for i in j.get("inputs") or []) and j["role"] == "task"]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("project", [NATIVE, VIA_OPENLINEAGE])
def test_foreign_spark_job_appears_upstream_of_the_ray_reader(published: Published, project: str) -> None:
    exported = published.exported
    reader = reader_task(exported)
    run_id, events = spark_events(exported.path(FEATURES), reader["started_at"])
    document = APIDocument(published.server)
    for event in events:
        status, _, body = published.server.request("POST", f"/api/v1/lineage?project={project}", published.writer,
                                                    json.dumps(event).encode())
        assert status == 200, body
        document.check("/api/v1/lineage", "post", 200, body)
    foreign = f"ol-{run_id}"
    stored = job_document(published, project, foreign)
    assert stored["status"] == "ok" and stored["role"] == "run"
    assert stored["openlineage"]["namespace"] == "spark://cluster"
    assert [o["path"] for o in stored["outputs"]] == [exported.path(FEATURES)]
    assert [i["path"] for i in stored["inputs"]] == ["s3://warehouse/raw/events"]
    assert stored["duration_s"] == 60

    upstream = published.api(project, f"/lineage?job={reader['uid']}&direction=upstream&depth=1")
    assert {"from": foreign, "to": reader["uid"], "path": exported.path(FEATURES)} in upstream["edges"]
    model = exported.path("model.txt")
    walk = published.api(project, f"/lineage?path={quote(model, safe='')}&direction=upstream")
    assert foreign in {j["job"]["uid"] for j in walk["jobs"]}
    assert foreign in {j["uid"] for j in published.api(project, "/runs?limit=1000")["items"]}
    assert foreign in {j["uid"] for j in published.api(project, "/search?q=features_etl")["items"]}
    # The web view draws it as it draws a roar run (the cookie `/login` sets holds the token).
    status, _, page = published.server.request("GET", f"/projects/{project}/runs/{foreign}",
                                               headers={"Cookie": f"roar_token={published.writer}"})
    assert status == 200 and b"features_etl" in page, page[:500]

    shown = published.cli("lineage", "model.txt", "--server", published.server.url, "--project", project,
                          ROAR_TOKEN=published.writer).stdout
    upstream_part = shown.split("  upstream", 1)[1]
    assert foreign in upstream_part and "features_etl.execute_insert_into_hadoop_fs_relation_command" in upstream_part
    assert "(openlineage)" in upstream_part
    assert reader["uid"] in shown
    local = published.cli("lineage", "model.txt").stdout
    assert reader["uid"] in local and foreign not in local  # the local store knows nothing of Spark

    # Downstream of the foreign job's output, from the server, reaches the model's writer.
    down = published.cli("lineage", exported.path(FEATURES), "--downstream", "--server", published.server.url,
                         "--project", project, ROAR_TOKEN=published.writer).stdout
    assert reader["uid"] in down


def test_readers_registered_after_the_foreign_writer_are_joined_to_it(published: Published) -> None:
    exported = published.exported
    reader = reader_task(exported)
    run_id, events = spark_events(exported.path(FEATURES), reader["started_at"])
    for event in events:
        status, answer = published.post_event(event, query=f"?project={LATE}")
        assert status == 200 and answer["edges_inserted"] == 0, answer  # nothing read it yet
    published.cli("register", "--server", published.server.url, "--project", LATE, ROAR_TOKEN=published.writer)
    upstream = published.api(LATE, f"/lineage?job={reader['uid']}&direction=upstream&depth=1")
    assert {"from": f"ol-{run_id}", "to": reader["uid"], "path": exported.path(FEATURES)} in upstream["edges"]
    # Only edges with the foreign job at one end were added: roar's own are as registered.
    native = {(e["from"], e["to"], e["path"]) for e in exported.dag["edges"]}
    late = {(e["from"], e["to"], e["path"]) for e in upstream["edges"]}
    assert {e for e in late if not e[0].startswith("ol-")} <= native


def test_lineage_server_spells_non_utf8_paths_as_the_store(published: Published) -> None:
    raw = os.fsencode(published.exported.path("odd dir")) + b"/latin\xe9.txt"
    argv = [os.fsencode(published.exported.project.roar), b"lineage", raw, b"--server",
            published.server.url.encode(), b"--project", NATIVE.encode()]
    shown = subprocess.run(argv,
                           cwd=published.exported.project.root, capture_output=True, timeout=120,
                           env={**os.environ, "NO_COLOR": "1", "ROAR_TOKEN": published.writer,
                                "ROAR_CREDENTIALS": "/nonexistent/c.json"})
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout.decode()
    assert published.exported.path(RAW_STORED) in text and "written by" in text, text


# ---------------------------------------------------------------------------------------------
# refusals


def valid_event() -> dict[str, Any]:
    return {"eventType": "START", "eventTime": "2026-12-04T01:21:07.123456Z", "producer": "https://example.com/p",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "airflow://x", "name": "dag.task"},
            "inputs": [], "outputs": []}


@pytest.mark.parametrize(("change", "field"), [
    (lambda e: e["run"].pop("runId"), "run.runId: missing"),
    (lambda e: e["run"].update(runId="not-a-uuid"), "run.runId: expected a UUID"),
    (lambda e: e.update(eventTime="yesterday"), "eventTime: expected an RFC 3339 date-time"),
    (lambda e: e.update(eventType="DONE"), "eventType: expected one of"),
    (lambda e: e["job"].update(name=""), "job.name: expected a non-empty string"),
    (lambda e: e.pop("job"), "job: missing"),
    (lambda e: e.update(outputs=[{"name": "x"}]), "outputs[0].namespace: missing"),
    (lambda e: e.update(inputs=[{"namespace": "file", "name": 3}]), "inputs[0].name: expected a string, got int"),
    (lambda e: e.pop("run"), "run: missing"),
])
def test_bad_events_are_400_naming_the_field(published: Published, change: Any, field: str) -> None:
    event = valid_event()
    change(event)
    status, answer = published.post_event(event, query=f"?project={NATIVE}")
    assert status == 400, answer
    assert answer["error"]["code"] == "bad_request" and field in answer["error"]["message"], answer


def test_refusals(published: Published) -> None:
    status, _, body = published.server.request("POST", f"/api/v1/lineage?project={NATIVE}", published.writer,
                                               b"{not json")
    assert status == 400 and b"not JSON" in body
    status, answer = published.post_event(valid_event(), token="roar_" + "A" * 43, query=f"?project={NATIVE}")
    assert status == 401, answer
    status, answer = published.post_event(valid_event(), token=published.reader, query=f"?project={NATIVE}")
    assert status == 403, answer
    status, answer = published.post_event(valid_event(), query="?project=../etc")
    assert status == 400 and "project:" in answer["error"]["message"], answer
    # No ?project= and a foreign namespace: the token writes two projects, so it must be said.
    status, answer = published.post_event(valid_event())
    assert status == 400 and "?project=" in answer["error"]["message"], answer


# ---------------------------------------------------------------------------------------------
# the client against a bare endpoint


@dataclass
class Received:
    path: str
    authorization: str | None
    body: bytes


class FlakyEndpoint:
    """An OpenLineage endpoint on 127.0.0.1 that answers the first POST 503, then 200 (or always `status`)."""

    def __init__(self, status: int | None = None) -> None:
        self.received: list[Received] = []
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                endpoint.received.append(Received(self.path, self.headers.get("Authorization"), body))
                code = status or (503 if len(endpoint.received) == 1 else 200)
                answer = b'{"error": "try later"}' if code == 503 else b"bad facet" if code >= 400 else b""
                self.send_response(code)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_client_retries_a_503_and_sends_the_key(exported: Exported) -> None:
    endpoint = FlakyEndpoint()
    try:
        key = "ol-key-" + uuid.uuid4().hex
        result = exported.project.cli("register", "--openlineage", endpoint.url + "/", "--api-key", key,
                                      "--project", "demo", "@1")
    finally:
        endpoint.close()
    expected = exported.export("--format", "openlineage", "@1").splitlines()
    bodies = [r.body.decode() for r in endpoint.received]
    assert len(bodies) == len(expected) + 1
    assert bodies[0] == bodies[1]  # the refused one, again
    assert sorted(bodies[1:]) == sorted(expected)
    assert {r.authorization for r in endpoint.received} == {f"Bearer {key}"}
    assert {r.path for r in endpoint.received} == {"/api/v1/lineage?project=demo"}
    assert "1 attempts retried" in result.stdout
    assert key not in result.stdout + result.stderr


def test_client_reports_a_refusal_with_url_and_status(exported: Exported) -> None:
    endpoint = FlakyEndpoint(status=422)
    try:
        result = exported.project.cli("register", "--openlineage", endpoint.url, "@1", check=False,
                                      env={"ROAR_OPENLINEAGE_API_KEY": "secret-key-123"})
    finally:
        endpoint.close()
    assert result.returncode != 0
    assert f"{endpoint.url}/api/v1/lineage" in result.stderr
    assert "(422)" in result.stderr and "bad facet" in result.stderr
    assert "secret-key-123" not in result.stdout + result.stderr
    assert len(endpoint.received) == 1  # a 4xx is not retried
    assert endpoint.received[0].authorization == "Bearer secret-key-123"


def test_help_and_option_checks(exported: Exported) -> None:
    project = exported.project
    assert "--openlineage <url>" in project.cli("register", "--help").stdout
    assert "--server <url>" in project.cli("lineage", "--help").stdout
    mixed = project.cli("register", "--server", "http://127.0.0.1:1", "--openlineage", "http://127.0.0.1:1",
                        check=False)
    assert mixed.returncode != 0 and "not both" in mixed.stderr
    alone = project.cli("lineage", "model.txt", "--project", "x", check=False)
    assert alone.returncode != 0 and "--project goes with --server" in alone.stderr
    dry = project.cli("register", "--openlineage", "http://127.0.0.1:1", "--dry-run", "--api-key", "k-secret").stdout
    assert "would send" in dry and "http://127.0.0.1:1/api/v1/lineage?project=proj" in dry and "k-secret" not in dry


def test_client_names_an_unreachable_endpoint(exported: Exported) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = exported.project.cli("register", "--openlineage", f"http://127.0.0.1:{port}", "@1", check=False,
                                  timeout=120)
    assert result.returncode != 0
    assert f"cannot reach http://127.0.0.1:{port}/api/v1/lineage" in result.stderr
    assert "after 5 attempts" in result.stderr
