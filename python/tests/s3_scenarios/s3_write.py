"""Writes S3 objects every way boto3 can (run under `roar run` by test_s3.py)."""
import sys

import boto3
from boto3.s3.transfer import TransferConfig

bucket = sys.argv[1]
s3 = boto3.client("s3")
s3.create_bucket(Bucket=bucket)
s3.put_object(Bucket=bucket, Key="in/small.txt", Body=b"hello roar\n")
s3.put_object(Bucket=bucket, Key="in/medium.bin", Body=bytes(range(256)) * 4096)  # 1 MiB: hashed in the background
config = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20, max_concurrency=4)
s3.upload_file("big.bin", bucket, "data/big.bin", Config=config)
boto3.resource("s3").Object(bucket, "res/obj.txt").put(Body="via the resource API")
s3.put_object(Bucket=bucket, Key="tmp/a", Body=b"a")
s3.put_object(Bucket=bucket, Key="tmp/b", Body=b"b")
s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "tmp/a"}, {"Key": "tmp/b"}]})
try:
    s3.put_object(Bucket=bucket + "-missing", Key="never", Body=b"x")
except s3.exceptions.NoSuchBucket as error:
    print("NoSuchBucket:", error)
