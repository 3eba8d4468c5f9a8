"""Ray Data writes a parquet dataset to S3 and reads it back, through pyarrow's own S3 client (run
under `roar run` by test_s3_pyarrow.py, and without roar, to compare what the program sees)."""

import os
import sys

import ray
from pyarrow.fs import S3FileSystem

bucket = sys.argv[1]


def scale(batch):
    batch["y"] = batch["id"] * 2 + 1
    return batch


endpoint = os.environ["S3_ENDPOINT"].removeprefix("http://")
fs = S3FileSystem(endpoint_override=endpoint, scheme="http", region="us-east-1", allow_bucket_creation=True)
fs.create_dir(bucket)
ray.init(num_cpus=2, include_dashboard=False)
ray.data.DataContext.get_current().enable_progress_bars = False
ray.data.range(30, override_num_blocks=3).map_batches(scale).write_parquet(f"s3://{bucket}/rd", filesystem=fs)
back = ray.data.read_parquet(f"s3://{bucket}/rd", filesystem=fs)
print("rows:", back.count(), "sum:", back.sum("y"), flush=True)
ray.shutdown()
