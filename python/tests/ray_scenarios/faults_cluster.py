"""Jobs for the cluster fault suite (python/tests/test_faults_cluster.py), submitted with
``roar run ray job submit … -- python faults_cluster.py <scenario>`` to the two-node loopback
cluster.

Files that are lineage live under ``E2E_DATA`` (a folder both nodes see). The test and the job
talk through ``FAULT_CONTROL``, a folder that is not lineage (under /tmp, outside the project's
``filters.include``): the job writes ``ready`` (JSON: its node ids and the driver's pid) once its
first writes have had time to be shipped, then waits for the test to write ``go`` (after it has
injected the fault).
"""

from __future__ import annotations

import json
import os
import sys
import time

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

DATA = os.environ.get("E2E_DATA", "")
CONTROL = os.environ.get("FAULT_CONTROL", "")
#: Longer than the preload's flush bound (1 s) plus an agent round (2 s) plus forwarding.
SHIPPED_AFTER_S = 5.0


def path(relative: str) -> str:
    full = os.path.join(DATA, relative)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    return full


def write(relative: str, text: str) -> None:
    with open(path(relative), "w") as f:
        f.write(text)


def read(relative: str) -> str:
    with open(path(relative)) as f:
        return f.read()


def control(name: str) -> str:
    return os.path.join(CONTROL, name)


def wait_for(name: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(control(name)):
        if time.monotonic() > deadline:
            raise SystemExit(f"the test never wrote {name}")
        time.sleep(0.1)


def nodes() -> tuple[str, str]:
    """(the driver's node, the other node)."""
    here = ray.get_runtime_context().get_node_id()
    others = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["NodeID"] != here)
    return here, others[0]


def tell(name: str, **facts: object) -> None:
    """A control file for the test (atomic: the test may be polling for it)."""
    with open(control(name + ".tmp"), "w") as f:
        json.dump(facts, f)
    os.replace(control(name + ".tmp"), control(name))


def on(node: str) -> NodeAffinitySchedulingStrategy:
    return NodeAffinitySchedulingStrategy(node, soft=False)


# -- quiet: a task writes, goes quiet, is SIGKILLed ----------------------------------------------

@ray.remote(max_retries=0)
def write_then_quiet_then_killed(relative: str, text: str) -> None:
    write(relative, text)
    time.sleep(3.0)  # no I/O at all: only the flush bound brings the write to the spool
    os.kill(os.getpid(), 9)


def quiet() -> None:
    ray.init()
    head, worker = nodes()
    tell("nodes", head=head, worker=worker)
    try:
        ray.get(write_then_quiet_then_killed.options(scheduling_strategy=on(worker)).remote(
            "quiet/out.txt", "written, closed, then three quiet seconds\n"))
    except ray.exceptions.WorkerCrashedError:
        print("THE WORKER DIED", flush=True)
    else:
        raise AssertionError("the worker should have died")


# -- early: the driver raises right after ray.init() --------------------------------------------

def early() -> None:
    text = read("early/in.txt")
    write("early/out.txt", text.upper())
    ray.init()
    raise RuntimeError("raised right after ray.init()")


# -- fault: first writes on both nodes, a fault injected by the test, then more writes ----------

@ray.remote(max_retries=0)
def step(relative: str, text: str) -> str:
    write(relative, text)
    return ray.get_runtime_context().get_node_id()


@ray.remote(max_retries=0)
def hold(relative: str, text: str, then: str) -> str:
    """On the other node: writes, then waits for the test's ``go``, then writes again."""
    write(relative, text)
    wait_for("go")
    write(then, text.replace("first", "second"))
    return ray.get_runtime_context().get_node_id()


def fault() -> None:
    ray.init()
    head, worker = nodes()
    held = hold.options(scheduling_strategy=on(worker)).remote(
        "fault/worker-1.txt", "first write on the worker node\n", "fault/worker-2.txt")
    ray.get(step.options(scheduling_strategy=on(head)).remote("fault/head-1.txt", "first write on the head node\n"))
    time.sleep(SHIPPED_AFTER_S)
    tell("ready", head=head, worker=worker, driver_pid=os.getpid())
    wait_for("go")
    ray.get(step.options(scheduling_strategy=on(head)).remote("fault/head-2.txt", "second write on the head node\n"))
    try:
        ray.get(held, timeout=120)
        print("HOLD OK", flush=True)
    except (ray.exceptions.RayError, ray.exceptions.GetTimeoutError) as exc:
        print("HOLD LOST", type(exc).__name__, flush=True)
    write("fault/driver.txt", "the driver's last write\n")


SCENARIOS = {"quiet": quiet, "early": early, "fault": fault}

if __name__ == "__main__":
    SCENARIOS[sys.argv[1]]()
