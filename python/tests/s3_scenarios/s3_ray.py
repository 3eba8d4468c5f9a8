"""Ray tasks that pass data through S3 (run under `roar run` by test_s3.py)."""
import os
import sys

import boto3
import ray

bucket = sys.argv[1]


@ray.remote
def produce(key: str) -> str:
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=f"made by {key}\n".encode())
    return key


@ray.remote
def consume(key: str) -> int:
    return len(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


@ray.remote
def clean(key: str) -> None:
    boto3.client("s3").delete_object(Bucket=bucket, Key=key)


# Submitted with `ray job submit`, the driver joins the cluster; run alone, it starts a local Ray.
ray.init(**({} if os.environ.get("RAY_ADDRESS") else {"num_cpus": 2, "include_dashboard": False}))
boto3.client("s3").create_bucket(Bucket=bucket)
key = ray.get(produce.remote("ray/part-0.txt"))
print("consumed", ray.get(consume.remote(key)))
ray.get(clean.remote(key))
ray.shutdown()
