"""Host-submit streamed through ``roar serve`` (issue 13, docs/ray-submit.md "Streaming through
GLaaS"), on the real two-node loopback cluster and a real server: ``roar status`` shows a running
job's progress from what the cluster streamed; a batch tampered on the server is refused by name
at the host and counted, and everything pulled before is kept; a cluster that cannot reach the
server, and a host that cannot, fall back to the in-cluster collector, say so once, and lose
nothing. (The same DAG as the collector path, and no plaintext on the server:
test_cluster_e2e.py.)"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures_cluster import RayCluster, free_port
from fixtures_server import Server, start_server, stop_server
from roar_cli import b3sum, roar_binary
from test_cluster_e2e import Run, _submit_run
from test_faults_cluster import expected, go, job_info, new_case, run_job, submit_command, submit_env, written

pytestmark = pytest.mark.skipif(
    roar_binary() is None, reason="roar is not built: set ROAR_BIN_DIR or run scripts/build first"
)

PROGRESS = re.compile(r"(\d+) batch(?:es)? .* from (\d+) nodes?, (\d+) tasks? started, (\d+) ended")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    binary = roar_binary()
    assert binary is not None
    started = start_server(binary, tmp_path_factory.mktemp("serve"))
    try:
        yield started
    finally:
        stop_server(started)


def glaas_env(server: Server, project: str, **extra: str) -> dict[str, str]:
    return {"ROAR_GLAAS_URL": server.url, "ROAR_TOKEN": server.token(f"host-{project}", writer=(project,)), **extra}


def wait_for(what: str, check, timeout: float = 120):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_no_wait_progress_then_a_tampered_batch_is_refused_by_name(
    ray_cluster: RayCluster, server: Server, tmp_path: Path
) -> None:
    case = new_case(tmp_path, "progress")
    env = submit_env(ray_cluster, **glaas_env(server, "progress"))
    command = submit_command(case, ray_cluster, "fault")
    command[command.index("--"):command.index("--")] = ["--no-wait"]
    submitted = case.project.run(*command, env=env, timeout=300)
    assert "roar fetch" in submitted.stderr
    wait_for("the job's first writes", lambda: (case.control / "ready").exists())

    # While the job runs, `roar status` pulls what the nodes streamed and shows it.
    def progress() -> re.Match[str] | None:
        text = case.project.cli("status", env=env).stdout
        assert "streaming through GLaaS at " + server.url in text, text
        found = PROGRESS.search(text)
        return found if found and int(found[2]) == 2 and int(found[3]) >= 2 else None

    found = wait_for("progress from both nodes in `roar status`", progress)
    assert int(found[1]) >= 2 and int(found[4]) >= 1, found[0]  # the head's first step ended; `hold` waits
    (folder,) = [p for p in (case.project.root / ".roar" / "spool").iterdir() if (p / "submit.json").exists()]
    pulled = json.loads((folder / "progress.json").read_text())["cursor"]

    # The job goes on and ends; its agents' last batches reach the server.
    go(case)
    wait_for("the job's end", lambda: job_info(ray_cluster, case.submission_id)["status"] == "SUCCEEDED")
    session_id = json.loads((folder / "submit.json").read_text())["session"]["session_id"]
    reader = server.token("progress-reader", reader=("progress",))
    counts: list[int] = []

    def settled() -> bool:
        counts.append(server.get(f"/api/v1/sessions/{session_id}", reader)["batches"])
        return len(counts) > 6 and len(set(counts[-6:])) == 1

    wait_for("the session to settle", settled)

    # Someone with the server's database changes every batch the host has not pulled yet.
    with sqlite3.connect(server.data / "lineage.db") as db:
        rows = db.execute(
            "SELECT producer, seq FROM session_batches WHERE session_id = ? AND cursor > ?", (session_id, pulled)
        ).fetchall()
        db.execute(
            "UPDATE session_batches SET data = substr(data, 1, length(data) - 1) || x'00' "
            "WHERE session_id = ? AND cursor > ?", (session_id, pulled))
    tampered = [f"{producer}-{seq:020d}.rbat" for producer, seq in rows]
    assert tampered, "no batch came after the first pull"

    fetched = case.project.cli("fetch", case.submission_id, env=env, check=False)
    for name in tampered:
        assert re.search(rf"batch {name} refused: .*authentication failed", fetched.stderr), fetched.stderr
    dag = case.dag()
    assert run_job(dag)["coverage"].get("batch_lost") == len(tampered)
    # What came before the tampering is recorded, with b3sum's digests.
    recorded = written(case, dag)
    for name, writer in {"data:fault/head-1.txt": "step", "data:fault/worker-1.txt": "hold"}.items():
        assert recorded[name] == expected(case, {name: writer})[name]


def test_cluster_that_cannot_reach_the_server_falls_back_to_the_collector(
    ray_cluster: RayCluster, server: Server, tmp_path: Path
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    env = glaas_env(server, "proj", ROAR_CLUSTER_GLAAS_URL=closed, ROAR_KEEP_SPOOL="1")
    run = _submit_run(tmp_path, ray_cluster, "proj", ["fanout"], env)
    assert run.result.returncode == 0, run.result.stderr[-6000:]
    notes = re.findall(r"roar: note: .*could not stream to GLaaS at " + re.escape(closed) + ".*", run.result.stderr)
    assert len(notes) == 1, run.result.stderr[-6000:]
    assert "their batches came through the in-cluster collector" in notes[0]
    check_fanout(run)


def test_host_that_cannot_reach_the_server_uses_the_collector(ray_cluster: RayCluster, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    run = _submit_run(tmp_path, ray_cluster, "proj", ["fanout"], {"ROAR_GLAAS_URL": closed, "ROAR_TOKEN": "roar_x"})
    assert run.result.returncode == 0, run.result.stderr[-6000:]
    notes = re.findall(r"roar: note: GLaaS at " + re.escape(closed) + ".*", run.result.stderr)
    assert len(notes) == 1 and "came through the in-cluster collector" in notes[0], run.result.stderr[-6000:]
    check_fanout(run)


def check_fanout(run: Run) -> None:
    """Every file of the fan-out, with its writer and b3sum's digest, and no loss counted."""
    assert not run.run_job().get("coverage"), run.run_job().get("coverage")
    shards = run.tasks("shard")
    assert len(shards) == 4
    merge = run.task("merge")
    for job in shards:
        (wrote,) = job["outputs"]
        assert wrote["hashes"]["blake3"] == b3sum(Path(wrote["path"]))
        assert run.has_edge(job, merge, run.name(wrote["path"]))
    assert run.names(merge["outputs"]) == {"data:fan/out.txt"}

