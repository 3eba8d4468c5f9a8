"""A fan-out of many small Ray tasks for the web view test (test_web_view.py runs this under
``roar run python web_fanout.py N``): the driver writes N input parts (a dataset: one composite),
``clean`` turns each into an output file (two of them raise), ``summarize`` reads every output and
writes its report next to them (so that folder is no dataset: a dataset written by N tasks puts its
N-part ref on every writer, and ``roar dag --format json`` then prints N² parts). Every path is
relative to the working directory (the project)."""

import os
import sys

import ray

TASKS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
FAILING = {7, TASKS // 2}


@ray.remote(max_retries=0)
def clean(i):
    with open(f"data/in/part-{i}.csv") as f:
        text = f.read()
    if i in FAILING:
        raise ValueError(f"part {i} is bad")
    with open(f"work/clean/part-{i}.csv", "w") as f:
        f.write(text.upper())
    return i


@ray.remote
def summarize(done):
    total = 0
    for i in done:
        with open(f"work/clean/part-{i}.csv") as f:
            total += len(f.read())
    with open("work/clean/summary.txt", "w") as f:
        f.write(f"{len(done)} parts, {total} bytes\n")


def main():
    for folder in ("data/in", "work/clean"):
        os.makedirs(folder, exist_ok=True)
    for i in range(TASKS):
        with open(f"data/in/part-{i}.csv", "w") as f:
            f.write(f"id,value\n{i},{i * i}\n")
    ray.init(num_cpus=2, include_dashboard=False)
    refs = [clean.remote(i) for i in range(TASKS)]
    done = []
    for ref in refs:
        try:
            done.append(ray.get(ref))
        except ray.exceptions.RayTaskError:
            pass
    ray.get(summarize.remote(done))
    ray.shutdown()


if __name__ == "__main__":
    main()
