"""End-to-end Ray scenarios in one Ray session (test_ray_local.py runs this under
``roar run python e2e_local.py [scenario ...]`` and checks ``roar dag --format json``).

Every path is relative to the working directory (the project). The driver writes each
scenario's inputs itself, so they are outputs of the run job.

On a cluster (test_cluster_e2e.py) every node has its own copy of the working dir, so files
that pass between tasks live under ``E2E_DATA`` (an absolute folder all nodes share, as NFS
would be); locally ``E2E_DATA`` is unset and every path stays relative. The ``shipped``
scenario reads a file that came with the working dir and writes next to it, relatively.
"""

import os
import subprocess
import sys
import threading
import time
import traceback

import ray

SCENARIOS = sys.argv[1:] or [
    "fanout", "actor", "subprocess", "thread", "parquet", "nested", "failing", "killed", "retries",
]
DATA = os.environ.get("E2E_DATA", "")


def at(path):
    """Where a file passed between tasks lives: relative locally, under E2E_DATA on a cluster."""
    return os.path.join(DATA, path) if DATA else path


def write(path, text):
    path = at(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def read(path):
    with open(at(path)) as f:
        return f.read()


# -- fan-out / fan-in ------------------------------------------------------------------------

@ray.remote
def shard(i):
    text = read(f"fan/in-{i}.txt")
    write(f"fan/mid-{i}.txt", text.upper())
    return i


@ray.remote
def merge(n):
    parts = [read(f"fan/mid-{i}.txt") for i in range(n)]
    write("fan/out.txt", "".join(parts))


def on_every_node(i):
    """Shard i pinned to node i mod n: SPREAD is a hint a busy cluster may ignore, and the cluster
    tests must see tasks on both nodes."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU"))
    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(nodes[i % len(nodes)], soft=False)}


def fanout():
    for i in range(4):
        write(f"fan/in-{i}.txt", f"part {i}\n" * (i + 1))
    ray.get([shard.options(**on_every_node(i)).remote(i) for i in range(4)])
    ray.get(merge.remote(4))


# -- actor ---------------------------------------------------------------------------------

@ray.remote
class Counter:
    def __init__(self, config_path):
        self.prefix = read(config_path).strip()
        self.seen = []

    def add(self, path):
        self.seen.append(read(path).strip())
        return len(self.seen)

    def dump(self, path):
        write(path, self.prefix + ":" + ",".join(self.seen) + "\n")
        return path


def actor():
    write("actor/config.txt", "counter\n")
    write("actor/a.txt", "alpha\n")
    write("actor/b.txt", "beta\n")
    c = Counter.remote("actor/config.txt")
    ray.get([c.add.remote("actor/a.txt")])
    ray.get([c.add.remote("actor/b.txt")])
    ray.get(c.dump.remote("actor/summary.txt"))
    ray.get(plain_after_actor.remote())


@ray.remote
def plain_after_actor():
    write("actor/plain.txt", "a plain task next to the actor\n")


# -- subprocess --------------------------------------------------------------------------------

@ray.remote
def shell_copy():
    subprocess.run(["sh", "-c", "cat a > b"], cwd=at("sub"), check=True)


def subprocess_():
    write("sub/a", "copied by a shell\n")
    ray.get(shell_copy.remote())


# -- thread ------------------------------------------------------------------------------------

@ray.remote
def threaded_write():
    t = threading.Thread(target=write, args=("thread/out.txt", "written from a thread\n"))
    t.start()
    t.join()


def thread():
    os.makedirs(at("thread"), exist_ok=True)
    ray.get(threaded_write.remote())


# -- parquet -----------------------------------------------------------------------------------

@ray.remote
def to_parquet():
    import pandas as pd

    df = pd.DataFrame({"k": list(range(50)), "v": [i * 0.5 for i in range(50)]})
    df.to_parquet(at("pq/table.parquet"), index=False)


@ray.remote
def from_parquet():
    import pandas as pd

    df = pd.read_parquet(at("pq/table.parquet"))
    write("pq/summary.txt", f"rows={len(df)} sum={df['v'].sum()}\n")


def parquet():
    os.makedirs(at("pq"), exist_ok=True)
    ray.get(to_parquet.remote())
    ray.get(from_parquet.remote())


# -- nested ------------------------------------------------------------------------------------

@ray.remote(scheduling_strategy="SPREAD")
def nested_child(i):
    write(f"nested/child-{i}.txt", f"child {i}\n")
    return i


@ray.remote
def nested_parent():
    ray.get([nested_child.remote(i) for i in range(2)])
    text = "".join(read(f"nested/child-{i}.txt") for i in range(2))
    write("nested/parent.txt", text)


def nested():
    os.makedirs(at("nested"), exist_ok=True)
    ray.get(nested_parent.remote())


# -- failing -----------------------------------------------------------------------------------

@ray.remote(max_retries=0)
def fails_after_write():
    write("fail/partial.txt", "written before the error\n")
    raise RuntimeError("boom after writing")


def failing():
    os.makedirs(at("fail"), exist_ok=True)
    try:
        ray.get(fails_after_write.remote())
    except ray.exceptions.RayTaskError:
        pass
    else:
        raise AssertionError("the task should have failed")


# -- killed ------------------------------------------------------------------------------------

@ray.remote(max_retries=0)
def killed_midway():
    write("kill/before.txt", "written and closed before the kill\n")
    time.sleep(1.5)  # longer than the preload library's flush interval
    read("kill/input.txt")  # a record after the interval: the buffered ones go out
    os.kill(os.getpid(), 9)


def killed():
    write("kill/input.txt", "input of the killed task\n")
    try:
        ray.get(killed_midway.remote())
    except Exception:
        pass
    else:
        raise AssertionError("the worker should have died")


# -- retries -----------------------------------------------------------------------------------

@ray.remote(max_retries=2, retry_exceptions=True)
def flaky():
    if not os.path.exists(at("retry/attempt-0.txt")):
        write("retry/attempt-0.txt", "first attempt\n")
        raise RuntimeError("first attempt fails")
    write("retry/result.txt", "second attempt\n")


def retries():
    os.makedirs(at("retry"), exist_ok=True)
    ray.get(flaky.remote())


# -- shipped with the working dir ------------------------------------------------------------

@ray.remote
def shipped_copy():
    # Relative paths: the working dir Ray unpacked on this node (locally: the project).
    with open("shipped/in.txt") as f:
        text = f.read()
    with open("shipped/out.txt", "w") as f:
        f.write(text.upper())


def shipped():
    ray.get(shipped_copy.remote())


# -- data inside a py_modules package -----------------------------------------------------------

@ray.remote
def module_data():
    import helpers  # shipped in py_modules on a cluster; next to the script locally

    with open(os.path.join(os.path.dirname(helpers.__file__), "table.csv")) as f:
        rows = f.read().splitlines()
    write("module/rows.txt", f"{len(rows)} rows\n")


def module():
    ray.get(module_data.remote())


RUN = {
    "fanout": fanout, "actor": actor, "subprocess": subprocess_, "thread": thread, "parquet": parquet,
    "nested": nested, "failing": failing, "killed": killed, "retries": retries, "shipped": shipped,
    "module": module,
}

if __name__ == "__main__":
    if os.environ.get("RAY_ADDRESS") or os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR"):
        ray.init()  # a submitted job: the cluster's
    else:
        ray.init(num_cpus=2, include_dashboard=False)
    failed = []
    for name in SCENARIOS:
        try:
            RUN[name]()
            print(f"scenario {name}: done", flush=True)
        except Exception:
            failed.append(name)
            print(f"scenario {name}: FAILED\n{traceback.format_exc()}", file=sys.stderr, flush=True)
    ray.shutdown()
    sys.exit(1 if failed else 0)
