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
from ray_data_checks import (
    CSV_FILES,
    ROWS,
    check_dataset_read,
    check_reads_and_parts,
    check_total_written_by_its_task,
    check_written_composite,
    dataset_rows,
    write_inputs,
)
from roar_cli import Project, roar_binary

pytestmark = pytest.mark.skipif(
    roar_binary() is None, reason="roar is not built: set ROAR_BIN_DIR or run scripts/build first"
)

SCRIPT = "ray_data_pipeline.py"

# Ray Data's own actors and bookkeeping: never jobs.
INTERNAL_MARKERS = ("_StatsActor", "AutoscalingRequester", "AutoscalingCoordinator", "cluster_autoscaler",
                    "ray.data._internal.stats")


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
        write_inputs(root / "data")
        roots[side] = root
    return roots


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


def test_every_csv_read_and_every_part_written_by_a_task(pipeline: dict[str, Any]) -> None:
    check_reads_and_parts(pipeline["dag"], pipeline["roots"]["traced"] / "data")


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

def test_written_folder_is_one_composite_of_its_writers(pipeline: dict[str, Any]) -> None:
    check_written_composite(pipeline["dag"], pipeline["roots"]["traced"] / "data" / "out")


def test_next_run_reads_the_dataset_from_its_writers(second_run: dict[str, Any]) -> None:
    plain, result = second_run["untraced"], second_run["result"]
    assert plain.returncode == 0, plain.stderr
    assert result.returncode == 0, result.stderr
    assert plain.stdout.splitlines()[-1] == result.stdout.splitlines()[-1]  # "total N"
    check_dataset_read(second_run["dag"], second_run["roots"]["traced"] / "data" / "out")


def test_show_and_lineage_of_the_dataset(second_run: dict[str, Any]) -> None:
    root: Path = second_run["roots"]["traced"]
    project = Project(root=root, roar=roar_binary())  # type: ignore[arg-type]
    dag = second_run["dag"]
    folder = root / "data" / "out"
    composite = check_written_composite(dag, folder)
    shown = project.cli("show", "data/out").stdout
    parts = composite["components"]
    assert f"dataset of {len(parts)} parts" in shown
    assert composite["hashes"]["blake3_merkle"][:16] in shown
    for part in parts:
        assert part["name"] in shown and part["hashes"]["blake3"][:12] in shown
    writers = {job["uid"] for job in dag["jobs"] for r in job["outputs"] if r["kind"] == "composite"}
    readers = {job["uid"] for job in dag["jobs"] for r in job["inputs"] if r["kind"] == "composite"}
    written_by, read_by = shown.split("written by", 1)[1].split("read by", 1)
    assert {uid for uid in writers if uid in written_by} == writers
    assert {uid for uid in readers if uid in read_by} == readers
    lineage = project.cli("lineage", "data/out").stdout
    assert all(uid in lineage.split("upstream")[0] for uid in writers)
    downstream = project.cli("lineage", "--downstream", "data/out").stdout
    assert all(uid in downstream for uid in readers)


def test_task_iterating_batches_writes_its_output(second_run: dict[str, Any]) -> None:
    root: Path = second_run["roots"]["traced"]
    check_total_written_by_its_task(second_run["dag"], root / "data" / "total.txt")
    plain_total = second_run["roots"]["untraced"] / "data" / "total.txt"
    assert plain_total.read_text() == (root / "data" / "total.txt").read_text()


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
