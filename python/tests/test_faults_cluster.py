"""The cluster part of the fault suite (issue 12, docs/reliability.md): real processes on a real
two-node loopback Ray cluster, faults injected by PID, and exact assertions on what roar records
(which job wrote which path, with b3sum's digest) and on what it counts as lost (the run's
``coverage`` in ``roar dag --format json`` and ``roar status``).

The cluster is this module's own (``fixtures_cluster.start_cluster``, the same two nodes as the
session fixture ``ray_cluster``): one case stops its worker node, which must not break the other
host-submit tests. That case runs last.

The jobs are ``ray_scenarios/faults_cluster.py``; the test and a job talk through a control folder
that is not lineage (``FAULT_CONTROL``): the job says ``ready`` once its first writes have been
shipped, the test injects the fault, then says ``go``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fixtures_cluster import (
    VENV_BIN,
    ClusterUnavailable,
    RayCluster,
    _must_start,
    kill_worker_node,
    start_cluster,
    stop_cluster,
)
from fixtures_ray import SCENARIOS
from roar_cli import Project, b3sum, roar_binary

pytestmark = pytest.mark.skipif(
    roar_binary() is None, reason="roar is not built: set ROAR_BIN_DIR or run scripts/build first"
)

SCRIPT = "faults_cluster.py"
MODULE = "faults_cluster"
#: Small, so that a case that waits for lineage that never comes fails fast (docs/ray-submit.md).
DRAIN_TIMEOUT_S = 10
#: Where workers write their spools on every node (ClusterSubmission.nodeRunRoot).
NODE_RUN_ROOT = "/tmp/roar-cluster"
#: ``roar run`` must end within this of the job's end whatever was killed.
PROMPT_S = 8.0


# ---------------------------------------------------------------------------------------------
# the cluster, processes


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    # A stopped node is declared dead after the GCS misses this many health checks of this period
    # (Ray's defaults, 3 s × 5 after a 5 s delay, would make the node case wait ~20 s for nothing).
    tuning = {"RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3",
              "RAY_health_check_initial_delay_ms": "1000", "RAY_health_check_timeout_ms": "1000"}
    saved = {k: os.environ.get(k) for k in tuning}
    os.environ.update(tuning)
    try:
        # Each node its own /tmp/roar-cluster (the node spools and outboxes), as on two machines: on
        # one host the head's agent would otherwise ship the worker node's spool too, and a lost
        # agent or node would lose nothing.
        started = start_cluster(node_local=[NODE_RUN_ROOT])
    except ClusterUnavailable as exc:
        if _must_start():
            pytest.fail(f"the Ray cluster did not start: {exc}")
        pytest.skip(f"a local two-node Ray cluster cannot start here: {exc}")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        yield started
    finally:
        stop_cluster(started)


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace").split("\0")[:-1]
    except OSError:
        return []


def parent_of(pid: int) -> int:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return int(raw[raw.rindex(")") + 2:].split()[1])


def alive(pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return raw[raw.rindex(")") + 2:].split()[0] != "Z"


def roar_agents(run_id: str | None = None) -> dict[int, list[str]]:
    """Every ``roar-agent ship`` process on this machine (of one run when given): pid → argv."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            argv = cmdline(int(entry))
            if len(argv) > 1 and argv[0].endswith("/roar-agent") and argv[1] == "ship" and alive(int(entry)):
                if run_id is None or run_id in argv:
                    found[int(entry)] = argv
    return found


