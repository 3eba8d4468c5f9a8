"""Writes parquet to S3 through pyarrow's own S3 client (run under `roar run` by test_s3_pyarrow.py,
and without roar, to compare what the program sees)."""

import os
import sys

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyarrow.fs import S3FileSystem

bucket = sys.argv[1]
endpoint = os.environ["S3_ENDPOINT"].removeprefix("http://")
fs = S3FileSystem(endpoint_override=endpoint, scheme="http", region="us-east-1", allow_bucket_creation=True)
print("filesystem:", type(fs).__module__, type(fs).__name__, isinstance(fs, S3FileSystem), fs.type_name)
fs.create_dir(bucket)
table = pa.table({"n": list(range(50_000)), "s": [f"row {i}" for i in range(50_000)]})
pq.write_table(table, f"{bucket}/table.parquet", filesystem=fs)
back = pq.read_table(f"{bucket}/table.parquet", filesystem=fs)
print("read back equal:", back.equals(table), back.num_rows, back.schema)
ds.write_dataset(
    table, f"{bucket}/ds", format="parquet", filesystem=fs, max_rows_per_file=20_000, max_rows_per_group=20_000
)
print("dataset files:", sorted(info.path for info in fs.get_file_info(pa.fs.FileSelector(f"{bucket}/ds"))))
# pandas without storage_options (and without s3fs): pandas makes the S3FileSystem itself.
pd.DataFrame({"k": range(10)}).to_parquet(f"s3://{bucket}/pandas.parquet")
# A copy (pyarrow.fs.copy_files: one CopyObject), and a dataset written again over fewer files with
# delete_matching: the files it does not write again are deletes.
pa.fs.copy_files(f"{bucket}/table.parquet", f"{bucket}/copy.parquet", source_filesystem=fs, destination_filesystem=fs)
ds.write_dataset(
    table, f"{bucket}/tmp", format="parquet", filesystem=fs, max_rows_per_file=20_000, max_rows_per_group=20_000
)
ds.write_dataset(
    table.slice(0, 10), f"{bucket}/tmp", format="parquet", filesystem=fs, existing_data_behavior="delete_matching"
)
print("tmp files:", sorted(info.path for info in fs.get_file_info(pa.fs.FileSelector(f"{bucket}/tmp"))))
try:
    pq.read_table(f"{bucket}/missing.parquet", filesystem=fs)
except Exception as error:  # reaches the program as without roar
    print("missing:", type(error).__name__, error)
