"""Bench workloads (bench/ray/run). Prints one JSON line: {"workload", "batch_s", "tasks"}.

  noop  200 tasks that do nothing
  io    100 tasks, each reads its own small input file and writes 1 MiB
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


def make_inputs():
    os.makedirs("in", exist_ok=True)
    for i in range(IO_TASKS):
        with open(f"in/in-{i}.txt", "w") as f:
            f.write(f"input {i}\n")


def main():
    if WORKLOAD == "io":
        make_inputs()
        os.makedirs("out", exist_ok=True)
    if os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR"):
        ray.init()  # a submitted job: the cluster's
    else:
        ray.init(num_cpus=2, include_dashboard=False)
    ray.get([noop.remote() for _ in range(20)])  # warm-up: both workers up
    start = time.perf_counter()
    if WORKLOAD == "noop":
        ray.get([noop.remote() for _ in range(200)])
        n = 200
    else:
        ray.get([io_task.remote(i) for i in range(IO_TASKS)])
        n = IO_TASKS
    batch = time.perf_counter() - start
    ray.shutdown()
    print(json.dumps({"workload": WORKLOAD, "batch_s": batch, "tasks": n}))


if __name__ == "__main__":
    main()
