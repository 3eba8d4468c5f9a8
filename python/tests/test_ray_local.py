"""Local Ray end to end, through the real roar binary: ``roar run python <scenario>.py`` in a
temp project, then ``roar dag --format json`` (docs/dag-json.md). Each Ray task and actor call
must be a job with exactly the files it read and wrote, digests equal to b3sum of the files,
and the edges between them.

The scenarios share Ray starts: one ``roar run`` of ray_scenarios/e2e_local.py (per_call)
holds most of them, a second (per_actor) the actor scenario, a third the demo pipeline."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
from fixtures_ray import REPO, SCENARIOS, loopback_env, python_exe
from roar_cli import Project, b3sum, roar_binary

pytestmark = pytest.mark.skipif(
    roar_binary() is None, reason="roar is not built: set ROAR_BIN_DIR or run scripts/build first"
)

MODULE = "e2e_local"


@dataclass
class Run:
    project: Project
    result: CompletedProcess[str]
    dag: dict[str, Any]

    @property
    def root(self) -> Path:
        return self.project.root

    def abs(self, relative: str) -> str:
        return str(self.root / relative)

    def run_job(self) -> dict[str, Any]:
        runs = [j for j in self.dag["jobs"] if j["role"] == "run"]
        assert len(runs) == 1, [j["command"] for j in runs]
        return runs[0]

    def tasks(self, function: str) -> list[dict[str, Any]]:
        names = {function, f"{MODULE}.{function}"}
        return [j for j in self.dag["jobs"] if j.get("ray") and j["ray"]["function"] in names]

    def task(self, function: str) -> dict[str, Any]:
        found = self.tasks(function)
        assert len(found) == 1, f"{function}: {len(found)} jobs; functions: {self.functions()}"
        return found[0]

    def functions(self) -> list[str]:
        return sorted({j["ray"]["function"] for j in self.dag["jobs"] if j.get("ray")})

    def job(self, uid: str) -> dict[str, Any]:
        return next(j for j in self.dag["jobs"] if j["uid"] == uid)

    def has_edge(self, source: dict[str, Any], target: dict[str, Any], relative: str) -> bool:
        edge = {"from": source["uid"], "to": target["uid"], "path": self.abs(relative)}
        return any(all(e.get(k) == v for k, v in edge.items()) for e in self.dag["edges"])


def _project(tmp_path_factory: pytest.TempPathFactory, name: str) -> Project:
    binary = roar_binary()
    assert binary is not None
    root = tmp_path_factory.mktemp(name) / "proj"
    root.mkdir()
    project = Project(root=root, roar=binary)
    project.cli("init")
    return project


def _run(project: Project, *command: str) -> Run:
    result = project.run(*command, check=False, env=loopback_env(), timeout=600)
    dag = project.dag()
    return Run(project, result, dag)


@pytest.fixture(scope="module")
def per_call(tmp_path_factory: pytest.TempPathFactory) -> Run:
    project = _project(tmp_path_factory, "percall")
    shutil.copy(SCENARIOS / "e2e_local.py", project.root / "e2e_local.py")
    return _run(project, python_exe(), "e2e_local.py")


@pytest.fixture(scope="module")
def per_actor(tmp_path_factory: pytest.TempPathFactory) -> Run:
    project = _project(tmp_path_factory, "peractor")
    project.cli("config", "set", "ray.actor_attribution", "per_actor")
    shutil.copy(SCENARIOS / "e2e_local.py", project.root / "e2e_local.py")
    return _run(project, python_exe(), "e2e_local.py", "actor")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Run:
    project = _project(tmp_path_factory, "pipeline")
    shutil.copy(REPO / "examples" / "pipeline" / "pipeline.py", project.root / "pipeline.py")
    return _run(project, python_exe(), "pipeline.py")


# ---------------------------------------------------------------------------------------------
# assertions


def rel_paths(run: Run, refs: Iterable[dict[str, Any]]) -> set[str]:
    out = set()
    for ref in refs:
        path = Path(ref["path"])
        out.add(str(path.relative_to(run.root)) if path.is_relative_to(run.root) else str(path))
    return out


def assert_io(run: Run, job: dict[str, Any], inputs: set[str], outputs: set[str]) -> None:
    """Exactly these project files, each with its b3sum digest and size."""
    label = job["ray"]["function"] if job.get("ray") else job["command"]
    assert rel_paths(run, job["inputs"]) == inputs, f"inputs of {label}"
    assert rel_paths(run, job["outputs"]) == outputs, f"outputs of {label}"
    for ref in job["outputs"]:
        path = Path(ref["path"])
        assert ref["kind"] == "file"
        assert ref["hashes"].get("blake3") == b3sum(path), f"digest of {path} ({label})"
        assert ref["size"] == path.stat().st_size
    for ref in job["inputs"]:
        path = Path(ref["path"])
        if ref["hashes"]:
            assert ref["hashes"].get("blake3") == b3sum(path), f"digest of {path} read by {label}"


def assert_ray_identity(job: dict[str, Any], attempt: int = 0, actor: bool | None = None) -> None:
    ray = job["ray"]
    assert len(ray["task_id"]) == 48 and ray["attempt"] == attempt
    assert ray["node_id"] and ray["worker_id"] and ray["job_id"]
    if actor is True:
        assert ray["actor_id"]
    if actor is False:
        assert ray["actor_id"] is None


# ---------------------------------------------------------------------------------------------
# per_call run


def test_run_succeeds(per_call: Run) -> None:
    assert per_call.result.returncode == 0, per_call.result.stderr[-6000:]
    run = per_call.run_job()
    assert run["status"] == "ok" and run["exit_code"] == 0 and run["parent_uid"] is None


def test_fan_out_fan_in(per_call: Run) -> None:
    run = per_call.run_job()
    shards = per_call.tasks("shard")
    assert len(shards) == 4
    merge = per_call.task("merge")
    for job in shards:
        assert job["role"] == "task" and job["status"] == "ok"
        assert job["parent_uid"] == run["uid"]
        assert_ray_identity(job, actor=False)
        i = next(iter(rel_paths(per_call, job["inputs"])))[len("fan/in-")]
        assert_io(per_call, job, {f"fan/in-{i}.txt"}, {f"fan/mid-{i}.txt"})
        assert per_call.has_edge(run, job, f"fan/in-{i}.txt")
        assert per_call.has_edge(job, merge, f"fan/mid-{i}.txt")
    assert_io(per_call, merge, {f"fan/mid-{i}.txt" for i in range(4)}, {"fan/out.txt"})
    assert len({j["ray"]["task_id"] for j in shards}) == 4


def test_actor_calls_per_call(per_call: Run) -> None:
    init = per_call.task("Counter.__init__")
    adds = sorted(per_call.tasks("Counter.add"), key=lambda j: j["started_at"])
    dump = per_call.task("Counter.dump")
    assert len(adds) == 2
    actor_id = init["ray"]["actor_id"]
    for job in [init, *adds, dump]:
        assert job["role"] == "actor" and job["status"] == "ok"
        assert_ray_identity(job, actor=True)
        assert job["ray"]["actor_id"] == actor_id
    assert_io(per_call, init, {"actor/config.txt"}, set())
    assert_io(per_call, adds[0], {"actor/a.txt"}, set())
    assert_io(per_call, adds[1], {"actor/b.txt"}, set())
    assert_io(per_call, dump, set(), {"actor/summary.txt"})
    assert per_call.has_edge(per_call.run_job(), adds[1], "actor/b.txt")
    plain = per_call.task("plain_after_actor")
    assert plain["role"] == "task"
    assert_io(per_call, plain, set(), {"actor/plain.txt"})


def test_subprocess_of_a_task(per_call: Run) -> None:
    job = per_call.task("shell_copy")
    assert job["status"] == "ok"
    assert_io(per_call, job, {"sub/a"}, {"sub/b"})


def test_thread_of_a_task(per_call: Run) -> None:
    job = per_call.task("threaded_write")
    assert_io(per_call, job, set(), {"thread/out.txt"})


def test_parquet_written_and_read(per_call: Run) -> None:
    writer = per_call.task("to_parquet")
    reader = per_call.task("from_parquet")
    assert_io(per_call, writer, set(), {"pq/table.parquet"})
    assert_io(per_call, reader, {"pq/table.parquet"}, {"pq/summary.txt"})
    assert per_call.has_edge(writer, reader, "pq/table.parquet")


def test_nested_tasks(per_call: Run) -> None:
    parent = per_call.task("nested_parent")
    children = per_call.tasks("nested_child")
    assert len(children) == 2
    assert parent["parent_uid"] == per_call.run_job()["uid"]
    for child in children:
        assert child["parent_uid"] == parent["uid"], "a nested task's parent is the task that submitted it"
        i = next(iter(rel_paths(per_call, child["outputs"])))[len("nested/child-")]
        assert_io(per_call, child, set(), {f"nested/child-{i}.txt"})
        assert per_call.has_edge(child, parent, f"nested/child-{i}.txt")
    assert_io(per_call, parent, {"nested/child-0.txt", "nested/child-1.txt"}, {"nested/parent.txt"})


def test_failed_task_keeps_its_write(per_call: Run) -> None:
    job = per_call.task("fails_after_write")
    assert job["status"] == "failed"
    assert "RuntimeError" in (job.get("error") or "") and "boom after writing" in job["error"]
    assert_io(per_call, job, set(), {"fail/partial.txt"})


def test_killed_worker(per_call: Run) -> None:
    job = per_call.task("killed_midway")
    assert job["status"] == "killed"
    assert "kill/before.txt" in rel_paths(per_call, job["outputs"])
    ref = next(r for r in job["outputs"] if r["path"] == per_call.abs("kill/before.txt"))
    assert ref["hashes"]["blake3"] == b3sum(per_call.root / "kill/before.txt")


def test_retries_are_distinct_attempts(per_call: Run) -> None:
    attempts = sorted(per_call.tasks("flaky"), key=lambda j: j["ray"]["attempt"])
    assert [j["ray"]["attempt"] for j in attempts] == [0, 1]
    assert attempts[0]["ray"]["task_id"] == attempts[1]["ray"]["task_id"]
    assert attempts[0]["uid"] != attempts[1]["uid"]
    assert [j["status"] for j in attempts] == ["failed", "ok"]
    assert_io(per_call, attempts[0], set(), {"retry/attempt-0.txt"})
    assert_io(per_call, attempts[1], set(), {"retry/result.txt"})


def test_no_internal_files_in_any_job(per_call: Run) -> None:
    """Only the project's files: nothing of .roar (spool), roar_runtime, Ray's session and
    logs, the interpreter; and tasks do not read the driver script."""
    root = str(per_call.root) + "/"
    for job in per_call.dag["jobs"]:
        for ref in job["inputs"] + job["outputs"]:
            path = ref["path"]
            assert path.startswith(root), f"{path} in {job['command']}"
            for marker in ("/.roar/", "roar_runtime", "roar-python", "/ray/session", "session_", "/.venv/", "/logs/"):
                assert marker not in path, f"{path} in {job['command']}"
        if job["role"] != "run":
            assert per_call.abs("e2e_local.py") not in {r["path"] for r in job["inputs"]}
    functions = set(per_call.functions())
    assert not any(f.rsplit(".", 1)[-1].startswith("__ray") for f in functions), functions


def test_every_job_is_a_task_or_the_run(per_call: Run) -> None:
    expected = {
        f"{MODULE}.{name}"
        for name in (
            "shard", "merge", "Counter.__init__", "Counter.add", "Counter.dump", "plain_after_actor",
            "shell_copy", "threaded_write", "to_parquet", "from_parquet", "nested_parent", "nested_child",
            "fails_after_write", "killed_midway", "flaky",
        )
    }
    assert set(per_call.functions()) == expected
    roles = {j["role"] for j in per_call.dag["jobs"]}
    assert roles <= {"run", "task", "actor"}


# ---------------------------------------------------------------------------------------------
# per_actor run


def test_actor_per_actor(per_actor: Run) -> None:
    assert per_actor.result.returncode == 0, per_actor.result.stderr[-6000:]
    actors = [j for j in per_actor.dag["jobs"] if j["role"] == "actor"]
    assert len(actors) == 1, [j.get("ray") for j in actors]
    job = actors[0]
    assert job["status"] == "ok" and job["ray"]["actor_id"]
    assert_io(per_actor, job, {"actor/config.txt", "actor/a.txt", "actor/b.txt"}, {"actor/summary.txt"})
    assert per_actor.has_edge(per_actor.run_job(), job, "actor/a.txt")
    plain = per_actor.task("plain_after_actor")
    assert plain["role"] == "task"
    assert_io(per_actor, plain, set(), {"actor/plain.txt"})


# ---------------------------------------------------------------------------------------------
# the demo pipeline


def test_demo_pipeline(pipeline: Run) -> None:
    assert pipeline.result.returncode == 0, pipeline.result.stderr[-6000:]
    m = "pipeline"
    cleans = pipeline.tasks(f"{m}.clean")
    assert len(cleans) == 4
    run = pipeline.run_job()
    assert {f"data/raw/part-{i}.csv" for i in range(4)} <= rel_paths(pipeline, run["outputs"])
    for job in cleans:
        (src,) = rel_paths(pipeline, job["inputs"])
        i = src[len("data/raw/part-") : -len(".csv")]
        assert_io(pipeline, job, {src}, {f"work/clean-{i}.csv"})
        assert pipeline.has_edge(run, job, src)
    adds = pipeline.tasks(f"{m}.Stats.add")
    assert len(adds) == 4 and all(j["role"] == "actor" for j in adds)
    dump = pipeline.task(f"{m}.Stats.dump")
    assert_io(pipeline, dump, set(), {"work/stats.json"})
    concat = pipeline.task(f"{m}.concat")
    assert_io(pipeline, concat, {f"work/clean-{i}.csv" for i in range(4)}, {"work/all.csv"})
    features = pipeline.task(f"{m}.features")
    assert_io(pipeline, features, {"work/all.csv"}, {"work/features.parquet"})
    report = pipeline.task(f"{m}.report")
    assert_io(pipeline, report, {"work/features.parquet", "work/stats.json"}, {"out/report.txt"})
    assert pipeline.has_edge(concat, features, "work/all.csv")
    assert pipeline.has_edge(features, report, "work/features.parquet")
    assert pipeline.has_edge(dump, report, "work/stats.json")


def test_ray_disabled_in_roar_toml_records_the_driver_only(tmp_path_factory: pytest.TempPathFactory) -> None:
    project = _project(tmp_path_factory, "raydisabled")
    project.cli("config", "set", "ray.enabled", "false")
    script = project.root / "two_tasks.py"
    script.write_text(
        "import ray\n"
        "@ray.remote\n"
        "def write(i):\n"
        "    open(f'out-{i}.txt', 'w').write(str(i))\n"
        "ray.init(num_cpus=2, include_dashboard=False)\n"
        "ray.get([write.remote(i) for i in range(2)])\n"
        "ray.shutdown()\n"
    )
    run = _run(project, python_exe(), "two_tasks.py")
    assert run.result.returncode == 0, run.result.stderr
    assert [job for job in run.dag["jobs"] if job["role"] != "run"] == []
    assert run.run_job()["status"] == "ok"
