"""The task wrapper (roar_runtime/wrappers.py) in-process, without Ray: it is transparent for
every kind of function (what it returns, raises, yields; the attributes Ray inspects) and
writes task_begin/task_end with the task's tag set during every step of the body."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import types
from typing import Any

import pytest
from fixtures_ray import PYTHON_DIR

sys.path.insert(0, str(PYTHON_DIR))

from roar_runtime import frames, ray_compat, spool, wrappers  # noqa: E402

TAG = "ray:aa01:2"


class FakeBackend:
    name = "test"

    def __init__(self) -> None:
        self.local = threading.local()
        self.events: list[tuple[str, dict[str, Any]]] = []

    def set_tag(self, tag: str) -> None:
        self.local.tag = tag

    def get_tag(self) -> str:
        return getattr(self.local, "tag", "")

    def emit(self, json_text: str) -> None:
        self.events.append((self.get_tag(), json.loads(json_text)))

    def flush(self) -> None:
        pass


class FakeCoreWorker:
    def current_task(self) -> tuple[str, bytes]:
        return "aa01", b"\xaa\x01"

    def attempt_number(self) -> int:
        return 2

    def actor_id(self) -> str | None:
        return None

    def node_id(self) -> str:
        return "n1"

    def worker_id(self) -> str:
        return "w1"

    def job_id(self) -> str:
        return "01000000"


@pytest.fixture
def backend() -> FakeBackend:
    fake = FakeBackend()
    frames.bind(fake, FakeCoreWorker())  # type: ignore[arg-type]
    frames._worker_static = ""
    fake.set_tag(spool.SYSTEM_TAG)
    return fake


def wrapped(fn: Any) -> Any:
    result = wrappers.wrap_executed(fn, ray_compat.FunctionName("pipeline", "", fn.__name__))
    assert result is not fn
    return result


def ends(backend: FakeBackend) -> list[tuple[str, str, str | None]]:
    return [(tag, e["status"], e["error"]) for tag, e in backend.events if e["event"] == "task_end"]


def begins(backend: FakeBackend) -> list[dict[str, Any]]:
    return [e for _, e in backend.events if e["event"] == "task_begin"]


def test_plain_function_returns_and_raises(backend: FakeBackend) -> None:
    seen: list[str] = []

    def add(a: int, b: int = 0) -> int:
        seen.append(backend.get_tag())
        return a + b

    def fail() -> None:
        raise ValueError("boom")

    assert wrapped(add)(1, b=2) == 3
    with pytest.raises(ValueError, match="boom"):
        wrapped(fail)()
    assert seen == [TAG]
    assert backend.get_tag() == spool.SYSTEM_TAG
    (begin, _) = begins(backend)
    assert begin["tag"] == TAG and begin["task_id"] == "aa01" and begin["attempt"] == 2
    assert begin["kind"] == "task" and begin["function"] == "pipeline.add" and begin["job_id"] == "01000000"
    assert ends(backend) == [(TAG, "ok", None), (TAG, "failed", "ValueError: boom")]


def test_attributes_ray_inspects_are_kept() -> None:
    def method(self: Any) -> None:
        """doc"""

    method.name = "method"  # type: ignore[attr-defined]
    method.method = "the method"  # type: ignore[attr-defined]
    wrapper = wrapped(method)
    assert (wrapper.name, wrapper.method) == ("method", "the method")
    assert (wrapper.__name__, wrapper.__doc__) == ("method", "doc")
    assert wrapper.__qualname__ == method.__qualname__ and wrapper.__wrapped__ is method
    again = ray_compat.FunctionName("pipeline", "", "method")
    assert wrappers.wrap_executed(wrapper, again) is wrapper
    ray_internal = ray_compat.FunctionName("m", "Actor", "__ray_ready__")
    roar_own = ray_compat.FunctionName("roar_runtime.cluster", "_NodeAgent", "put")
    assert wrappers.wrap_executed(method, ray_internal) is method
    assert wrappers.wrap_executed(method, roar_own) is method


def test_generator_yields_returns_and_closes(backend: FakeBackend) -> None:
    seen: list[str] = []

    def gen(n: int) -> Any:
        for i in range(n):
            seen.append(backend.get_tag())
            yield i
        return "done"

    def outer() -> Any:
        result = yield from wrapped(gen)(3)
        return result

    items = []
    it = outer()
    try:
        while True:
            items.append(next(it))
            assert backend.get_tag() == spool.SYSTEM_TAG  # between steps
    except StopIteration as stop:
        assert stop.value == "done"
    assert items == [0, 1, 2] and seen == [TAG] * 3

    closed = wrapped(gen)(5)
    assert next(closed) == 0
    closed.close()
    assert backend.get_tag() == spool.SYSTEM_TAG
    assert ends(backend) == [(TAG, "ok", None), (TAG, "ok", None)]


def test_generator_failure(backend: FakeBackend) -> None:
    def gen() -> Any:
        yield 1
        raise KeyError("k")

    it = wrapped(gen)()
    assert next(it) == 1
    with pytest.raises(KeyError):
        next(it)
    assert ends(backend) == [(TAG, "failed", "KeyError: 'k'")]


def test_coroutine_returns_raises_and_is_cancelled(backend: FakeBackend) -> None:
    seen: list[str] = []

    async def work(x: int) -> int:
        seen.append(backend.get_tag())
        await asyncio.sleep(0)
        seen.append(backend.get_tag())
        return x * 2

    async def fail() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("nope")

    async def forever() -> None:
        await asyncio.sleep(3600)

    async def main() -> None:
        coro = wrapped(work)(21)
        assert asyncio.iscoroutine(coro)
        assert await coro == 42
        with pytest.raises(RuntimeError, match="nope"):
            await wrapped(fail)()
        task = asyncio.ensure_future(wrapped(forever)())
        await asyncio.sleep(0)
        assert backend.get_tag() == spool.SYSTEM_TAG  # the task is suspended
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert seen == [TAG, TAG]
    assert ends(backend) == [
        (TAG, "ok", None),
        (TAG, "failed", "RuntimeError: nope"),
        (TAG, "failed", "CancelledError"),
    ]


def test_coroutine_closed_before_it_ran_to_the_end(backend: FakeBackend) -> None:
    @types.coroutine
    def pause() -> Any:
        yield "paused"

    async def suspended() -> None:
        await pause()
        raise AssertionError("never resumed")

    coro = wrapped(suspended)()
    assert coro.send(None) == "paused"  # what the body yields reaches the event loop
    assert backend.get_tag() == spool.SYSTEM_TAG
    coro.close()
    assert ends(backend) == [(TAG, "ok", None)]
    assert backend.get_tag() == spool.SYSTEM_TAG


def test_async_generator_yields_fails_and_closes(backend: FakeBackend) -> None:
    seen: list[str] = []

    async def agen(n: int) -> Any:
        for i in range(n):
            seen.append(backend.get_tag())
            await asyncio.sleep(0)
            yield i

    async def broken() -> Any:
        yield 1
        raise ValueError("late")

    async def main() -> None:
        gen = wrapped(agen)(3)
        assert hasattr(gen, "__anext__")
        assert [i async for i in gen] == [0, 1, 2]
        failing = wrapped(broken)()
        assert await failing.__anext__() == 1
        with pytest.raises(ValueError, match="late"):
            await failing.__anext__()
        early = wrapped(agen)(5)
        assert await early.__anext__() == 0
        await early.aclose()

    asyncio.run(main())
    assert seen == [TAG, TAG, TAG, TAG]
    assert ends(backend) == [(TAG, "ok", None), (TAG, "failed", "ValueError: late"), (TAG, "ok", None)]
    assert backend.get_tag() == spool.SYSTEM_TAG


def test_stats_are_counted_from_many_threads() -> None:
    before = spool.stats().get("test_counter", 0)

    def work() -> None:
        for _ in range(1000):
            spool.count("test_counter")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert spool.stats()["test_counter"] - before == 8000
