"""A versioned bucket and objects written with S3 checksums (run under `roar run` by test_s3.py): two
versions of one key, the first read back by version id, a put with a SHA-256 checksum and one with CRC32."""
import sys

import boto3

bucket = sys.argv[1]
s3 = boto3.client("s3")
s3.create_bucket(Bucket=bucket)
s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
first = s3.put_object(Bucket=bucket, Key="model.bin", Body=b"weights v1")["VersionId"]
s3.put_object(Bucket=bucket, Key="model.bin", Body=b"weights v2")
old = s3.get_object(Bucket=bucket, Key="model.bin", VersionId=first)["Body"].read()
s3.put_object(Bucket=bucket, Key="sums/sha.txt", Body=b"checked", ChecksumAlgorithm="SHA256")
s3.put_object(Bucket=bucket, Key="sums/crc.txt", Body=b"checked", ChecksumAlgorithm="CRC32")
print("read", old.decode(), "version", first, flush=True)
