"""Host-submit end to end: ``roar run ray job submit … -- python e2e_local.py`` against the real
two-node loopback cluster (fixtures_cluster.ray_cluster), then ``roar dag --format json``.

The scenarios are the local suite's (ray_scenarios/e2e_local.py). Each node unpacks its own
copy of the working dir, so files passed between tasks live under ``E2E_DATA``, a folder both
nodes see (as NFS would be); the ``shipped`` scenario reads a file that travelled with the
working dir and writes next to it with relative paths: on the host those paths are restored to
the project's, and the written file is marked as existing only on the cluster.

Every task must be a job with exactly the files it read and wrote, digests equal to b3sum of
the files, both nodes used, and the same DAG as a local run of the same script.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
from fixtures_cluster import VENV_BIN, RayCluster, active_nodes
from fixtures_ray import SCENARIOS, loopback_env, python_exe
from fixtures_server import Server, start_server, stop_server
from ray_data_checks import (
    check_dataset_read,
    check_reads_and_parts,
    check_total_written_by_its_task,
    check_written_composite,
    dataset_rows,
    write_inputs,
)
from roar_cli import Project, b3sum, roar_binary

pytestmark = pytest.mark.skipif(
    roar_binary() is None, reason="roar is not built: set ROAR_BIN_DIR or run scripts/build first"
)

MODULE = "e2e_local"
CLUSTER_SCENARIOS = [
    "fanout", "actor", "subprocess", "thread", "parquet", "nested", "failing", "killed", "retries", "shipped",
]
SHIPPED_TEXT = "shipped with the working dir\n"
SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


def submit_env(cluster: RayCluster, **extra: str) -> dict[str, str]:
    env = dict(cluster.env)
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', os.environ.get('PATH', ''))}"
    env.update(extra)
    return env


def new_project(base: Path, name: str, data: Path | None = None) -> Project:
    """A project with the scenario script and a file to ship; ``data`` (the shared folder,
    under /tmp here) is made lineage with ``filters.include``, as a user would for /tmp."""
    binary = roar_binary()
    assert binary is not None
    root = base / name
    root.mkdir(parents=True)
    project = Project(root=root, roar=binary)
    project.cli("init")
    if data is not None:
        data.mkdir(parents=True, exist_ok=True)
        project.cli("config", "set", "filters.include", json.dumps([str(data)]))
    shutil.copy(SCENARIOS / "e2e_local.py", root / "e2e_local.py")
    (root / "shipped").mkdir()
    (root / "shipped" / "in.txt").write_text(SHIPPED_TEXT)
    return project


def roar_submit(
    project: Project, cluster: RayCluster, runtime_env: dict[str, Any], entrypoint: list[str],
    options: Iterable[str] = (), env: dict[str, str] | None = None, cwd: Path | None = None,
) -> CompletedProcess[str]:
    command = [
        "ray", "job", "submit", "--address", cluster.dashboard_url,
        "--runtime-env-json", json.dumps(runtime_env), *options, "--", *entrypoint,
    ]
    return project.run(*command, check=False, env=env or submit_env(cluster), cwd=cwd, timeout=600)


@dataclass
class Run:
    project: Project
    data: Path
    result: CompletedProcess[str]
    dag: dict[str, Any]

    def tasks(self, function: str) -> list[dict[str, Any]]:
        return [j for j in self.dag["jobs"] if j.get("ray") and j["ray"]["function"] == f"{MODULE}.{function}"]

    def task(self, function: str) -> dict[str, Any]:
        found = self.tasks(function)
        assert len(found) == 1, f"{function}: {len(found)} jobs: {sorted({j['command'] for j in self.dag['jobs']})}"
        return found[0]

    def run_job(self) -> dict[str, Any]:
        runs = [j for j in self.dag["jobs"] if j["role"] == "run"]
        assert len(runs) == 1
        return runs[0]

    def name(self, path: str) -> str:
        """``data:<rel>`` for shared files, ``proj:<rel>`` for the project's, else the path."""
        p = Path(path)
        if p.is_relative_to(self.data):
            return "data:" + str(p.relative_to(self.data))
        if p.is_relative_to(self.project.root):
            return "proj:" + str(p.relative_to(self.project.root))
        return path

    def names(self, refs: Iterable[dict[str, Any]]) -> set[str]:
        return {self.name(r["path"]) for r in refs}

    def has_edge(self, source: dict[str, Any], target: dict[str, Any], name: str) -> bool:
        return any(
            e["from"] == source["uid"] and e["to"] == target["uid"] and self.name(e["path"]) == name
            for e in self.dag["edges"]
        )

    def assert_io(self, job: dict[str, Any], inputs: set[str], outputs: set[str]) -> None:
        label = job["ray"]["function"] if job.get("ray") else job["command"]
        assert self.names(job["inputs"]) == inputs, f"inputs of {label}"
        assert self.names(job["outputs"]) == outputs, f"outputs of {label}"
        for ref in job["inputs"] + job["outputs"]:
            path = Path(ref["path"])
            if ref.get("cluster_only"):
                continue  # checked by the shipped test, from what the task wrote
            assert ref["hashes"].get("blake3") == b3sum(path), f"digest of {path} ({label})"


