"""Ray Data, local, through the real roar binary (issue 11): a folder of 3 CSV files →
``read_csv`` → ``map_batches`` → ``write_parquet`` (ray_scenarios/ray_data_pipeline.py), run
untraced and under ``roar run`` in separate temp folders. roar must not change the user's
result (the written dataset, or the error and exit status when the map function raises), and
the lineage must hold every file Ray Data's tasks read and wrote, with b3sum digests, and no
job for Ray Data's own actors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fixtures_ray import SCENARIOS, loopback_env, python_exe
from roar_cli import Project, b3sum, composite_digest, roar_binary

pytestmark = pytest.mark.skipif(
    roar_binary() is None, reason="roar is not built: set ROAR_BIN_DIR or run scripts/build first"
)

SCRIPT = "ray_data_pipeline.py"
CSV_FILES = 3
ROWS = 10

# Ray Data's own actors and bookkeeping: never jobs.
INTERNAL_MARKERS = ("_StatsActor", "AutoscalingRequester", "AutoscalingCoordinator", "cluster_autoscaler",
                    "ray.data._internal.stats")


def write_inputs(root: Path) -> list[Path]:
    folder = root / "data" / "in"
    folder.mkdir(parents=True)
    files = []
    for i in range(CSV_FILES):
        path = folder / f"part-{i}.csv"
        rows = [f"{i * ROWS + j},n{i}-{j}" for j in range(ROWS)]
        path.write_text("x,name\n" + "\n".join(rows) + "\n")
        files.append(path)
    return files


def untraced(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, **loopback_env())
    return subprocess.run([python_exe(), SCRIPT, *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)


def traced(root: Path, *args: str) -> dict[str, Any]:
    binary = roar_binary()
    assert binary is not None
    project = Project(root=root, roar=binary)
    if not (root / ".roar").is_dir():
        project.cli("init")
    result = project.run(python_exe(), SCRIPT, *args, check=False, env=loopback_env(), timeout=600)
    return {"result": result, "dag": project.dag()}


def setup_pair(tmp_path_factory: pytest.TempPathFactory, name: str) -> dict[str, Path]:
    roots = {}
    for side in ("untraced", "traced"):
        root = tmp_path_factory.mktemp(f"{name}-{side}") / "proj"
        root.mkdir()
        shutil.copy(SCENARIOS / SCRIPT, root / SCRIPT)
        write_inputs(root)
        roots[side] = root
    return roots


def dataset_rows(folder: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    parts = sorted(folder.glob("*.parquet"))
    assert parts, f"no parquet part in {folder}"
    rows = [row for part in parts for row in pq.read_table(part).to_pylist()]
    return sorted(rows, key=lambda row: row["x"])


def task_jobs(dag: dict[str, Any]) -> list[dict[str, Any]]:
    return [job for job in dag["jobs"] if job.get("ray")]


def functions(dag: dict[str, Any]) -> list[str]:
    return sorted({job["ray"]["function"] for job in task_jobs(dag)})


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    roots = setup_pair(tmp_path_factory, "ok")
    plain = untraced(roots["untraced"])
    return {"roots": roots, "untraced": plain, **traced(roots["traced"])}


@pytest.fixture(scope="module")
def second_run(pipeline: dict[str, Any]) -> dict[str, Any]:
    """The next run in the same projects: ``read_parquet("data/out")`` consumed by a task with
    ``iter_batches``."""
    roots = pipeline["roots"]
    assert pipeline["result"].returncode == 0, pipeline["result"].stderr
    plain = untraced(roots["untraced"], "read")
    return {"roots": roots, "untraced": plain, **traced(roots["traced"], "read")}


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    roots = setup_pair(tmp_path_factory, "raise")
    plain = untraced(roots["untraced"], "raise")
    return {"roots": roots, "untraced": plain, **traced(roots["traced"], "raise")}


def test_written_dataset_is_the_same(pipeline: dict[str, Any]) -> None:
    assert pipeline["untraced"].returncode == 0, pipeline["untraced"].stderr
    result = pipeline["result"]
    assert result.returncode == 0, result.stderr
    expected = dataset_rows(pipeline["roots"]["untraced"] / "data" / "out")
    assert [row["x"] for row in expected] == list(range(CSV_FILES * ROWS))
    assert all(row["y"] == 2 * row["x"] + 1 for row in expected)
    assert dataset_rows(pipeline["roots"]["traced"] / "data" / "out") == expected


def test_every_csv_read_by_a_task(pipeline: dict[str, Any]) -> None:
    root: Path = pipeline["roots"]["traced"]
    dag = pipeline["dag"]
    for path in sorted((root / "data" / "in").glob("*.csv")):
        readers = [job for job in dag["jobs"] for r in job["inputs"] if r["path"] == str(path)]
        names = [j.get("ray", {}).get("function", j["role"]) for j in readers]
        assert len(readers) == 1, f"{path.name}: read by {names}"
        job = readers[0]
        assert job.get("ray") and job["role"] == "task", f"{path.name} read by {job['role']} {job['command']}"
        digest = next(r for r in job["inputs"] if r["path"] == str(path))["hashes"]["blake3"]
        assert digest == b3sum(path), path.name


def test_every_parquet_part_written_by_a_task(pipeline: dict[str, Any]) -> None:
    root: Path = pipeline["roots"]["traced"]
    dag = pipeline["dag"]
    parts = sorted((root / "data" / "out").glob("*.parquet"))
    assert parts
    recorded = {r["path"]: (job, r) for job in dag["jobs"] for r in job["outputs"]
                if r["path"].startswith(str(root / "data" / "out") + "/")}
    assert sorted(recorded) == [str(p) for p in parts]
    for part in parts:
        job, ref = recorded[str(part)]
        assert job.get("ray") and job["role"] == "task", f"{part.name} written by {job['role']} {job['command']}"
        assert ref["hashes"]["blake3"] == b3sum(part), part.name


def test_reads_and_writes_attributed_to_their_operator_tasks(pipeline: dict[str, Any]) -> None:
    # In this plan reading and writing are separate operators (separate tasks), so no task both
    # reads a CSV file and writes a parquet part.
    plan = re.search(r"Execution plan of Dataset \S+ (.*)", pipeline["untraced"].stderr)
    assert plan, pipeline["untraced"].stderr
    if "TaskPoolMapOperator[ReadCSV] -> TaskPoolMapOperator[MapBatches(scale)->Write]" not in plan.group(1):
        pytest.skip(f"Ray Data fused the operators differently: {plan.group(1)}")
    mixed = [
        (job["ray"]["task_id"], sorted(Path(r["path"]).name for r in job["inputs"] + job["outputs"]))
        for job in task_jobs(pipeline["dag"])
        if any(r["path"].endswith(".csv") for r in job["inputs"])
        and any(r["path"].endswith(".parquet") for r in job["outputs"])
    ]
    assert not mixed, f"tasks that both read CSV and wrote parquet: {mixed}"


# -- the written folder is one dataset (docs/composites.md) -------------------------------------

def run_of(dag: dict[str, Any], job: dict[str, Any]) -> str:
    """The uid of the ``roar run`` job a job belongs to (tasks' parents lead to it)."""
    by_uid = {j["uid"]: j for j in dag["jobs"]}
    while job["parent_uid"] in by_uid:
        job = by_uid[job["parent_uid"]]
    return str(job["uid"])


def composite_refs(dag: dict[str, Any], path: str, side: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(job, r) for job in dag["jobs"] for r in job[side] if r["kind"] == "composite" and r["path"] == path]


def test_written_folder_is_one_composite_of_its_writers(pipeline: dict[str, Any]) -> None:
    root: Path = pipeline["roots"]["traced"]
    dag = pipeline["dag"]
    folder = root / "data" / "out"
    parts = sorted(folder.glob("*.parquet"))
    written = composite_refs(dag, str(folder), "outputs")
    assert written, "no composite for data/out"
    composite = written[0][1]
    # Its parts are the files in the folder, each with its b3sum, sorted by name.
    assert [c["name"] for c in composite["components"]] == sorted(p.name for p in parts)
    for component, part in zip(composite["components"], parts, strict=True):
        assert component["hashes"] == {"blake3": b3sum(part)}, part.name
        assert component["size"] == part.stat().st_size
    listed = [{"name": c["name"], "algorithm": "blake3", "digest": c["hashes"]["blake3"]}
              for c in composite["components"]]
    assert composite["hashes"] == {"blake3_merkle": composite_digest(listed)}
    assert composite["size"] == sum(p.stat().st_size for p in parts)
    # Exactly the tasks that wrote a part carry it, all with the same ref.
    part_writers = {job["uid"] for job in dag["jobs"] for r in job["outputs"]
                    if r["kind"] == "file" and Path(r["path"]).parent == folder}
    assert {job["uid"] for job, _ in written} == part_writers
    assert all(r == composite for _, r in written)
    assert all(job["role"] == "task" for job, _ in written)


def test_next_run_reads_the_dataset_from_its_writers(pipeline: dict[str, Any], second_run: dict[str, Any]) -> None:
    plain, result = second_run["untraced"], second_run["result"]
    assert plain.returncode == 0, plain.stderr
    assert result.returncode == 0, result.stderr
    root: Path = second_run["roots"]["traced"]
    expected_total = sum(2 * x + 1 for x in range(CSV_FILES * ROWS))
    assert (root / "data" / "total.txt").read_text() == f"{expected_total}\n"
    assert (second_run["roots"]["untraced"] / "data" / "total.txt").read_text() == f"{expected_total}\n"

    dag = second_run["dag"]
    folder = str(root / "data" / "out")
    written = composite_refs(dag, folder, "outputs")
    assert written
    digest = written[0][1]["hashes"]
    runs = sorted((job for job in dag["jobs"] if job["role"] == "run"), key=lambda job: job["step"])
    assert len(runs) == 2
    second = runs[-1]
    read = [r for job, r in composite_refs(dag, folder, "inputs") if job["uid"] == second["uid"]]
    assert [r["hashes"] for r in read] == [digest], "the second run did not read the dataset"
    # Edges from every writer of a part to the second run, through the folder.
    writers = {job["uid"] for job, _ in written}
    into_second = {e["from"] for e in dag["edges"] if e["to"] == second["uid"] and e["path"] == folder}
    assert into_second == writers

    # Each part read by a task of the second run is linked to that part's writer, with its b3sum.
    writer_of = {r["path"]: job["uid"] for job, _ in written for r in job["outputs"] if r["kind"] == "file"}
    part_reads = [(job, r) for job in dag["jobs"] if job.get("ray") and run_of(dag, job) == second["uid"]
                  for r in job["inputs"] if r["kind"] == "file" and r["path"] in writer_of]
    assert part_reads, "no task of the second run read a part"
    for job, r in part_reads:
        assert r["hashes"]["blake3"] == b3sum(Path(r["path"]))
        assert any(e["from"] == writer_of[r["path"]] and e["to"] == job["uid"] and e["path"] == r["path"]
                   for e in dag["edges"]), f"{job['ray']['function']} read {r['path']} without an edge"


def test_task_iterating_batches_writes_its_output(second_run: dict[str, Any]) -> None:
    root: Path = second_run["roots"]["traced"]
    dag = second_run["dag"]
    total = str(root / "data" / "total.txt")
    writers = [job for job in dag["jobs"] for r in job["outputs"] if r["path"] == total]
    assert len(writers) == 1 and writers[0]["role"] == "task", [j["role"] for j in writers]
    assert writers[0]["ray"]["function"].endswith("total_of_y")
    assert next(r for r in writers[0]["outputs"] if r["path"] == total)["hashes"]["blake3"] == b3sum(Path(total))


def test_no_internal_ray_data_job(pipeline: dict[str, Any]) -> None:
    internal = [f for f in functions(pipeline["dag"]) if any(m in f for m in INTERNAL_MARKERS)]
    assert not internal, f"internal Ray Data jobs: {internal}; all job functions: {functions(pipeline['dag'])}"


# -- the map function raises --------------------------------------------------------------------

def error_report(stderr: str, root: Path) -> str:
    """The traceback the driver printed, from its start, without colour codes, pids and the
    project folder."""
    start = stderr.find("Traceback (most recent call last):")
    assert start >= 0, stderr
    text = re.sub(r"\x1b\[[0-9;]*m", "", stderr[start:]).replace(str(root), "<project>")
    text = re.sub(r"pid=\d+", "pid=N", text)
    return re.sub(r"\d+ rows", "N rows", text).strip()


def test_failing_map_fails_the_same(failing: dict[str, Any]) -> None:
    plain = failing["untraced"]
    result = failing["result"]
    assert plain.returncode != 0
    assert result.returncode == plain.returncode, result.stderr
    expected = error_report(plain.stderr, failing["roots"]["untraced"])
    assert "ValueError: broken map function" in expected
    report = error_report(result.stderr, failing["roots"]["traced"])
    # roar's own summary lines come after the program's output.
    report = "\n".join(line for line in report.splitlines() if not line.startswith("roar:")).strip()
    assert report == expected


def test_failing_map_task_recorded_failed(failing: dict[str, Any]) -> None:
    dag = failing["dag"]
    runs = [job for job in dag["jobs"] if job["role"] == "run"]
    assert len(runs) == 1 and runs[0]["status"] == "failed" and runs[0]["exit_code"] == failing["result"].returncode
    failed = [job for job in task_jobs(dag) if job["role"] == "task" and job["status"] == "failed"]
    assert failed, f"no failed task; jobs: {[(j['ray']['function'], j['status']) for j in task_jobs(dag)]}"
    assert all(job["error"] for job in failed), failed


def test_jobs_are_named_by_their_operator(pipeline: dict[str, Any]) -> None:
    """Ray Data runs every operator through the same internal function: each job is named by its operator, as
    Ray names the task (the plan's ``TaskPoolMapOperator[…]`` names)."""
    plan = re.search(r"Execution plan of Dataset \S+ (.*)", pipeline["untraced"].stderr)
    assert plan, pipeline["untraced"].stderr
    operators = set(re.findall(r"MapOperator\[([^\]]+)\]", plan.group(1)))
    assert operators, plan.group(1)
    names = set(functions(pipeline["dag"]))
    message = f"job functions {sorted(names)}, operators of the plan {sorted(operators)}"

    def operator_of(name: str) -> str | None:  # Ray may append the read's split: ReadCSV->SplitBlocks(2)
        return next((op for op in operators if name == op or name.startswith(op + "->SplitBlocks(")), None)

    assert all(operator_of(name) for name in names), message
    assert {operator_of(name) for name in names} == operators, message
