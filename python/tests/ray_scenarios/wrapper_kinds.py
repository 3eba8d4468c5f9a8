"""Every kind of remote function Ray has, in one Ray session; prints one JSON line (``RESULT
{...}``) of what the driver got back: values, items, exception types and messages.

test_task_wrapper.py runs this twice, untraced and under ``roar run``, and asserts both
outputs are equal: roar's task wrapper must be transparent (wrappers.py)."""

import asyncio
import json
import os
import re
import threading

import ray


class Boom(Exception):
    pass


def failure(exc):
    """What the driver sees of a task's exception: the user's type and message."""
    cause = getattr(exc, "cause", None)
    # The traceback the user sees (str of RayTaskError), without pids, ids and the folder.
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).replace(os.getcwd(), "<cwd>")
    text = re.sub(r"(pid|ip|actor_id)=[^,)]*", r"\1=N", text)
    text = re.sub(r" at 0x[0-9a-f]+", " at 0x", text)
    # Lines of frames outside the user's file depend on timing (concurrent.futures' result()
    # raises from one of two lines, whether the future was done when asked): not the user's view.
    text = re.sub(r'(File "(?!<cwd>)[^"]+", line )\d+', r"\1N", text)
    return {
        "text": text,
        "raised": type(exc).__name__ if cause is None else "RayTaskError",
        "is_user_type": isinstance(exc, (Boom, ValueError)),
        "type": type(cause if cause is not None else exc).__qualname__,
        "args": [str(a) for a in (cause if cause is not None else exc).args],
    }


# -- tasks -------------------------------------------------------------------------------------

@ray.remote
def plain():
    pass


@ray.remote
def value(x):
    return {"x": x, "list": [x, x * 2], "text": "v%d" % x}


@ray.remote
def raises(x):
    raise Boom("task raised %d" % x)


@ray.remote(num_returns="streaming")
def stream(n):
    for i in range(n):
        yield {"i": i}


@ray.remote(num_returns="streaming")
def stream_raises(n):
    for i in range(n):  # noqa: UP028  (a plain loop: each item is one step of the generator under test)
        yield i
    raise ValueError("stream broke after %d" % n)


@ray.remote(num_returns="dynamic")
def dynamic(n):
    for i in range(n):
        yield i * 10


# -- actors ------------------------------------------------------------------------------------

@ray.remote
class Sync:
    def __init__(self, base):
        self.base = base

    def add(self, x):
        return self.base + x

    def fail(self):
        raise Boom("sync actor raised")


@ray.remote(max_concurrency=2)
class Threaded:
    def __init__(self):
        self.lock = threading.Lock()
        self.count = 0

    def bump(self, x):
        with self.lock:
            self.count += 1
        return x * 3


@ray.remote
class Async:
    async def double(self, x):
        await asyncio.sleep(0.01)
        return x * 2

    async def fail(self):
        await asyncio.sleep(0)
        raise ValueError("async actor raised")

    @ray.method(num_returns="streaming")
    async def agen(self, n):
        for i in range(n):
            await asyncio.sleep(0)
            yield "a%d" % i

    @ray.method(num_returns="streaming")
    async def agen_raises(self, n):
        for i in range(n):
            await asyncio.sleep(0)
            yield i
        raise Boom("async generator broke after %d" % n)


def drain(gen):
    """Items of a streaming generator, then the error it ended with (if any)."""
    items, error = [], None
    try:
        for ref in gen:
            items.append(ray.get(ref))
    except Exception as exc:
        error = failure(exc)
    return {"items": items, "error": error}


def get(ref):
    try:
        return {"value": ray.get(ref)}
    except Exception as exc:
        return {"error": failure(exc)}


def main():
    ray.init(num_cpus=2, include_dashboard=False)
    out = {}
    out["plain"] = get(plain.remote())
    out["value"] = get(value.remote(7))
    out["raises"] = get(raises.remote(3))
    out["stream"] = drain(stream.remote(4))
    out["stream_raises"] = drain(stream_raises.remote(2))
    out["dynamic"] = [ray.get(r) for r in ray.get(dynamic.remote(3))]

    sync = Sync.remote(100)
    out["sync_add"] = get(sync.add.remote(5))
    out["sync_fail"] = get(sync.fail.remote())

    threaded = Threaded.remote()
    out["threaded"] = [get(r) for r in [threaded.bump.remote(i) for i in range(4)]]

    actor = Async.remote()
    out["async_double"] = get(actor.double.remote(21))
    out["async_fail"] = get(actor.fail.remote())
    out["async_gen"] = drain(actor.agen.remote(3))
    out["async_gen_raises"] = drain(actor.agen_raises.remote(2))

    print("RESULT " + json.dumps(out, sort_keys=True), flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
