"""Reports the preload library's attribution tag as task code sees it (argv[1]: JSON out)."""

import asyncio
import ctypes
import json
import subprocess
import sys
import threading

import ray


def tag() -> str:
    get = ctypes.CDLL(None).roar_get_tag
    get.restype = ctypes.c_char_p
    return get().decode()


ray.init(num_cpus=2, include_dashboard=False)
seen = {"driver_after_init": tag()}


@ray.remote
def probe():
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("tag", tag()))
    t.start()
    t.join()
    sub = subprocess.run(["sh", "-c", 'printf %s "$ROAR_TAG"'], capture_output=True, text=True).stdout
    return {"in_task": tag(), "in_thread": box["tag"], "in_subprocess": sub}


@ray.remote
class Loop:
    def __init__(self):
        self.between = None

    async def call(self):
        await asyncio.sleep(0.01)
        mine = tag()
        # runs on the event loop after this call finished, outside any call
        asyncio.get_running_loop().call_later(0.2, self._record)
        return mine

    def _record(self):
        self.between = tag()

    async def between_calls(self):
        await asyncio.sleep(0.5)
        return self.between


ref = probe.remote()
seen.update(ray.get(ref))
seen["task_id"] = ref.task_id().hex()
actor = Loop.remote()
ref = actor.call.remote()
seen["async_call"] = ray.get(ref)
seen["async_call_id"] = ref.task_id().hex()
seen["async_loop_between_calls"] = ray.get(actor.between_calls.remote())
with open(sys.argv[1], "w") as f:
    json.dump(seen, f)
