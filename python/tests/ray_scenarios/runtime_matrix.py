"""Exercises every kind of Ray execution the runtime must mark, and writes what the driver
knows (task ids, results) as JSON to argv[1]. Run with ROAR_WRAP=1 and a spool directory by
test_runtime.py, which then checks the E records in the spool against it.

Uses the user's own runtime_env (an env var and a setup hook) to check they survive."""

import asyncio
import json
import os
import sys
import threading
import time

import ray

out_path = sys.argv[1]
result = {}

ray.init(
    num_cpus=2,
    include_dashboard=False,
    runtime_env={
        "env_vars": {"SCENARIO_USER_VAR": "kept"},
        "worker_process_setup_hook": "scenario_hooks.user_hook",
    },
)


@ray.remote
def plain(x):
    return {
        "x": x,
        "user_var": os.environ.get("SCENARIO_USER_VAR"),
        "user_hook": os.environ.get("SCENARIO_USER_HOOK_RAN"),
        "roar_runtime": "roar_runtime.worker" in sys.modules,
    }


@ray.remote
def child(i):
    return i * 2


@ray.remote
def parent():
    refs = [child.remote(i) for i in range(2)]
    return [r.task_id().hex() for r in refs], ray.get(refs)


@ray.remote
def boom():
    raise ValueError("scenario failure")


@ray.remote(max_retries=2, retry_exceptions=True)
def flaky(marker):
    if not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write("attempt 0 was here\n")
        raise RuntimeError("first attempt fails")
    return "second attempt ok"


@ray.remote
class AsyncActor:
    async def work(self, delay):
        await asyncio.sleep(delay)
        await asyncio.sleep(delay)
        return delay

    @ray.method(num_returns="streaming")
    async def agen(self, n):
        for i in range(n):
            await asyncio.sleep(0.01)
            yield i


@ray.remote(max_concurrency=3)
class ThreadedActor:
    def work(self):
        time.sleep(0.05)
        return threading.current_thread().name


@ray.remote
class SyncActor:
    def __init__(self, start):
        self.n = start

    def add(self, k):
        self.n += k
        return self.n


@ray.remote(num_returns="streaming")
def stream(n):
    for i in range(n):  # noqa: UP028  (a plain generator body: what the wrapper must drive)
        yield i


ref = plain.remote(1)
result["plain"] = {"task_id": ref.task_id().hex(), "value": ray.get(ref)}

ref = parent.remote()
child_ids, values = ray.get(ref)
result["nested"] = {"task_id": ref.task_id().hex(), "children": child_ids, "values": values}

ref = boom.remote()
try:
    ray.get(ref)
    raised = False
except ray.exceptions.RayTaskError:
    raised = True
result["boom"] = {"task_id": ref.task_id().hex(), "raised": raised}

marker = os.path.join(os.path.dirname(os.path.abspath(out_path)), "flaky.marker")
ref = flaky.remote(marker)
result["flaky"] = {"task_id": ref.task_id().hex(), "value": ray.get(ref)}

a = AsyncActor.remote()
refs = [a.work.remote(0.05) for _ in range(3)]
ray.get(refs)
result["async_actor"] = {"actor_id": a._actor_id.hex(), "calls": [r.task_id().hex() for r in refs]}
agen = a.agen.remote(3)
result["async_gen"] = {"task_id": agen._generator_ref.task_id().hex(), "items": [ray.get(r) for r in agen]}

t = ThreadedActor.remote()
refs = [t.work.remote() for _ in range(3)]
threads = ray.get(refs)
result["threaded_actor"] = {
    "actor_id": t._actor_id.hex(),
    "calls": [r.task_id().hex() for r in refs],
    "threads": threads,
}

s = SyncActor.remote(10)
refs = [s.add.remote(k) for k in (1, 2)]
result["sync_actor"] = {
    "actor_id": s._actor_id.hex(),
    "calls": [r.task_id().hex() for r in refs],
    "values": ray.get(refs),
}

gen = stream.remote(3)
items = [ray.get(r) for r in gen]
result["stream"] = {"task_id": gen._generator_ref.task_id().hex(), "items": items}

with open(out_path, "w") as f:
    json.dump(result, f, indent=1)
ray.shutdown()