def agent_of_node(node_id: str) -> int:
    """The pid of the ``roar-agent`` shipping ``node_id``'s spool (``--producer node-<id>``)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for pid, argv in roar_agents().items():
            if f"node-{node_id}" in argv:
                return pid
        time.sleep(0.2)
    raise AssertionError(f"no roar-agent for node {node_id}")


def sigkill(pids: set[int] | list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# a project, a submit


@dataclass
class Case:
    project: Project
    data: Path
    control: Path
    submission_id: str

    def name(self, path: str) -> str:
        p = Path(path)
        return "data:" + str(p.relative_to(self.data)) if p.is_relative_to(self.data) else path

    def dag(self) -> dict[str, Any]:
        return self.project.dag()


def new_case(tmp_path: Path, name: str) -> Case:
    binary = roar_binary()
    assert binary is not None
    root = tmp_path / name
    root.mkdir(parents=True)
    project = Project(root=root, roar=binary)
    project.cli("init")
    data = tmp_path / f"{name}-data"
    data.mkdir()
    control = tmp_path / f"{name}-control"  # not in filters.include: never lineage
    control.mkdir()
    project.cli("config", "set", "filters.include", json.dumps([str(data)]))
    shutil.copy(SCENARIOS / SCRIPT, root / SCRIPT)
    return Case(project, data, control, f"raysubmit_fault{name}{secrets.token_hex(6)}")


def submit_env(cluster: RayCluster, **extra: str) -> dict[str, str]:
    env = dict(cluster.env)
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', os.environ.get('PATH', ''))}"
    env["ROAR_DRAIN_TIMEOUT"] = str(DRAIN_TIMEOUT_S)
    env.update(extra)
    return env


def submit_command(case: Case, cluster: RayCluster, scenario: str, **env_vars: str) -> list[str]:
    runtime_env = {"working_dir": ".", "env_vars": {"E2E_DATA": str(case.data), "FAULT_CONTROL": str(case.control),
                                                   **env_vars}}
    return ["ray", "job", "submit", "--address", cluster.dashboard_url, "--submission-id", case.submission_id,
            "--runtime-env-json", json.dumps(runtime_env), "--", "python", SCRIPT, scenario]


def start_roar(case: Case, cluster: RayCluster, scenario: str, **env_vars: str) -> subprocess.Popen[str]:
    command = [str(case.project.roar), "run", *submit_command(case, cluster, scenario, **env_vars)]
    return subprocess.Popen(command, cwd=case.project.root, env=case.project.env(submit_env(cluster)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@dataclass
class Ended:
    returncode: int
    stdout: str
    stderr: str
    ended_at: float  # time.time() when roar exited


def finish(proc: subprocess.Popen[str], timeout: float = 240) -> Ended:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(
            f"roar run did not end in {timeout:.0f}s\nstdout:\n{out[-4000:]}\nstderr:\n{err[-4000:]}") from None
    return Ended(proc.returncode, out, err, time.time())


def job_info(cluster: RayCluster, submission_id: str) -> dict[str, Any]:
    """Ray's view of the job (status, end time in ms, driver exit code)."""
    code = (
        "import json, sys\n"
        "from ray.job_submission import JobSubmissionClient\n"
        f"info = JobSubmissionClient({cluster.dashboard_url!r}).get_job_info({submission_id!r})\n"
        "print(json.dumps({'status': str(info.status.value), 'end_time': info.end_time,"
        " 'message': info.message, 'driver_exit_code': info.driver_exit_code}))\n"
    )
    result = subprocess.run([cluster.python, "-c", code], env=cluster.env, capture_output=True, text=True,
                            timeout=60, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def wait_ready(case: Case, proc: subprocess.Popen[str], timeout: float = 120) -> dict[str, Any]:
    ready = case.control / "ready"
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"roar run ended before the job was ready ({proc.returncode})\n{out[-3000:]}\n"
                                 f"{err[-5000:]}")
        assert time.monotonic() < deadline, "the job never got ready"
        time.sleep(0.1)
    return json.loads(ready.read_text())  # type: ignore[no-any-return]


def go(case: Case) -> None:
    (case.control / "go").write_text("")


# ---------------------------------------------------------------------------------------------
# reading the DAG


def run_job(dag: dict[str, Any]) -> dict[str, Any]:
    (run,) = [j for j in dag["jobs"] if j["role"] == "run"]
    return run


def tasks(dag: dict[str, Any], function: str) -> list[dict[str, Any]]:
    return [j for j in dag["jobs"] if j.get("ray") and j["ray"]["function"] == f"{MODULE}.{function}"]


