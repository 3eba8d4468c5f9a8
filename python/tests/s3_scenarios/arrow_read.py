"""Reads what arrow_write.py wrote, through pyarrow's own S3 client (run by test_s3_pyarrow.py)."""

import os
import sys

import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyarrow.fs import S3FileSystem

bucket = sys.argv[1]
endpoint = os.environ["S3_ENDPOINT"].removeprefix("http://")
fs = S3FileSystem(endpoint_override=endpoint, scheme="http", region="us-east-1")
# A URI: pyarrow makes the S3FileSystem itself (FileSystem.from_uri).
table = pq.read_table(f"s3://{bucket}/table.parquet?endpoint_override={endpoint}&scheme=http")
print("table:", table.num_rows, pc.sum(table["n"]).as_py())
dataset = ds.dataset(f"{bucket}/ds", filesystem=fs, format="parquet")
whole = dataset.to_table()
print("dataset:", sorted(dataset.files), whole.num_rows, pc.sum(whole["n"]).as_py())
print("pandas:", pd.read_parquet(f"s3://{bucket}/pandas.parquet")["k"].sum())
