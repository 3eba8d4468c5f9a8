"""S3 lineage through pyarrow's own (C++) S3 client (docs/s3.md, "pyarrow"), against a real
moto_server on 127.0.0.1, through the real `roar run`: parquet tables and datasets written and read
with `pyarrow.parquet`/`pyarrow.dataset` on an `S3FileSystem` are the jobs' S3 outputs and inputs,
with the ETag S3 reports and the BLAKE3 of the bytes where they passed through; the program sees
what it sees without roar."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fixtures_ray import loopback_env
from fixtures_s3 import S3Server, s3_server  # noqa: F401  (fixture)
from roar_cli import Project, b3sum, composite_digest, last_run, roar_binary
from test_s3 import SCENARIOS, client, project_python, run

pytestmark = pytest.mark.skipif(roar_binary() is None, reason="roar is not built: run scripts/build first")


def untraced(project: Project, server: S3Server, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The same program without roar: what the program's own output must be under `roar run` too."""
    shutil.copy(SCENARIOS / script, project.root / script)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROAR_") and k != "LD_PRELOAD"}
    env.update({**loopback_env(), **server.env()})
    result = subprocess.run(
        [project_python(), script, *args], cwd=project.root, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def s3_object(server: S3Server, bucket: str, key: str, tmp: Path) -> tuple[str, int, str]:
    """(ETag without quotes, size, BLAKE3) of the object as S3 has it, asked by the test (untraced)."""
    s3 = client(server)
    head = s3.head_object(Bucket=bucket, Key=key)
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    sample = tmp / "object.bin"
    sample.write_bytes(data)
    return str(head["ETag"]).strip('"'), int(head["ContentLength"]), b3sum(sample)


def s3_refs(refs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["path"]: r for r in refs if r["kind"] == "s3"}


def test_pyarrow_parquet_and_dataset_on_s3(project: Project, s3_server: S3Server, tmp_path: Path) -> None:
    bucket = "roar-arrow"
    keys = ["table.parquet", "ds/part-0.parquet", "ds/part-1.parquet", "ds/part-2.parquet", "pandas.parquet"]
    urls = {key: f"s3://{bucket}/{key}" for key in keys}

    written = run(project, s3_server, "arrow_write.py", bucket)
    assert "filesystem: pyarrow._s3fs S3FileSystem True s3" in written.stdout  # the program's own object
    writer = last_run(project.dag())
    outputs = s3_refs(writer["outputs"])
    copies = {key: outputs.pop(f"s3://{bucket}/{key}", {}) for key in ("copy.parquet", "tmp/part-0.parquet")}
    # Every object written is an output, with S3's ETag, the size and the BLAKE3 of its bytes; the
    # directory markers `create_dir` made are not.
    assert set(outputs) == set(urls.values()), sorted(outputs)
    objects = {key: s3_object(s3_server, bucket, key, tmp_path) for key in keys}
    for key, (etag, size, blake3) in objects.items():
        output = outputs[urls[key]]
        assert output["hashes"]["etag"] == etag, key
        assert output["hashes"]["blake3"] == blake3, key
        assert output["size"] == size, key
    assert not s3_refs(writer["inputs"])  # reading back its own table.parquet (and copying it) is no input
    copied = copies["copy.parquet"]
    assert copied["hashes"]["etag"] == s3_object(s3_server, bucket, "copy.parquet", tmp_path)[0]
    assert copied["size"] == objects["table.parquet"][1]
    # Written again with delete_matching over fewer files: the old parts it did not write again are deletes.
    rewritten = copies["tmp/part-0.parquet"]
    assert rewritten["hashes"]["blake3"] == s3_object(s3_server, bucket, "tmp/part-0.parquet", tmp_path)[2]
    assert sorted(writer["deletes"]) == [f"s3://{bucket}/tmp/part-1.parquet", f"s3://{bucket}/tmp/part-2.parquet"]

    reading = run(project, s3_server, "arrow_read.py", bucket)
    dag = project.dag()
    reader = last_run(dag)
    inputs = s3_refs(reader["inputs"])
    assert set(inputs) == set(urls.values()), sorted(inputs)
    for key, (etag, size, blake3) in objects.items():
        read = inputs[urls[key]]
        assert read["hashes"]["etag"] == etag, key
        assert read["size"] == size, key
        if size > 64 << 10:
            # Parquet reads the footer and the column chunks, never the leading magic bytes: a ranged read.
            ranges = read["byte_ranges"]
            assert ranges and ranges[0][0] == 4 and ranges[-1][1] == size, (key, ranges)
            assert "blake3" not in read["hashes"], key
        else:
            # A small file's footer read is the whole file, hashed as read.
            assert "byte_ranges" not in read and read["hashes"]["blake3"] == blake3, key
    assert not s3_refs(reader["outputs"])

    edges = {(e["from"], e["to"], e["path"]) for e in dag["edges"]}
    for key in keys:
        assert (writer["uid"], reader["uid"], urls[key]) in edges, key

    # What the program saw is what it sees without roar (results, types, the error of a missing key).
    again = "roar-arrow-untraced"
    assert untraced(project, s3_server, "arrow_write.py", again).stdout == written.stdout.replace(bucket, again)
    assert untraced(project, s3_server, "arrow_read.py", again).stdout == reading.stdout.replace(bucket, again)
    assert "missing: FileNotFoundError" in written.stdout
    assert b"roar-test-secret-do-not-store" not in (project.root / ".roar" / "roar.db").read_bytes()


def test_ray_data_parquet_on_s3(project: Project, s3_server: S3Server, tmp_path: Path) -> None:
    bucket = "roar-ray-data"
    result = run(project, s3_server, "arrow_ray_data.py", bucket)
    assert "rows: 30 sum: 900" in result.stdout
    dag = project.dag()
    listed = client(s3_server).list_objects_v2(Bucket=bucket, Prefix="rd/").get("Contents") or []
    keys = sorted(item["Key"] for item in listed if not item["Key"].endswith("/"))  # not the directory marker
    assert len(keys) == 3, keys

    def jobs_with(side: str, url: str) -> list[dict[str, Any]]:
        return [job for job in dag["jobs"] if url in s3_refs(job[side])]

    edges = {(e["from"], e["to"], e["path"]) for e in dag["edges"]}
    writers = set()
    for key in keys:
        url = f"s3://{bucket}/{key}"
        etag, size, blake3 = s3_object(s3_server, bucket, key, tmp_path)
        # Written by one Ray Data write task (its own, not the one that started Arrow's threads).
        found = jobs_with("outputs", url)
        assert len(found) == 1, (key, [(j["role"], (j.get("ray") or {}).get("function")) for j in found])
        writer = found[0]
        assert writer["role"] == "task" and "Write" in writer["ray"]["function"], writer["ray"]
        writers.add(writer["uid"])
        output = s3_refs(writer["outputs"])[url]
        assert (output["hashes"]["etag"], output["size"], output["hashes"]["blake3"]) == (etag, size, blake3)
        # Read by Ray Data's read tasks, the same version: an edge from the writer.
        readers = [job for job in jobs_with("inputs", url) if job["role"] in ("task", "actor_call")]
        assert readers, key
        for reader in readers:
            assert s3_refs(reader["inputs"])[url]["hashes"]["etag"] == etag
            assert (writer["uid"], reader["uid"], url) in edges, (key, reader["ray"])
    assert len(writers) == 3  # one write task per block
    # The driver only listed and planned: no object I/O of its own.
    assert not s3_refs(last_run(dag)["inputs"]) and not s3_refs(last_run(dag)["outputs"])

    # The prefix is one dataset (docs/composites.md): a composite output of each write task, its parts the
    # objects with the BLAKE3 of their bytes; the run, whose read tasks read every part, read it whole.
    prefix = f"s3://{bucket}/rd"
    composites = [(job, r) for job in dag["jobs"] for r in job["outputs"] if r["kind"] == "composite"]
    assert {job["uid"] for job, _ in composites} == writers
    assert all(r["path"] == prefix for _, r in composites)
    composite = composites[0][1]
    assert [c["name"] for c in composite["components"]] == sorted(key.removeprefix("rd/") for key in keys)
    parts = []
    for component in composite["components"]:
        etag, size, blake3 = s3_object(s3_server, bucket, "rd/" + component["name"], tmp_path)
        assert component["hashes"] == {"blake3": blake3} and component["size"] == size
        parts.append({"name": component["name"], "algorithm": "blake3", "digest": blake3})
    assert composite["hashes"] == {"blake3_merkle": composite_digest(parts)}
    run_job = last_run(dag)
    assert [r["hashes"] for r in run_job["inputs"] if r["kind"] == "composite"] == [composite["hashes"]]
    assert {e["from"] for e in dag["edges"] if e["to"] == run_job["uid"] and e["path"] == prefix} == writers
    assert untraced(project, s3_server, "arrow_ray_data.py", bucket + "-untraced").stdout == result.stdout


def test_capture_is_invisible_to_the_program(s3_server: S3Server, tmp_path: Path) -> None:
    """With roar's runtime (no roar binary: the Python runtime writes its own spool), the program
    gets the same objects, types, results and errors as without; pyarrow is not imported by roar."""
    from fixtures_ray import read_spool, runtime_env_vars

    script = SCENARIOS / "arrow_transparency.py"
    spool = tmp_path / "spool"
    spool.mkdir()
    plain_env = {k: v for k, v in os.environ.items() if not k.startswith("ROAR_") and k != "LD_PRELOAD"}
    outputs = []
    for bucket, env in (("roar-plain", plain_env), ("roar-captured", runtime_env_vars(spool))):
        env = {**env, **s3_server.env()}
        result = subprocess.run(
            [project_python(), str(script), bucket], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr[-4000:]
        outputs.append(result.stdout.replace(bucket, "<bucket>"))
    assert outputs[0] == outputs[1]
    assert outputs[1].startswith("imported at start: False False\n")
    assert "resolved by the program: S3FileSystem s3 " in outputs[1]
    assert "ParquetDataset.filesystem: S3FileSystem" in outputs[1]

    s3_events = [r.event for r in read_spool(spool) if r.type == "E" and r.event.get("event") == "s3"]
    assert {e.get("client") for e in s3_events} == {"pyarrow"}
    url = "s3://roar-captured/t.parquet"
    writes = [e for e in s3_events if e["op"] == "write"]
    assert [e["url"] for e in writes] == [url]
    etag, size, blake3 = s3_object(s3_server, "roar-captured", "t.parquet", tmp_path)
    assert (writes[0]["etag"].strip('"'), writes[0]["size"], writes[0]["blake3"]) == (etag, size, blake3)
    # pyarrow's reads (ParquetDataset) are seen; the program's own open_input_stream is not.
    reads = [e for e in s3_events if e["op"] == "read"]
    assert reads and {e["url"] for e in reads} == {url}
    assert all(e.get("byte_ranges") != [[0, 4]] for e in reads)
