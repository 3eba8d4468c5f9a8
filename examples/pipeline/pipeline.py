"""roar's demo Ray pipeline: fan-out / fan-in over files, an actor, a subprocess.

    cd examples/pipeline && roar run python pipeline.py && roar dag

  data/raw/part-<i>.csv      generated here (deterministic), 4 small CSV files
  clean(i)     x4 task       data/raw/part-<i>.csv      -> work/clean-<i>.csv
  Stats        actor         add(work/clean-<i>.csv) x4 -> dump() -> work/stats.json
  concat       task + `sh`   work/clean-*.csv           -> work/all.csv   (via a subprocess)
  features     task          work/all.csv               -> work/features.parquet (pandas)
  report       task          work/features.parquet, work/stats.json -> out/report.txt
  Ray Data     ReadCSV -> MapBatches(fahrenheit)->Write   data/raw/ -> out/readings/ (a dataset
               of parquet parts: one composite output of its writer tasks)

All paths are relative to the folder the pipeline is run from.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys

# Keep Ray on the loopback interface on Linux (this Ray picks the outward address otherwise).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import ray  # noqa: E402

PARTS = 4
ROWS = 2000


def generate(parts: int = PARTS, rows: int = ROWS) -> list[str]:
    """The input dataset: sensor readings, the same bytes on every run."""
    os.makedirs("data/raw", exist_ok=True)
    paths = []
    for i in range(parts):
        rng = random.Random(1000 + i)
        path = f"data/raw/part-{i}.csv"
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["sensor", "reading", "quality"])
            for _ in range(rows):
                w.writerow([f"s{rng.randrange(8)}", f"{rng.gauss(20.0, 5.0):.3f}", rng.choice("gggggb")])
        paths.append(path)
    return paths


@ray.remote
def clean(src: str, i: int) -> str:
    """Drop bad-quality rows and clamp outliers."""
    dst = f"work/clean-{i}.csv"
    with open(src, newline="") as f, open(dst, "w", newline="") as g:
        r = csv.DictReader(f)
        w = csv.writer(g)
        for row in r:
            if row["quality"] != "g":
                continue
            value = min(max(float(row["reading"]), 0.0), 40.0)
            w.writerow([row["sensor"], f"{value:.3f}"])
    return dst


@ray.remote
class Stats:
    """Running per-sensor statistics over the cleaned parts."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}
        self.total: dict[str, float] = {}

    def add(self, path: str) -> int:
        n = 0
        with open(path, newline="") as f:
            for sensor, value in csv.reader(f):
                self.count[sensor] = self.count.get(sensor, 0) + 1
                self.total[sensor] = self.total.get(sensor, 0.0) + float(value)
                n += 1
        return n

    def dump(self, path: str) -> str:
        means = {s: round(self.total[s] / self.count[s], 4) for s in sorted(self.count)}
        with open(path, "w") as f:
            json.dump({"count": dict(sorted(self.count.items())), "mean": means}, f, indent=1)
        return path


@ray.remote
def concat(parts: list[str], dst: str) -> str:
    """Concatenate the cleaned parts with a shell (a subprocess of the task)."""
    subprocess.run(["sh", "-c", 'cat "$@" > ' + dst, "sh", *parts], check=True)
    return dst


@ray.remote
def features(src: str, dst: str) -> str:
    import pandas as pd

    df = pd.read_csv(src, names=["sensor", "reading"])
    out = df.groupby("sensor")["reading"].agg(["count", "mean", "std", "min", "max"]).reset_index()
    out.to_parquet(dst, index=False)
    return dst


@ray.remote
def report(features_path: str, stats_path: str, dst: str) -> str:
    import pandas as pd

    df = pd.read_parquet(features_path)
    with open(stats_path) as f:
        stats = json.load(f)
    with open(dst, "w") as g:
        g.write("sensor  count    mean     std\n")
        for row in df.itertuples():
            g.write(f"{row.sensor:<6} {row.count:>6} {row.mean:>7.3f} {row.std:>7.3f}\n")
        g.write(f"\nrows kept: {sum(stats['count'].values())}\n")
    return dst


def fahrenheit(batch):  # a Ray Data map_batches function: one more column
    batch["fahrenheit"] = batch["reading"] * 9 / 5 + 32
    return batch


def main() -> int:
    raw = generate()
    os.makedirs("work", exist_ok=True)
    os.makedirs("out", exist_ok=True)
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        cleaned = ray.get([clean.remote(p, i) for i, p in enumerate(raw)])
        stats = Stats.remote()
        ray.get([stats.add.remote(p) for p in cleaned])
        stats_path = ray.get(stats.dump.remote("work/stats.json"))
        all_path = ray.get(concat.remote(cleaned, "work/all.csv"))
        feature_path = ray.get(features.remote(all_path, "work/features.parquet"))
        out = ray.get(report.remote(feature_path, stats_path, "out/report.txt"))
        ray.data.DataContext.get_current().enable_progress_bars = False
        ray.data.read_csv("data/raw").map_batches(fahrenheit, batch_format="pandas").write_parquet("out/readings")
    finally:
        ray.shutdown()
    with open(out) as f:
        sys.stdout.write(f.read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
