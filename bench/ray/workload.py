"""Bench workloads (bench/ray/run). Prints one JSON line: {"workload", "batch_s", "tasks"}.

  noop  200 tasks that do nothing
  io    100 tasks, each reads its own small input file and writes 1 MiB
  data  Ray Data: read_csv over 16 files of 20,000 rows -> map_batches -> write_parquet (a dataset)
The batch is timed after a warm-up batch, so worker start-up is not in it.

Submitted to a cluster (bench/ray/submit) it connects to that cluster, and the inputs, made
on the host beforehand, travel in the working dir."""

import json
import os
import sys
import time

import ray

WORKLOAD = sys.argv[1] if len(sys.argv) > 1 else "io"
IO_TASKS = int(os.environ.get("BENCH_IO_TASKS", "100"))


@ray.remote
def noop():
    return None


@ray.remote
def io_task(i):
    with open(f"in/in-{i}.txt", "rb") as f:
        seed = f.read()
    block = (seed * (1024 // len(seed) + 1))[:1024]
    os.makedirs("out", exist_ok=True)  # on a cluster, each node has its own working dir
    with open(f"out/out-{i}.bin", "wb") as f:
        for _ in range(1024):
            f.write(block)
    return i


DATA_FILES = int(os.environ.get("BENCH_DATA_FILES", "16"))
DATA_ROWS = 20_000


def make_csv_inputs():
    os.makedirs("csv", exist_ok=True)
    for i in range(DATA_FILES):
        with open(f"csv/part-{i}.csv", "w") as f:
            f.write("x,reading\n")
            f.writelines(f"{i * DATA_ROWS + j},{(j * 7919) % 1000 / 10}\n" for j in range(DATA_ROWS))


def fahrenheit(batch):
    batch["fahrenheit"] = batch["reading"] * 9 / 5 + 32
    return batch


def ray_data_pipeline():
    ray.data.DataContext.get_current().enable_progress_bars = False
    ray.data.read_csv("csv").map_batches(fahrenheit, batch_format="pandas").write_parquet("parquet")
    return DATA_FILES


def make_inputs():
    os.makedirs("in", exist_ok=True)
    for i in range(IO_TASKS):
        with open(f"in/in-{i}.txt", "w") as f:
            f.write(f"input {i}\n")


def main():
    if WORKLOAD == "io":
        make_inputs()
        os.makedirs("out", exist_ok=True)
    if WORKLOAD == "data":
        make_csv_inputs()
    if os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR"):
        ray.init()  # a submitted job: the cluster's
    else:
        ray.init(num_cpus=2, include_dashboard=False)
    ray.get([noop.remote() for _ in range(20)])  # warm-up: both workers up
    start = time.perf_counter()
    if WORKLOAD == "noop":
        ray.get([noop.remote() for _ in range(200)])
        n = 200
    elif WORKLOAD == "data":
        n = ray_data_pipeline()
    else:
        ray.get([io_task.remote(i) for i in range(IO_TASKS)])
        n = IO_TASKS
    batch = time.perf_counter() - start
    ray.shutdown()
    print(json.dumps({"workload": WORKLOAD, "batch_s": batch, "tasks": n}))


if __name__ == "__main__":
    main()
