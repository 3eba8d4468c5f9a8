"""A three-step Ray Data pipeline over the working directory: ``data/in`` (CSV files) →
``read_csv`` → ``map_batches`` → ``write_parquet("data/out")``. ``raise`` as argument: the map
function raises, and the error reaches the driver as Ray Data reports it.

test_ray_data.py runs this untraced and under ``roar run`` and compares."""

import sys

import ray


def scale(batch):
    batch["y"] = batch["x"] * 2 + 1
    return batch


def broken(batch):
    raise ValueError("broken map function: %d rows" % len(batch["x"]))


def main():
    fn = broken if sys.argv[1:] == ["raise"] else scale
    ray.init(num_cpus=2, include_dashboard=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ds = ray.data.read_csv("data/in").map_batches(fn)
    ds.write_parquet("data/out")
    print("written", flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
