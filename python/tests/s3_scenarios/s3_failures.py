"""S3 calls that fail, against test_s3_failures.py's faulty S3 endpoint (FAULTY_S3) and a port where
nothing listens: each case prints what the program saw; the last one is left uncaught, so the exit
status and traceback are the program's own. Run untraced and under ``roar run``: the same output."""

import os
import sys

import boto3
from botocore.config import Config

CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=5,
                s3={"addressing_style": "path"})


def client(endpoint):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", config=CONFIG,
                        aws_access_key_id="roar-test-key", aws_secret_access_key="roar-test-secret-do-not-store")


def case(name, call):
    try:
        result = call()
        print(f"{name}: ok {result!r}")
    except Exception as error:  # what the program sees, type and message
        print(f"{name}: {type(error).__name__}: {error}")


faulty = client(os.environ["FAULTY_S3"])
case("unreachable", lambda: client("http://127.0.0.1:9").get_object(Bucket="b", Key="k"))
case("denied put", lambda: faulty.put_object(Bucket="deny", Key="k", Body=b"never stored"))
case("expired credentials", lambda: faulty.get_object(Bucket="expired", Key="k"))
case("cut stream", lambda: faulty.get_object(Bucket="cut", Key="k")["Body"].read())
case("whole object", lambda: len(faulty.get_object(Bucket="whole", Key="k")["Body"].read()))
sys.stdout.flush()
faulty.head_object(Bucket="deny", Key="k")  # uncaught: the program's own traceback and exit status
