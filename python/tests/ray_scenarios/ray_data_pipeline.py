"""A three-step Ray Data pipeline over the working directory: ``data/in`` (CSV files) →
``read_csv`` → ``map_batches`` → ``write_parquet("data/out")``. ``raise`` as argument: the map
function raises, and the error reaches the driver as Ray Data reports it. ``read`` as argument: the
next run, ``read_parquet("data/out")`` handed to a Ray task that consumes it with ``iter_batches``
and writes the total of column ``y`` to ``data/total.txt``.

test_ray_data.py runs this untraced and under ``roar run`` and compares; test_cluster_e2e.py submits it to
a two-node cluster, where ``data/`` lives under ``E2E_DATA`` (a folder both nodes see, as NFS would be)."""

import os
import sys

import ray

DATA = os.path.join(os.environ.get("E2E_DATA", ""), "data")


def scale(batch):
    batch["y"] = batch["x"] * 2 + 1
    return batch


def broken(batch):
    raise ValueError("broken map function: %d rows" % len(batch["x"]))


@ray.remote
def total_of_y(ds):
    total = 0
    for batch in ds.iter_batches(batch_format="numpy"):
        total += int(batch["y"].sum())
    with open(os.path.join(DATA, "total.txt"), "w") as out:
        out.write("%d\n" % total)
    return total


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "write"
    if os.environ.get("RAY_ADDRESS") or os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR"):
        ray.init()  # a submitted job: the cluster's
    else:
        ray.init(num_cpus=2, include_dashboard=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    if mode == "read":
        total = ray.get(total_of_y.remote(ray.data.read_parquet(os.path.join(DATA, "out"))))
        print("total", total, flush=True)
    else:
        ds = ray.data.read_csv(os.path.join(DATA, "in")).map_batches(broken if mode == "raise" else scale)
        ds.write_parquet(os.path.join(DATA, "out"))
        print("written", flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