def _submit_run(base: Path, cluster: RayCluster, name: str, scenarios: list[str],
                host_env: dict[str, str] | None = None, **env_vars: str) -> Run:
    data = base / f"{name}-data"
    project = new_project(base, name, data)
    runtime_env = {"working_dir": ".", "env_vars": {"E2E_DATA": str(data), **env_vars}}
    env = submit_env(cluster, **(host_env or {}))
    result = roar_submit(project, cluster, runtime_env, ["python", "e2e_local.py", *scenarios], env=env)
    return Run(project, data, result, project.dag())


@pytest.fixture(scope="module")
def lineage_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``roar serve`` (SQLite) for the streamed run: its batches go there while the job runs."""
    binary = roar_binary()
    assert binary is not None
    server = start_server(binary, tmp_path_factory.mktemp("serve"))
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="module")
def streamed(ray_cluster: RayCluster, lineage_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The same submit as ``submitted`` with ``glaas.url`` set (ROAR_GLAAS_URL): the node agents
    stream their sealed batches to the server's session instead of to the in-cluster collector."""
    base = tmp_path_factory.mktemp("streamed")
    token = lineage_server.token("host", writer=("proj",))
    host_env = {"ROAR_GLAAS_URL": lineage_server.url, "ROAR_TOKEN": token, "ROAR_KEEP_SPOOL": "1"}
    return _submit_run(base, ray_cluster, "proj", CLUSTER_SCENARIOS, host_env, AWS_SECRET_ACCESS_KEY=SECRET)