def written(case: Case, dag: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Every recorded file output: ``data:<rel>`` → (writer, digest); the writer is the task's
    function or ``<driver>``. (A folder of several ``.txt`` parts is also a composite on each of
    its writers, docs/composites.md: the parts are what is checked here.)"""
    found: dict[str, tuple[str, str]] = {}
    for job in dag["jobs"]:
        writer = job["ray"]["function"].removeprefix(MODULE + ".") if job.get("ray") else "<driver>"
        for ref in job["outputs"]:
            if ref["kind"] == "composite":
                continue
            name = case.name(ref["path"])
            assert name not in found, f"{name} written by two jobs"
            found[name] = (writer, ref["hashes"].get("blake3", ""))
    return found


def expected(case: Case, writers: dict[str, str]) -> dict[str, tuple[str, str]]:
    """``writers`` (``data:<rel>`` → writer) with b3sum of each file as it is on disk."""
    return {name: (writer, b3sum(case.data / name.removeprefix("data:"))) for name, writer in writers.items()}


def debris(cluster: RayCluster) -> str:
    """For failure messages: the roar agents' logs and the cluster's roar lines."""
    chunks = []
    for log in sorted(Path("/tmp/roar-cluster").glob("*/agent-*.log")):
        chunks.append(f"--- {log}\n{log.read_text(errors='replace')[-1500:]}")
    for log in sorted(cluster.temp_dir.glob("**/logs/worker-*.err")):
        text = log.read_text(errors="replace")
        if "roar" in text:
            chunks.append(f"--- {log.name}\n{text[-1500:]}")
    return "\n".join(chunks)[-8000:]


def status_text(case: Case) -> str:
    return case.project.cli("status").stdout


def no_agent_left(run_id: str) -> None:
    """No ``roar-agent`` of the run may outlive it; kill (by pid) and fail if one did."""
    deadline = time.monotonic() + 10
    left = roar_agents(run_id)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = roar_agents(run_id)
    sigkill(set(left))
    assert not left, f"roar-agent processes of run {run_id} still running: {left}"


# ---------------------------------------------------------------------------------------------
# 1. a task writes, goes quiet, is SIGKILLed


def test_quiet_task_sigkilled_keeps_its_write(cluster: RayCluster, tmp_path: Path) -> None:
    case = new_case(tmp_path, "quiet")
    ended = finish(start_roar(case, cluster, "quiet"))
    assert ended.returncode == 0, ended.stderr[-6000:]
    dag = case.dag()
    (task,) = tasks(dag, "write_then_quiet_then_killed")
    assert task["status"] == "killed", task
    assert task["ray"]["node_id"] == json.loads((case.control / "nodes").read_text())["worker"]
    assert written(case, dag) == expected(case, {"data:quiet/out.txt": "write_then_quiet_then_killed"})
    assert task["outputs"][0]["capture"] == "native", "the F record itself arrived, not a guess from O"
    assert run_job(dag)["status"] == "ok" and run_job(dag)["coverage"] == {}
    assert "Coverage" not in status_text(case)
    no_agent_left(run_job(dag)["uid"])


# ---------------------------------------------------------------------------------------------
# 2. the driver raises right after ray.init()


def test_driver_raising_after_init_records_its_io_and_returns_promptly(cluster: RayCluster, tmp_path: Path) -> None:
    case = new_case(tmp_path, "early")
    (case.data / "early").mkdir()
    (case.data / "early" / "in.txt").write_text("the driver's input\n")

    # Untraced, the same job: what the user gets without roar.
    plain = Case(case.project, case.data, case.control, case.submission_id + "plain")
    untraced = subprocess.run(submit_command(plain, cluster, "early"), cwd=case.project.root,
                              env=submit_env(cluster), capture_output=True, text=True, timeout=180)
    assert untraced.returncode == 1, untraced.stdout[-3000:] + untraced.stderr[-3000:]
    assert "raised right after ray.init()" in untraced.stdout
    (case.data / "early" / "out.txt").unlink()

    ended = finish(start_roar(case, cluster, "early"))
    assert ended.returncode == untraced.returncode, ended.stderr[-6000:]
    assert "raised right after ray.init()" in ended.stdout
    info = job_info(cluster, case.submission_id)
    assert info["status"] == "FAILED" and info["driver_exit_code"] == 1, info
    lag = ended.ended_at - info["end_time"] / 1000
    assert lag < PROMPT_S, (f"roar run ended {lag:.1f}s after the job (drain timeout {DRAIN_TIMEOUT_S}s)\n"
                            f"{ended.stderr[-3000:]}\n{ended.stdout[-3000:]}\n{debris(cluster)}")

    dag = case.dag()
    run = run_job(dag)
    assert run["status"] == "failed" and run["exit_code"] == 1, run
    assert [j for j in dag["jobs"] if j.get("ray")] == [], "no task ran"
    script = case.project.root / SCRIPT  # the driver read its script: restored to the project's path
    assert {case.name(r["path"]): r["hashes"]["blake3"] for r in run["inputs"]} == {
        "data:early/in.txt": b3sum(case.data / "early/in.txt"), str(script): b3sum(script)}
    assert written(case, dag) == expected(case, {"data:early/out.txt": "<driver>"})
    assert run["coverage"] == {}
    assert "Coverage" not in status_text(case)
    no_agent_left(run["uid"])


# ---------------------------------------------------------------------------------------------
# 3. and 4. a fault injected mid-job: the job's first writes (one per node) have been shipped, the
# test kills something, then the job writes once more on each node and the driver writes last.

FIRST = {"data:fault/head-1.txt": "step", "data:fault/worker-1.txt": "hold"}
SECOND = {"data:fault/head-2.txt": "step", "data:fault/worker-2.txt": "hold", "data:fault/driver.txt": "<driver>"}


@dataclass
class Faulted:
    case: Case
    ended: Ended
    ready: dict[str, Any]
    info: dict[str, Any]
    lag: float  # seconds from the job's end to roar's
    cluster: RayCluster

    @property
    def dag(self) -> dict[str, Any]:
        return self.case.dag()

    def explain(self) -> str:
        return f"exit {self.ended.returncode}\n{self.ended.stderr[-4000:]}\n{debris(self.cluster)}"


def run_fault(cluster: RayCluster, tmp_path: Path, name: str, inject: Any, release: bool = True) -> Faulted:
    """Submits the ``fault`` job, injects the fault once it is ready, then (``release``) lets it go on."""
    case = new_case(tmp_path, name)
    proc = start_roar(case, cluster, "fault")
    try:
        ready = wait_ready(case, proc)
        inject(ready)
        if release:
            go(case)
        ended = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    info = job_info(cluster, case.submission_id)
    lag = ended.ended_at - info["end_time"] / 1000
    faulted = Faulted(case, ended, ready, info, lag, cluster)
    assert lag < DRAIN_TIMEOUT_S + PROMPT_S, f"roar run ended {lag:.1f}s after the job\n{faulted.explain()}"
    return faulted


def hold_task(dag: dict[str, Any]) -> dict[str, Any]:
    (job,) = tasks(dag, "hold")
    return job


def test_roar_agent_sigkilled_is_restarted_and_nothing_is_lost(cluster: RayCluster, tmp_path: Path) -> None:
    killed: list[int] = []

    def inject(ready: dict[str, Any]) -> None:
        pid = agent_of_node(ready["worker"])
        sigkill([pid])
        killed.append(pid)

    f = run_fault(cluster, tmp_path, "agent", inject)
    assert f.ended.returncode == 0, f.explain()
    assert "HOLD OK" in f.ended.stdout
    dag = f.dag
    assert written(f.case, dag) == expected(f.case, FIRST | SECOND), f.explain()
    assert hold_task(dag)["status"] == "ok"
    run = run_job(dag)
    assert run["status"] == "ok" and run["coverage"] == {}, run
    assert f.lag < PROMPT_S, f"{f.lag:.1f}s"
    assert not alive(killed[0])
    no_agent_left(run["uid"])


def test_agent_actor_sigkilled_keeps_what_it_forwarded(cluster: RayCluster, tmp_path: Path) -> None:
    orphans: list[int] = []

    def inject(ready: dict[str, Any]) -> None:
        agent = agent_of_node(ready["worker"])
        actor = parent_of(agent)
        assert "ray::" in " ".join(cmdline(actor)) or "default_worker" in " ".join(cmdline(actor)), cmdline(actor)
        sigkill([actor])
        orphans.append(agent)

    f = run_fault(cluster, tmp_path, "actor", inject)
    assert f.ended.returncode == 0, f.explain()
    dag = f.dag
    lost = {"data:fault/worker-2.txt"}
    assert written(f.case, dag) == expected(f.case, {k: v for k, v in (FIRST | SECOND).items() if k not in lost}), \
        f.explain()
    run = run_job(dag)
    assert run["status"] == "ok" and run["coverage"] == {"agent_lost": 1}, run
    assert "agent_lost: 1" in status_text(f.case)
    assert "no final word from the roar agent of node(s) " + f.ready["worker"] in f.ended.stderr
    assert f.lag < PROMPT_S, f"{f.lag:.1f}s"
    no_agent_left(run["uid"])


def test_collector_sigkilled_keeps_what_it_spilled(cluster: RayCluster, tmp_path: Path) -> None:
    def inject(ready: dict[str, Any]) -> None:
        collector = parent_of(agent_of_node(ready["head"]))
        sigkill([collector])

    f = run_fault(cluster, tmp_path, "collector", inject)
    assert f.ended.returncode == 0, f.explain()
    dag = f.dag
    assert written(f.case, dag) == expected(f.case, FIRST), f.explain()
    run = run_job(dag)
    assert run["status"] == "ok", run
    assert run["coverage"] == {"collector_lost": 1, "agent_lost": 2}, run
    status = status_text(f.case)
    assert "collector_lost: 1" in status and "agent_lost: 2" in status, status
    assert "roar's collector" in f.ended.stderr, f.ended.stderr[-3000:]
    no_agent_left(run["uid"])


def test_driver_sigkilled_keeps_everything_shipped(cluster: RayCluster, tmp_path: Path) -> None:
    def inject(ready: dict[str, Any]) -> None:
        sigkill([ready["driver_pid"]])

    f = run_fault(cluster, tmp_path, "driver", inject, release=False)
    assert f.info["status"] == "FAILED", f.info
    assert f.ended.returncode == 1, f.explain()  # what `ray job submit` says of a failed job
    dag = f.dag
    assert written(f.case, dag) == expected(f.case, FIRST), f.explain()
    assert hold_task(dag)["status"] == "killed", ("Ray ends a dead driver's tasks", hold_task(dag)["error"])
    run = run_job(dag)
    assert run["status"] == "failed" and run["exit_code"] == 1, run
    assert run["coverage"] == {}, run
    no_agent_left(run["uid"])


# The last case: it leaves the cluster with one node.
def test_worker_node_stopped_keeps_what_it_shipped(cluster: RayCluster, tmp_path: Path) -> None:
    def inject(ready: dict[str, Any]) -> None:
        assert kill_worker_node(cluster)

    f = run_fault(cluster, tmp_path, "node", inject)
    assert f.info["status"] == "SUCCEEDED", f.info  # the driver caught the lost task
    assert f.ended.returncode == 0, f.explain()
    assert "HOLD LOST" in f.ended.stdout
    dag = f.dag
    lost = {"data:fault/worker-2.txt"}
    assert written(f.case, dag) == expected(f.case, {k: v for k, v in (FIRST | SECOND).items() if k not in lost}), \
        f.explain()
    assert hold_task(dag)["status"] == "killed", ("its node died under it", hold_task(dag))
    run = run_job(dag)
    assert run["status"] == "ok" and run["coverage"] == {"agent_lost": 1}, run
    assert "agent_lost: 1" in status_text(f.case)
    no_agent_left(run["uid"])
