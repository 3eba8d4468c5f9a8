"""S3 lineage through boto3 (docs/s3.md), against a real moto_server on 127.0.0.1, through the real
`roar run`: which job wrote, read and deleted which object, with the ETag S3 reports and the BLAKE3 of
the bytes where they passed through the process; edges between the writer and the reader."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from fixtures_ray import loopback_env
from fixtures_s3 import S3Server, s3_server  # noqa: F401  (fixture)
from roar_cli import Project, b3sum, last_run, paths, ref, roar_binary

pytestmark = pytest.mark.skipif(roar_binary() is None, reason="roar is not built: run scripts/build first")

SCENARIOS = Path(__file__).resolve().parent / "s3_scenarios"


def client(server: S3Server) -> Any:
    env = server.env()
    return boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=env["AWS_DEFAULT_REGION"],
    )


def etag(server: S3Server, bucket: str, key: str) -> str:
    """What S3 itself says, asked by the test (untraced): the ETag without its quotes."""
    return str(client(server).head_object(Bucket=bucket, Key=key)["ETag"]).strip('"')


def blake3_of(data: bytes, tmp: Path) -> str:
    sample = tmp / "sample.bin"
    sample.write_bytes(data)
    return b3sum(sample)


def run(project: Project, server: S3Server, script: str, *args: str) -> Any:
    shutil.copy(SCENARIOS / script, project.root / script)
    env = {**loopback_env(), **server.env()}
    return project.run(project_python(), script, *args, env=env, timeout=600)


def project_python() -> str:
    venv = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "python"
    return str(venv)


@pytest.fixture
def big_file(project: Project) -> Path:
    path = project.root / "big.bin"
    path.write_bytes(os.urandom(12 << 20))  # three 5 MiB parts (the last one 2 MiB)
    return path


def test_boto3_writes_reads_copies_and_deletes(project: Project, s3_server: S3Server, big_file: Path,
                                               tmp_path: Path) -> None:
    bucket = "roar-lineage"
    url = lambda key: f"s3://{bucket}/{key}"  # noqa: E731

    written = run(project, s3_server, "s3_write.py", bucket)
    assert "NoSuchBucket:" in written.stdout  # the failed call reached the program unchanged
    writer = last_run(project.dag())
    outputs = {r["path"]: r for r in writer["outputs"] if r["kind"] == "s3"}
    # A failed call is no write; objects deleted by the job are deletes, not outputs.
    assert set(outputs) == {url("in/small.txt"), url("in/medium.bin"), url("data/big.bin"), url("res/obj.txt")}
    assert set(writer["deletes"]) == {url("tmp/a"), url("tmp/b")}

    small = outputs[url("in/small.txt")]
    assert small["hashes"]["etag"] == etag(s3_server, bucket, "in/small.txt")
    assert small["hashes"]["etag"] == hashlib.md5(b"hello roar\n").hexdigest()
    assert small["hashes"]["blake3"] == blake3_of(b"hello roar\n", tmp_path)
    assert small["size"] == len(b"hello roar\n")
    assert outputs[url("res/obj.txt")]["hashes"]["blake3"] == blake3_of(b"via the resource API", tmp_path)
    medium = bytes(range(256)) * 4096
    assert outputs[url("in/medium.bin")]["hashes"]["blake3"] == blake3_of(medium, tmp_path)
    assert outputs[url("in/medium.bin")]["hashes"]["etag"] == hashlib.md5(medium).hexdigest()

    # A multipart upload is one artifact: the final ETag and the whole size, never a part.
    big = outputs[url("data/big.bin")]
    assert big["hashes"]["etag"] == etag(s3_server, bucket, "data/big.bin")
    assert big["hashes"]["etag"].endswith("-3")
    assert big["size"] == 12 << 20
    # upload_file read the local file: that read is recorded by the preload, with its digest, and the
    # object it became has the same digest (the same bytes; nothing was hashed twice).
    assert ref(writer["inputs"], str(big_file))["hashes"]["blake3"] == b3sum(big_file)
    assert big["hashes"]["blake3"] == b3sum(big_file)

    read = run(project, s3_server, "s3_read.py", bucket)
    assert "NoSuchKey:" in read.stdout
    dag = project.dag()
    reader = last_run(dag)
    inputs = {r["path"]: r for r in reader["inputs"] if r["kind"] == "s3"}
    assert set(inputs) == {url("in/small.txt"), url("in/medium.bin"), url("res/obj.txt"), url("data/big.bin")}
    assert inputs[url("in/medium.bin")]["hashes"]["blake3"] == blake3_of(medium, tmp_path)
    # Read to the end through iter_chunks, and as the source of a copy: one input, hashed as read.
    assert inputs[url("in/small.txt")]["hashes"]["blake3"] == small["hashes"]["blake3"]
    assert inputs[url("in/small.txt")]["hashes"]["etag"] == small["hashes"]["etag"]
    assert "byte_ranges" not in inputs[url("in/small.txt")]
    # A ranged read says which bytes.
    assert inputs[url("res/obj.txt")]["byte_ranges"] == [[0, 3]]
    # download_file: ranged reads from several threads that cover the object are one whole read.
    assert inputs[url("data/big.bin")]["hashes"]["etag"] == big["hashes"]["etag"]
    assert "byte_ranges" not in inputs[url("data/big.bin")]
    assert b3sum(project.root / "big-copy.bin") == b3sum(big_file)
    assert ref(reader["outputs"], str(project.root / "big-copy.bin"))["hashes"]["blake3"] == b3sum(big_file)
    assert inputs[url("data/big.bin")]["hashes"]["blake3"] == b3sum(big_file)

    copied = ref(reader["outputs"], url("out/copied.txt"))
    assert copied["kind"] == "s3"
    assert copied["hashes"]["etag"] == etag(s3_server, bucket, "out/copied.txt")
    assert reader["deletes"] == [url("res/obj.txt")]
    assert url("in/missing.txt") not in paths(reader["inputs"])

    edges = {(e["from"], e["to"], e["path"]) for e in dag["edges"]}
    for key in ("in/small.txt", "in/medium.bin", "res/obj.txt", "data/big.bin"):
        assert (writer["uid"], reader["uid"], url(key)) in edges, key

    # Credentials never reach the store.
    assert b"roar-test-secret-do-not-store" not in (project.root / ".roar" / "roar.db").read_bytes()

    shown = project.cli("show", url("data/big.bin")).stdout
    assert "written by" in shown and "read by" in shown


def s3_lineage(dag: dict[str, Any]) -> list[Any]:
    """Every job's S3 inputs, outputs and deletes with their hashes, and the S3 edges between the jobs
    (named by function): what must be the same locally and on a cluster."""
    names = {j["uid"]: (j.get("ray") or {}).get("function", j["role"]) for j in dag["jobs"]}

    def refs(items: list[dict[str, Any]]) -> list[Any]:
        s3_refs = [r for r in items if r["kind"] == "s3"]
        return sorted((r["path"], sorted(r["hashes"].items()), r.get("byte_ranges")) for r in s3_refs)

    jobs = sorted((names[j["uid"]], refs(j["inputs"]), refs(j["outputs"]), j["deletes"]) for j in dag["jobs"])
    edges = sorted((names[e["from"]], names[e["to"]], e["path"]) for e in dag["edges"] if e["path"].startswith("s3://"))
    return [jobs, edges]


def test_ray_tasks_pass_objects_through_s3(project: Project, s3_server: S3Server) -> None:
    bucket = "roar-ray"
    key = "ray/part-0.txt"
    body = f"made by {key}\n".encode()
    result = run(project, s3_server, "s3_ray.py", bucket)
    assert f"consumed {len(body)}" in result.stdout
    dag = project.dag()
    assert_ray_s3_lineage(dag, bucket, key, body)


def assert_ray_s3_lineage(dag: dict[str, Any], bucket: str, key: str, body: bytes) -> None:

    def task(function: str) -> dict[str, Any]:
        found = [j for j in dag["jobs"] if (j.get("ray") or {}).get("function", "").endswith(function)]
        assert len(found) == 1, [j.get("ray") for j in dag["jobs"]]
        return found[0]

    produce, consume, clean = task(".produce"), task(".consume"), task(".clean")
    url = f"s3://{bucket}/{key}"
    written = ref(produce["outputs"], url)
    assert written["hashes"]["etag"] == hashlib.md5(body).hexdigest()
    read = ref(consume["inputs"], url)
    assert read["hashes"]["blake3"] == written["hashes"]["blake3"]
    assert clean["deletes"] == [url]
    assert {"from": produce["uid"], "to": consume["uid"], "path": url} in dag["edges"]
    # The driver made the bucket only: no object I/O of its own.
    assert not [r for r in last_run(dag)["inputs"] + last_run(dag)["outputs"] if r["kind"] == "s3"]


def test_host_submit_records_the_same_s3_lineage_as_local(
    project: Project, s3_server: S3Server, ray_cluster: Any, tmp_path: Path
) -> None:
    from fixtures_cluster import VENV_BIN

    key = "ray/part-0.txt"
    body = f"made by {key}\n".encode()
    shutil.copy(SCENARIOS / "s3_ray.py", project.root / "s3_ray.py")
    runtime_env = {"working_dir": ".", "env_vars": s3_server.env()}
    env = dict(ray_cluster.env)
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', os.environ.get('PATH', ''))}"
    command = [
        "ray", "job", "submit", "--address", ray_cluster.dashboard_url,
        "--runtime-env-json", json.dumps(runtime_env), "--", "python", "s3_ray.py", "roar-submit",
    ]
    result = project.run(*command, check=False, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-6000:]
    submitted = project.dag()
    assert_ray_s3_lineage(submitted, "roar-submit", key, body)

    local_root = tmp_path / "local"
    local_root.mkdir()
    local = Project(root=local_root, roar=project.roar)
    local.cli("init")
    run(local, s3_server, "s3_ray.py", "roar-local")
    assert s3_lineage(json.loads(json.dumps(submitted).replace("roar-submit", "bucket"))) == s3_lineage(
        json.loads(json.dumps(local.dag()).replace("roar-local", "bucket"))
    )
    # The credentials given to the job's env_vars are stored as ***, never in clear.
    assert b"roar-test-secret-do-not-store" not in (project.root / ".roar" / "roar.db").read_bytes()


def test_versions_and_checksums_are_recorded(project: Project, s3_server: S3Server, tmp_path: Path) -> None:
    import base64
    import zlib

    bucket = "roar-versions"
    result = run(project, s3_server, "s3_versions.py", bucket)
    first = result.stdout.split("version ")[1].split()[0]
    job = last_run(project.dag())
    s3 = client(s3_server)
    versions = {v["VersionId"]: v for v in s3.list_object_versions(Bucket=bucket, Prefix="model.bin")["Versions"]}
    assert len(versions) == 2 and first in versions
    second = next(v for v in versions if v != first)

    written = [r for r in job["outputs"] if r["path"] == f"s3://{bucket}/model.bin"]
    assert sorted(r["hashes"]["s3_version_id"] for r in written) == sorted(versions)
    for put in written:
        version = put["hashes"]["s3_version_id"]
        body = b"weights v1" if version == first else b"weights v2"
        assert put["hashes"]["etag"] == versions[version]["ETag"].strip('"')
        assert put["hashes"]["blake3"] == blake3_of(body, tmp_path)
    # Reading back the first version the job wrote itself is not an input (docs/s3.md), and the second
    # version is the object's latest.
    assert f"s3://{bucket}/model.bin" not in paths(job["inputs"])
    assert second == next(v for v, info in versions.items() if info["IsLatest"])

    outputs = {r["path"]: r for r in job["outputs"]}
    sha = outputs[f"s3://{bucket}/sums/sha.txt"]["hashes"]
    assert sha["sha256"] == base64.b64encode(hashlib.sha256(b"checked").digest()).decode()
    crc = outputs[f"s3://{bucket}/sums/crc.txt"]["hashes"]
    assert crc["crc32"] == base64.b64encode(zlib.crc32(b"checked").to_bytes(4, "big")).decode()
