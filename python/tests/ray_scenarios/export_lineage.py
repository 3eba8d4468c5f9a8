"""One Ray run for the export tests (test_openlineage.py, test_prov.py): local files with odd names, a
nested task, a failed task, S3 objects written and read by tasks, and a dataset folder of three parts
(a composite) read back whole by a later task. Usage: python export_lineage.py BUCKET"""
import os
import sys

import boto3
import ray

bucket = sys.argv[1]
ODD = "odd dir/we+ird:name é.txt"  # '/', '+', ':', a space and UTF-8
RAW = b"odd dir/latin\xe9.txt"  # not UTF-8


@ray.remote
def make_parts() -> None:
    os.makedirs("ds", exist_ok=True)
    for i in range(3):
        with open(f"ds/part-{i}.csv", "w") as f:
            f.write(f"part {i}\n")


@ray.remote
def read_parts() -> None:
    text = "".join(open(f"ds/part-{i}.csv").read() for i in range(3))
    with open("summary.txt", "w") as f:
        f.write(text + open(ODD).read())


@ray.remote
def upload(key: str) -> None:
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=open(ODD, "rb").read())


@ray.remote
def download(key: str) -> None:
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with open("downloaded.txt", "wb") as f:
        f.write(body)


@ray.remote
def child() -> None:
    with open("nested-child.txt", "w") as f:
        f.write("child\n")


@ray.remote
def parent() -> None:
    ray.get(child.remote())
    with open("nested-parent.txt", "w") as f:
        f.write(open("nested-child.txt").read() + "parent\n")


@ray.remote(max_retries=0)
def fails() -> None:
    with open("failed-partial.txt", "w") as f:
        f.write("before the error\n")
    raise ValueError("export test failure")


os.makedirs("odd dir", exist_ok=True)
with open(ODD, "w") as f:
    f.write("odd\n")
with open(RAW, "wb") as f:
    f.write(b"raw\n")
ray.init(num_cpus=2, include_dashboard=False)
boto3.client("s3").create_bucket(Bucket=bucket)
ray.get(make_parts.remote())
ray.get(read_parts.remote())
ray.get(upload.remote("in/odd key+1.txt"))
ray.get(download.remote("in/odd key+1.txt"))
ray.get(parent.remote())
try:
    ray.get(fails.remote())
except ray.exceptions.RayTaskError:
    print("failed as expected")
ray.shutdown()