@pytest.fixture(scope="module")
def submitted(ray_cluster: RayCluster, tmp_path_factory: pytest.TempPathFactory) -> Run:
    base = tmp_path_factory.mktemp("submit")
    return _submit_run(base, ray_cluster, "proj", CLUSTER_SCENARIOS, AWS_SECRET_ACCESS_KEY=SECRET)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The same script and scenarios, local Ray: for the same-DAG comparison."""
    base = tmp_path_factory.mktemp("local")
    data = base / "proj-data"
    project = new_project(base, "proj", data)
    env = {**loopback_env(), "E2E_DATA": str(data)}
    result = project.run(python_exe(), "e2e_local.py", *CLUSTER_SCENARIOS, check=False, env=env, timeout=600)
    return Run(project, data, result, project.dag())


# ---------------------------------------------------------------------------------------------
# the submitted run


def test_submit_is_recorded(submitted: Run) -> None:
    assert submitted.result.returncode == 0, submitted.result.stderr[-8000:]
    run = submitted.run_job()
    assert run["status"] == "ok" and run["exit_code"] == 0
    assert run["command"].startswith("ray job submit")
    assert "roar_runtime" not in run["command"], "the recorded command is the user's, not the rewrite"


def test_fan_out_fan_in_on_both_nodes(submitted: Run, ray_cluster: RayCluster) -> None:
    run = submitted.run_job()
    shards = submitted.tasks("shard")
    assert len(shards) == 4
    merge = submitted.task("merge")
    for job in shards:
        assert job["status"] == "ok" and job["parent_uid"] == run["uid"]
        i = next(iter(submitted.names(job["inputs"])))[len("data:fan/in-")]
        submitted.assert_io(job, {f"data:fan/in-{i}.txt"}, {f"data:fan/mid-{i}.txt"})
        assert submitted.has_edge(run, job, f"data:fan/in-{i}.txt")
        assert submitted.has_edge(job, merge, f"data:fan/mid-{i}.txt")
    submitted.assert_io(merge, {f"data:fan/mid-{i}.txt" for i in range(4)}, {"data:fan/out.txt"})
    nodes = {j["ray"]["node_id"] for j in submitted.dag["jobs"] if j.get("ray")}
    assert nodes == set(active_nodes(ray_cluster)), "tasks ran on both nodes and say so"


def test_actor_calls(submitted: Run) -> None:
    init = submitted.task("Counter.__init__")
    adds = sorted(submitted.tasks("Counter.add"), key=lambda j: j["started_at"])
    dump = submitted.task("Counter.dump")
    assert len(adds) == 2 and {j["ray"]["actor_id"] for j in [init, *adds, dump]} == {init["ray"]["actor_id"]}
    submitted.assert_io(init, {"data:actor/config.txt"}, set())
    submitted.assert_io(adds[0], {"data:actor/a.txt"}, set())
    submitted.assert_io(adds[1], {"data:actor/b.txt"}, set())
    submitted.assert_io(dump, set(), {"data:actor/summary.txt"})
    submitted.assert_io(submitted.task("plain_after_actor"), set(), {"data:actor/plain.txt"})


def test_subprocess_thread_parquet(submitted: Run) -> None:
    submitted.assert_io(submitted.task("shell_copy"), {"data:sub/a"}, {"data:sub/b"})
    submitted.assert_io(submitted.task("threaded_write"), set(), {"data:thread/out.txt"})
    writer, reader = submitted.task("to_parquet"), submitted.task("from_parquet")
    submitted.assert_io(writer, set(), {"data:pq/table.parquet"})
    submitted.assert_io(reader, {"data:pq/table.parquet"}, {"data:pq/summary.txt"})
    assert submitted.has_edge(writer, reader, "data:pq/table.parquet")


def test_nested_tasks_across_nodes(submitted: Run) -> None:
    parent = submitted.task("nested_parent")
    children = submitted.tasks("nested_child")
    assert len(children) == 2
    for child in children:
        assert child["parent_uid"] == parent["uid"], "a nested task's parent is the task that submitted it"
        assert submitted.has_edge(child, parent, next(iter(submitted.names(child["outputs"]))))
    submitted.assert_io(parent, {"data:nested/child-0.txt", "data:nested/child-1.txt"}, {"data:nested/parent.txt"})


def test_failed_killed_and_retried_tasks(submitted: Run) -> None:
    failed = submitted.task("fails_after_write")
    assert failed["status"] == "failed" and "boom after writing" in (failed.get("error") or "")
    submitted.assert_io(failed, set(), {"data:fail/partial.txt"})
    killed = submitted.task("killed_midway")
    assert killed["status"] == "killed"
    assert "data:kill/before.txt" in submitted.names(killed["outputs"])
    attempts = sorted(submitted.tasks("flaky"), key=lambda j: j["ray"]["attempt"])
    assert [(j["ray"]["attempt"], j["status"]) for j in attempts] == [(0, "failed"), (1, "ok")]
    submitted.assert_io(attempts[1], set(), {"data:retry/result.txt"})


def test_working_dir_paths_are_restored(submitted: Run) -> None:
    import blake3  # type: ignore[import-not-found]

    job = submitted.task("shipped_copy")
    (read,) = job["inputs"]
    (wrote,) = job["outputs"]
    assert read["path"] == str(submitted.project.root / "shipped" / "in.txt")
    assert read["hashes"]["blake3"] == b3sum(submitted.project.root / "shipped" / "in.txt")
    assert not read.get("cluster_only")
    assert wrote["path"] == str(submitted.project.root / "shipped" / "out.txt")
    assert wrote["hashes"]["blake3"] == blake3.blake3(SHIPPED_TEXT.upper().encode()).hexdigest()
    assert wrote["cluster_only"] is True, "written on a node: not on this host"
    shown = submitted.project.cli("show", "shipped/out.txt").stdout
    assert "on the cluster only" in shown


def test_no_internal_paths_or_jobs(submitted: Run) -> None:
    allowed = (str(submitted.project.root) + "/", str(submitted.data) + "/")
    for job in submitted.dag["jobs"]:
        for ref in job["inputs"] + job["outputs"]:
            assert ref["path"].startswith(allowed), f"{ref['path']} in {job['command']}"
            for marker in ("runtime_resources", "roar-cluster", "roar_runtime", "session_", "/.roar/"):
                assert marker not in ref["path"]
    functions = {j["ray"]["function"] for j in submitted.dag["jobs"] if j.get("ray")}
    assert not any("roar_runtime" in f or "JobSupervisor" in f for f in functions), functions


def test_secrets_never_reach_the_store(submitted: Run) -> None:
    db = submitted.project.root / ".roar" / "roar.db"
    with sqlite3.connect(db) as connection:
        dump = "\n".join(connection.iterdump())
    assert SECRET not in dump
    assert "AWS_SECRET_ACCESS_KEY" in submitted.run_job()["command"], "the name stays, the value goes"


def test_nothing_left_on_the_nodes(submitted: Run) -> None:
    """The node spools and outboxes of the run are removed once the host has its lineage."""
    run_id = submitted.run_job()["uid"]
    assert not Path("/tmp/roar-cluster", run_id).exists()


# ---------------------------------------------------------------------------------------------
# same DAG as local


def normalized(run: Run) -> tuple[list[tuple[Any, ...]], list[tuple[str, str, str]]]:
    jobs = []
    titles: dict[str, str] = {}
    for job in run.dag["jobs"]:
        if job["role"] == "run":
            titles[job["uid"]] = "<run>"
            key = ("<run>",)
        else:
            titles[job["uid"]] = f"{job['ray']['function']}#{job['ray']['attempt']}"
            key = (job["ray"]["function"], job["ray"]["attempt"], job["status"], job["role"])
        refs = lambda rs: tuple(sorted((run.name(r["path"]), r["hashes"].get("blake3")) for r in rs))  # noqa: E731
        jobs.append(key + (refs(job["inputs"]), refs(job["outputs"])))
    edges = sorted((titles[e["from"]], titles[e["to"]], run.name(e["path"])) for e in run.dag["edges"])
    return sorted(jobs, key=repr), edges


def test_same_dag_as_local_ray(submitted: Run, local: Run) -> None:
    assert local.result.returncode == 0, local.result.stderr[-6000:]
    cluster_jobs, cluster_edges = normalized(submitted)
    local_jobs, local_edges = normalized(local)
    assert cluster_jobs == local_jobs
    assert cluster_edges == local_edges


# ---------------------------------------------------------------------------------------------
# streamed through roar serve


def _kept_run_folder(run: Run) -> Path:
    (folder,) = [p for p in (run.project.root / ".roar" / "spool").iterdir() if (p / "submit.json").exists()]
    return folder


def test_streamed_run_equals_the_collector_path(streamed: Run, submitted: Run) -> None:
    assert streamed.result.returncode == 0, streamed.result.stderr[-8000:]
    assert "could not stream" not in streamed.result.stderr and "came through" not in streamed.result.stderr
    assert normalized(streamed) == normalized(submitted)
    assert streamed.run_job()["status"] == "ok" and not streamed.run_job().get("coverage")


def test_streamed_batches_went_through_the_server(streamed: Run, lineage_server: Server) -> None:
    """Every batch of every node reached the host through the server's session; the collector
    spilled none; the host closed the session once the run was recorded."""
    folder = _kept_run_folder(streamed)
    session = json.loads((folder / "submit.json").read_text())["session"]
    manifest = json.loads((folder / "batches" / "manifest.json").read_text())
    assert manifest["batches"] == [], "nothing went through the collector"
    assert manifest["stream_fallbacks"] == {}
    producers = {name.rsplit("-", 1)[0] for name in manifest["streamed"]}
    assert len(producers) == 2, "both nodes streamed"
    token = lineage_server.token("reader", reader=("proj",))
    info = lineage_server.get(f"/api/v1/sessions/{session['session_id']}", token)
    assert info["run_id"] == streamed.run_job()["uid"] and info["batches"] == len(manifest["streamed"])
    assert info["closed_at"] is not None
    pulled = sorted(p.name for p in (folder / "batches").glob("*.rbat"))
    assert pulled == sorted(manifest["streamed"])


def test_server_holds_no_plaintext_of_the_run(streamed: Run, lineage_server: Server) -> None:
    """The server stores ciphertext it cannot open: no path, digest, function or command of the
    run is in its database files or its log."""
    stored = b"".join(p.read_bytes() for p in lineage_server.data.iterdir() if p.is_file())
    merge = streamed.task("merge")
    known = [
        str(streamed.data).encode(), str(streamed.project.root).encode(), b"fan/mid-0.txt", b"e2e_local",
        merge["outputs"][0]["hashes"]["blake3"].encode(), b"boom after writing", SECRET.encode(),
    ]
    assert len(stored) > 0 and (lineage_server.data / "lineage.db").exists()
    for text in known:
        assert text not in stored, f"{text!r} is in the server's files"


# ---------------------------------------------------------------------------------------------
# other forms of submit


def _shipped_paths(run_dag: dict[str, Any]) -> tuple[str, str]:
    (job,) = [j for j in run_dag["jobs"] if j.get("ray") and j["ray"]["function"] == f"{MODULE}.shipped_copy"]
    (read,) = job["inputs"]
    (wrote,) = job["outputs"]
    return read["path"], wrote["path"]


def test_working_dir_subfolder_and_option(ray_cluster: RayCluster, tmp_path: Path) -> None:
    """``working_dir`` naming a subfolder of the project (in the JSON, or with --working-dir)
    restores to that subfolder."""
    project = new_project(tmp_path, "proj")
    jobs = project.root / "jobs"
    jobs.mkdir()
    shutil.move(str(project.root / "e2e_local.py"), jobs / "e2e_local.py")
    shutil.move(str(project.root / "shipped"), jobs / "shipped")
    result = roar_submit(project, ray_cluster, {"working_dir": "jobs"}, ["python", "e2e_local.py", "shipped"])
    assert result.returncode == 0, result.stderr[-6000:]
    assert _shipped_paths(project.dag()) == (str(jobs / "shipped/in.txt"), str(jobs / "shipped/out.txt"))

    (jobs / "shipped" / "in.txt").write_text("second version\n")
    result = roar_submit(
        project, ray_cluster, {}, ["python", "e2e_local.py", "shipped"], options=["--working-dir", str(jobs)])
    assert result.returncode == 0, result.stderr[-6000:]
    dag = project.dag()
    assert len([j for j in dag["jobs"] if j["role"] == "run"]) == 2
    copies = [j for j in dag["jobs"] if j.get("ray") and j["ray"]["function"] == f"{MODULE}.shipped_copy"]
    import blake3  # type: ignore[import-not-found]

    read = {(r["path"], r["hashes"]["blake3"]) for j in copies for r in j["inputs"]}
    path = str(jobs / "shipped/in.txt")
    assert read == {(path, blake3.blake3(SHIPPED_TEXT.encode()).hexdigest()), (path, b3sum(jobs / "shipped/in.txt"))}


def test_py_modules_paths_are_restored(ray_cluster: RayCluster, tmp_path: Path) -> None:
    """A file inside a local ``py_modules`` folder maps back to that folder on the host."""
    data = tmp_path / "data"
    project = new_project(tmp_path, "proj", data)
    helpers = project.root / "libs" / "helpers"
    helpers.mkdir(parents=True)
    (helpers / "__init__.py").write_text("")
    (helpers / "table.csv").write_text("a,b\n1,2\n3,4\n")
    runtime_env = {"working_dir": ".", "py_modules": ["libs/helpers"], "env_vars": {"E2E_DATA": str(data)}}
    result = roar_submit(project, ray_cluster, runtime_env, ["python", "e2e_local.py", "module"])
    assert result.returncode == 0, result.stderr[-6000:]
    dag = project.dag()
    (job,) = [j for j in dag["jobs"] if j.get("ray") and j["ray"]["function"] == f"{MODULE}.module_data"]
    inputs = {r["path"]: r["hashes"].get("blake3") for r in job["inputs"]}
    assert inputs[str(helpers / "table.csv")] == b3sum(helpers / "table.csv")
    # The import itself may be recorded too (project code is lineage): restored the same way.
    assert set(inputs) <= {str(helpers / "table.csv"), str(helpers / "__init__.py")}, inputs
    assert [r["path"] for r in job["outputs"]] == [str(data / "module/rows.txt")]


def test_no_wait_then_fetch(ray_cluster: RayCluster, tmp_path: Path) -> None:
    project = new_project(tmp_path, "proj")
    submission = "raysubmit_roarnowait" + tmp_path.name[-6:].replace("-", "")
    result = roar_submit(
        project, ray_cluster, {"working_dir": "."}, ["python", "e2e_local.py", "shipped"],
        options=["--no-wait", "--submission-id", submission])
    assert result.returncode == 0, result.stderr[-6000:]
    assert f"roar fetch {submission}" in result.stderr
    assert not [j for j in project.dag()["jobs"] if j.get("ray")], "nothing of the job is recorded yet"
    status = project.cli("status").stdout
    assert submission in status, status

    import time

    deadline = time.monotonic() + 180
    while True:
        fetched = project.cli("fetch", submission, check=False, env=submit_env(ray_cluster))
        if "recorded as @" in fetched.stdout:
            break
        assert fetched.returncode == 0 and "still" in fetched.stdout, fetched.stdout + fetched.stderr
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(2)
    dag = project.dag()
    (run,) = [j for j in dag["jobs"] if j["role"] == "run"]
    assert run["status"] == "ok"
    assert _shipped_paths(dag) == (project.path("shipped/in.txt"), project.path("shipped/out.txt"))
    again = project.cli("fetch", env=submit_env(ray_cluster))
    assert "Nothing to fetch" in again.stdout


HOOKS = '''
import os


def mark():
    path = os.path.join(os.environ["E2E_DATA"], "hook-%d" % os.getpid())
    with open(path, "w") as f:
        f.write("the user's setup hook ran\\n")
'''


def test_user_setup_hook_still_runs(ray_cluster: RayCluster, tmp_path: Path) -> None:
    data = tmp_path / "data"
    project = new_project(tmp_path, "proj", data)
    (project.root / "hooks.py").write_text(HOOKS)
    runtime_env = {"working_dir": ".", "worker_process_setup_hook": "hooks.mark", "env_vars": {"E2E_DATA": str(data)}}
    result = roar_submit(project, ray_cluster, runtime_env, ["python", "e2e_local.py", "fanout"])
    assert result.returncode == 0, result.stderr[-6000:]
    assert list(data.glob("hook-*")), "the user's hook ran in the workers"
    dag = project.dag()
    shards = [j for j in dag["jobs"] if j.get("ray") and j["ray"]["function"] == f"{MODULE}.shard"]
    assert len(shards) == 4, "and roar's hook too"
    for job in dag["jobs"]:
        assert not any("hook-" in r["path"] for r in job["outputs"]), "the hook's own write is no task's"


def test_two_overlapping_submits_stay_separate(ray_cluster: RayCluster, tmp_path: Path) -> None:
    import subprocess

    procs = []
    projects = []
    for name in ("a", "b"):
        data = tmp_path / f"{name}-data"
        project = new_project(tmp_path, name, data)
        command = [
            str(project.roar), "run", "ray", "job", "submit", "--address", ray_cluster.dashboard_url,
            "--runtime-env-json", json.dumps({"working_dir": ".", "env_vars": {"E2E_DATA": str(data)}}),
            "--", "python", "e2e_local.py", "fanout", "shipped",
        ]
        procs.append(subprocess.Popen(command, cwd=project.root, env=project.env(submit_env(ray_cluster)),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        projects.append((project, data))
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-6000:]
    for (project, _data), (other, other_data) in zip(projects, reversed(projects), strict=True):
        dag = project.dag()
        assert len([j for j in dag["jobs"] if j.get("ray")]) == 6  # 4 shards, merge, shipped_copy
        for job in dag["jobs"]:
            for ref in job["inputs"] + job["outputs"]:
                assert not ref["path"].startswith((str(other.root) + "/", str(other_data) + "/")), ref["path"]


# ---------------------------------------------------------------------------------------------
# Ray Data, host-submit: the local suite's pipeline (ray_scenarios/ray_data_pipeline.py) on the cluster


def test_ray_data_pipeline_and_its_dataset(ray_cluster: RayCluster, tmp_path: Path) -> None:
    """read_csv → map_batches → write_parquet, then a second submit that reads the dataset back in a
    task (iter_batches): every read and part by a task with b3sum, the written folder one composite of
    its writers, the second run linked to all of them."""
    shared = tmp_path / "proj-data"
    project = new_project(tmp_path, "proj", shared)
    shutil.copy(SCENARIOS / "ray_data_pipeline.py", project.root / "ray_data_pipeline.py")
    data = shared / "data"
    write_inputs(data)
    runtime_env = {"working_dir": ".", "env_vars": {"E2E_DATA": str(shared)}}
    first = roar_submit(project, ray_cluster, runtime_env, ["python", "ray_data_pipeline.py"])
    assert first.returncode == 0, first.stderr[-8000:]
    rows = dataset_rows(data / "out")
    assert [row["x"] for row in rows] == list(range(30)) and all(r["y"] == 2 * r["x"] + 1 for r in rows)
    dag = project.dag()
    check_reads_and_parts(dag, data)
    check_written_composite(dag, data / "out")

    second = roar_submit(project, ray_cluster, runtime_env, ["python", "ray_data_pipeline.py", "read"])
    assert second.returncode == 0, second.stderr[-8000:]
    dag = project.dag()
    check_dataset_read(dag, data / "out")
    check_total_written_by_its_task(dag, data / "total.txt")


def test_ray_data_map_that_raises_fails_the_same(ray_cluster: RayCluster, tmp_path: Path) -> None:
    """A map function that raises: the submit fails as plain `ray job submit` does, with the user's error,
    and the run and the failing task are recorded as failed."""
    import subprocess

    shared = tmp_path / "proj-data"
    project = new_project(tmp_path, "proj", shared)
    shutil.copy(SCENARIOS / "ray_data_pipeline.py", project.root / "ray_data_pipeline.py")
    write_inputs(shared / "data")
    runtime_env = {"working_dir": ".", "env_vars": {"E2E_DATA": str(shared)}}
    command = [ray_cluster.ray, "job", "submit", "--address", ray_cluster.dashboard_url,
               "--runtime-env-json", json.dumps(runtime_env), "--", "python", "ray_data_pipeline.py", "raise"]
    plain = subprocess.run(command, cwd=project.root, env=submit_env(ray_cluster),
                           capture_output=True, text=True, timeout=600)
    traced = roar_submit(project, ray_cluster, runtime_env, ["python", "ray_data_pipeline.py", "raise"])
    assert plain.returncode != 0
    assert traced.returncode == plain.returncode, traced.stderr[-4000:]
    for result in (plain, traced):
        assert "ValueError: broken map function" in result.stdout + result.stderr
    dag = project.dag()
    (run,) = [job for job in dag["jobs"] if job["role"] == "run"]
    assert run["status"] == "failed" and run["exit_code"] == traced.returncode
    failed = [job for job in dag["jobs"] if job.get("ray") and job["status"] == "failed"]
    assert all(job["error"] for job in failed)
    # What the task raised: Ray Data's wrapper of the user's error.
    assert any(job["error"].startswith("UserCodeException: UDF failed") for job in failed), [j["error"] for j in failed]


# ---------------------------------------------------------------------------------------------
# submits that cannot be traced or cannot reach the cluster (no cluster needed)

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused


def _plain_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROAR_", "RAY_ADDRESS"))}
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    return env


def test_a_runtime_env_ray_would_refuse_with_roar_runs_as_given(tmp_path: Path) -> None:
    project = new_project(tmp_path, "proj")
    result = project.run(
        "ray", "job", "submit", "--address", UNREACHABLE, "--runtime-env-json", json.dumps({"image_uri": "img:1"}),
        "--", "python", "e2e_local.py", check=False, env=_plain_env(), timeout=120)
    assert "roar cannot add itself to this job" in result.stderr and "image_uri" in result.stderr
    assert "runs without roar on the cluster" in result.stderr
    assert result.returncode != 0  # Ray's own answer: nothing listens there
    (run,) = [j for j in project.dag()["jobs"] if j["role"] == "run"]
    assert run["command"].startswith("ray job submit") and run["status"] == "failed"


def test_a_submit_that_cannot_reach_the_cluster_records_the_command(tmp_path: Path) -> None:
    project = new_project(tmp_path, "proj")
    result = project.run(
        "ray", "job", "submit", "--address", UNREACHABLE, "--working-dir", ".", "--", "python", "e2e_local.py",
        check=False, env=_plain_env(), timeout=180)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "no lineage came from the cluster" in result.stderr
    (run,) = [j for j in project.dag()["jobs"] if j["role"] == "run"]
    assert run["status"] == "failed" and run["exit_code"] == 1
    assert not list((project.root / ".roar" / "spool").iterdir()), "nothing left pending"
