"""What a program sees of pyarrow's S3 filesystem with roar's capture installed (test_s3_pyarrow.py
runs it with roar's runtime and without, and compares)."""

import sys

print("imported at start:", "pyarrow" in sys.modules, "botocore" in sys.modules)

import os  # noqa: E402
import pickle  # noqa: E402

import pyarrow as pa  # noqa: E402
import pyarrow.fs as pafs  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

bucket = sys.argv[1]
endpoint = os.environ["S3_ENDPOINT"].removeprefix("http://")
fs = pafs.S3FileSystem(endpoint_override=endpoint, scheme="http", region="us-east-1", allow_bucket_creation=True)
fs.create_dir(bucket)
pq.write_table(pa.table({"x": [1, 2, 3]}), f"{bucket}/t.parquet", filesystem=fs)
# As Ray Data calls them: the program's own calls get the program's filesystem back.
resolved, path = pafs._resolve_filesystem_and_path(f"{bucket}/t.parquet", fs)
print("resolved by the program:", type(resolved).__name__, resolved.type_name, path)
print("ensured by the program:", type(pafs._ensure_filesystem(fs)).__name__)
dataset = pq.ParquetDataset(f"{bucket}/t.parquet", filesystem=fs)
print("ParquetDataset.filesystem:", type(dataset.filesystem).__name__, dataset.read().to_pydict())
print("pickled:", type(pickle.loads(pickle.dumps(fs))).__name__)
with pafs.S3FileSystem(endpoint_override=endpoint, scheme="http", region="us-east-1").open_input_stream(
    f"{bucket}/t.parquet"
) as stream:  # the program's own call on its S3FileSystem: not seen
    print("magic:", stream.read(4))
for attempt in (
    lambda: pq.ParquetFile(f"{bucket}/nope.parquet", filesystem=fs),
    lambda: pq.read_table(f"{bucket}/nope"),
):
    try:
        attempt()
    except Exception as error:
        print("error:", type(error).__name__, error)
