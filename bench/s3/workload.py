"""boto3 put/get against an S3 endpoint, timed inside the process (run by bench/s3/run, traced or not).

Prints one JSON line: per size, the best per-call time of put and get over the rounds, in seconds."""

import json
import os
import sys
import time

import boto3

endpoint, rounds, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s3 = boto3.client(
    "s3", endpoint_url=endpoint, aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
)
bucket = "roar-bench"
try:
    s3.create_bucket(Bucket=bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass

result = {}
for label, size in (("1KiB", 1 << 10), ("8MiB", 8 << 20)):
    body = os.urandom(size)
    n = calls if size < (1 << 20) else max(3, calls // 20)
    best_put = best_get = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(n):
            s3.put_object(Bucket=bucket, Key=f"{label}/{i}", Body=body)
        best_put = min(best_put, (time.perf_counter() - start) / n)
        start = time.perf_counter()
        for i in range(n):
            s3.get_object(Bucket=bucket, Key=f"{label}/{i}")["Body"].read()
        best_get = min(best_get, (time.perf_counter() - start) / n)
    result[label] = {"put": best_put, "get": best_get, "bytes": size}
print(json.dumps(result))
