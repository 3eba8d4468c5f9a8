"""What a Ray Data run must have recorded, checked the same way for a local run (test_ray_data.py) and
a host-submitted one (test_cluster_e2e.py): the inputs of ray_scenarios/ray_data_pipeline.py, the
written dataset as one composite of its writers (docs/composites.md), and its reading by the next run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roar_cli import b3sum, composite_digest

CSV_FILES = 3
ROWS = 10
# The pipeline's y = 2x + 1 over x = 0 … 29, which the read run writes to data/total.txt.
TOTAL = sum(2 * x + 1 for x in range(CSV_FILES * ROWS))


def write_inputs(data: Path) -> list[Path]:
    """``data/in/part-<i>.csv`` under ``data``'s parent: the pipeline's input folder."""
    folder = data / "in"
    folder.mkdir(parents=True)
    files = []
    for i in range(CSV_FILES):
        path = folder / f"part-{i}.csv"
        rows = [f"{i * ROWS + j},n{i}-{j}" for j in range(ROWS)]
        path.write_text("x,name\n" + "\n".join(rows) + "\n")
        files.append(path)
    return files


def dataset_rows(folder: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    parts = sorted(folder.glob("*.parquet"))
    assert parts, f"no parquet part in {folder}"
    rows = [row for part in parts for row in pq.read_table(part).to_pylist()]
    return sorted(rows, key=lambda row: row["x"])


def run_of(dag: dict[str, Any], job: dict[str, Any]) -> str:
    """The uid of the ``roar run`` job a job belongs to (tasks' parents lead to it)."""
    by_uid = {j["uid"]: j for j in dag["jobs"]}
    while job["parent_uid"] in by_uid:
        job = by_uid[job["parent_uid"]]
    return str(job["uid"])


def composite_refs(dag: dict[str, Any], path: str, side: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(job, r) for job in dag["jobs"] for r in job[side] if r["kind"] == "composite" and r["path"] == path]


def check_reads_and_parts(dag: dict[str, Any], data: Path) -> None:
    """Every CSV file read by exactly one task, every parquet part written by a task, all with b3sum."""
    for path in sorted((data / "in").glob("*.csv")):
        readers = [job for job in dag["jobs"] for r in job["inputs"] if r["path"] == str(path)]
        names = [j.get("ray", {}).get("function", j["role"]) for j in readers]
        assert len(readers) == 1, f"{path.name}: read by {names}"
        job = readers[0]
        assert job.get("ray") and job["role"] == "task", f"{path.name} read by {job['role']} {job['command']}"
        digest = next(r for r in job["inputs"] if r["path"] == str(path))["hashes"]["blake3"]
        assert digest == b3sum(path), path.name
    parts = sorted((data / "out").glob("*.parquet"))
    assert parts
    recorded = {r["path"]: (job, r) for job in dag["jobs"] for r in job["outputs"]
                if r["kind"] == "file" and r["path"].startswith(str(data / "out") + "/")}
    assert sorted(recorded) == [str(p) for p in parts]
    for part in parts:
        job, ref = recorded[str(part)]
        assert job.get("ray") and job["role"] == "task", f"{part.name} written by {job['role']} {job['command']}"
        assert ref["hashes"]["blake3"] == b3sum(part), part.name


def check_written_composite(dag: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The folder is one composite output of exactly the tasks that wrote its parts; returns it."""
    parts = sorted(folder.glob("*.parquet"))
    written = composite_refs(dag, str(folder), "outputs")
    assert written, f"no composite for {folder}"
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
    part_writers = {job["uid"] for job in dag["jobs"] for r in job["outputs"]
                    if r["kind"] == "file" and Path(r["path"]).parent == folder}
    assert {job["uid"] for job, _ in written} == part_writers
    assert all(r == composite for _, r in written)
    assert all(job["role"] == "task" for job, _ in written)
    return composite


def check_dataset_read(dag: dict[str, Any], folder: Path) -> None:
    """The newest run read the dataset whole: a composite input, edges from every writer, and each
    part a task of that run read linked to the part's writer."""
    written = composite_refs(dag, str(folder), "outputs")
    assert written
    runs = sorted((job for job in dag["jobs"] if job["role"] == "run"), key=lambda job: job["step"])
    assert len(runs) == 2
    second = runs[-1]
    read = [r for job, r in composite_refs(dag, str(folder), "inputs") if job["uid"] == second["uid"]]
    assert [r["hashes"] for r in read] == [written[0][1]["hashes"]], "the second run did not read the dataset"
    writers = {job["uid"] for job, _ in written}
    into_second = {e["from"] for e in dag["edges"] if e["to"] == second["uid"] and e["path"] == str(folder)}
    assert into_second == writers

    writer_of = {r["path"]: job["uid"] for job, _ in written for r in job["outputs"] if r["kind"] == "file"}
    part_reads = [(job, r) for job in dag["jobs"] if job.get("ray") and run_of(dag, job) == second["uid"]
                  for r in job["inputs"] if r["kind"] == "file" and r["path"] in writer_of]
    assert part_reads, "no task of the second run read a part"
    for job, r in part_reads:
        assert r["hashes"]["blake3"] == b3sum(Path(r["path"]))
        assert any(e["from"] == writer_of[r["path"]] and e["to"] == job["uid"] and e["path"] == r["path"]
                   for e in dag["edges"]), f"{job['ray']['function']} read {r['path']} without an edge"


def check_total_written_by_its_task(dag: dict[str, Any], total: Path) -> None:
    """The read run's task that consumed the dataset with iter_batches wrote the total."""
    assert total.read_text() == f"{TOTAL}\n"
    writers = [job for job in dag["jobs"] for r in job["outputs"] if r["path"] == str(total)]
    assert len(writers) == 1 and writers[0]["role"] == "task", [j["role"] for j in writers]
    assert writers[0]["ray"]["function"].endswith("total_of_y")
    ref = next(r for r in writers[0]["outputs"] if r["path"] == str(total))
    assert ref["hashes"]["blake3"] == b3sum(total)
