"""Reads, copies and deletes what s3_write.py wrote (run under `roar run` by test_s3.py)."""
import sys

import boto3
from boto3.s3.transfer import TransferConfig

bucket = sys.argv[1]
s3 = boto3.client("s3")
body = s3.get_object(Bucket=bucket, Key="in/small.txt")["Body"]
with open("small-copy.txt", "wb") as out:
    for chunk in body.iter_chunks(4):
        out.write(chunk)
s3.get_object(Bucket=bucket, Key="res/obj.txt", Range="bytes=0-2")["Body"].read()
medium = s3.get_object(Bucket=bucket, Key="in/medium.bin")["Body"]
while medium.read(100_000):  # read to the end in pieces: hashed while read
    pass
config = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20, max_concurrency=4)
s3.download_file(bucket, "data/big.bin", "big-copy.bin", Config=config)
s3.copy_object(Bucket=bucket, Key="out/copied.txt", CopySource={"Bucket": bucket, "Key": "in/small.txt"})
s3.delete_object(Bucket=bucket, Key="res/obj.txt")
try:
    s3.get_object(Bucket=bucket, Key="in/missing.txt")
except s3.exceptions.NoSuchKey as error:
    print("NoSuchKey:", error)
