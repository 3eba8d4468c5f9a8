"""The task wrapper: what runs in place of every remote function and actor method.

``wrap_executed`` is given every callable a worker executes (``ray_compat.wrap_executed_functions``)
and returns ``task_wrapper(function, meta)``, which runs the function inside a task frame
(``frames``): ``task_begin``, the task's tag while its code runs, ``task_end``.

The invariant: **the wrapper is transparent**. For every kind of remote function — plain,
generator (``num_returns="dynamic"``/``"streaming"``), async, async generator, actor methods of
each kind — it returns what the function returns (the same kind of object: a coroutine stays a
coroutine, a generator a generator, an async generator an async generator), raises what it
raises, yields and receives what it yields and receives, and keeps the attributes Ray inspects
(``name``, ``method``, ``__name__``, …). Only the thread's tag and the events differ. The body
of a coroutine or generator runs later, step by step: the frame is re-entered for every step
(``_drive``, ``_tagged_generator``) and left in between, so the tag is right on whichever
thread or event loop resumes it.
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable
from typing import Any

from . import frames, ray_compat
from .frames import Frame, TaskMeta, end, enter_quietly, leave_quietly


def wrap_executed(function: Callable[..., Any], name: ray_compat.FunctionName) -> Callable[..., Any]:
    """``function`` wrapped, unless it is wrapped already or is not the user's (Ray's own
    methods, roar's own actors)."""
    if getattr(function, "__roar_task__", False):
        return function
    meta = frames.meta_for(name)
    if meta.internal:
        return function
    return task_wrapper(function, meta)


def task_wrapper(fn: Callable[..., Any], meta: TaskMeta) -> Callable[..., Any]:
    def roar_task(*args: Any, **kwargs: Any) -> Any:
        frame = frames.begin(meta)
        if frame is None:
            return fn(*args, **kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            end(frame, exc)
            raise
        try:
            kind = _result_kind(result)
        except Exception:
            kind = None
        if kind is None:
            end(frame, None)
            return result
        # The body runs later, step by step: leave now, re-enter on every step.
        leave_quietly(frame)
        if kind == "coroutine":
            return _tagged_coroutine(result, frame)
        if kind == "generator":
            return _tagged_generator(result, frame)
        return _tagged_async_generator(result, frame)

    # Ray's execute_task inspects these on actor method executors (``name``: internal
    # ``__ray*`` methods, ``method``: whether the method is a coroutine / async generator).
    for attr in ("name", "method"):
        if hasattr(fn, attr):
            setattr(roar_task, attr, getattr(fn, attr))
    for attr in ("__name__", "__qualname__", "__module__", "__doc__"):
        try:
            setattr(roar_task, attr, getattr(fn, attr))
        except (AttributeError, TypeError):
            pass
    roar_task.__roar_task__ = True  # type: ignore[attr-defined]
    roar_task.__wrapped__ = fn  # type: ignore[attr-defined]
    return roar_task


def _result_kind(result: Any) -> str | None:
    if isinstance(result, types.CoroutineType):
        return "coroutine"
    if isinstance(result, types.GeneratorType):
        return "generator"
    if isinstance(result, types.AsyncGeneratorType):
        return "async_generator"
    return None


@types.coroutine
def _drive(iterator: Any, frame: Frame, is_one_item: bool) -> Any:
    """Drive ``iterator`` (an awaitable's ``__await__`` iterator) with the frame's tag set
    during each step; yields what it yields (futures) to the event loop, forwards what the loop
    sends or throws in.

    ``is_one_item`` False: the iterator is the task's whole coroutine — its return ends the
    task, and closing this driver closes it and ends the task. True: it is one ``__anext__`` of
    an async generator task — its return is one item (the task goes on), ``StopAsyncIteration``
    ends the task, and everything thrown in (``GeneratorExit`` too) is passed to it."""
    to_send: Any = None
    to_throw: BaseException | None = None
    while True:
        enter_quietly(frame)
        try:
            if to_throw is not None:
                exc, to_throw = to_throw, None
                yielded = iterator.throw(exc)
            else:
                yielded = iterator.send(to_send)
        except StopIteration as stop:
            if is_one_item:
                leave_quietly(frame)
            else:
                end(frame, None)
            return stop.value
        except BaseException as exc:
            end(frame, None if is_one_item and isinstance(exc, StopAsyncIteration) else exc)
            raise
        leave_quietly(frame)
        try:
            to_send = yield yielded
        except BaseException as exc:  # e.g. CancelledError thrown in by the event loop
            if isinstance(exc, GeneratorExit) and not is_one_item:
                try:
                    iterator.close()
                finally:
                    enter_quietly(frame)
                    end(frame, None)
                raise
            to_throw = exc
            to_send = None


async def _tagged_coroutine(coro: Any, frame: Frame) -> Any:
    return await _drive(coro.__await__(), frame, False)


def _tagged_generator(gen: Any, frame: Frame) -> Any:
    """A generator task (``num_returns="streaming"``/``"dynamic"``): the body runs while Ray
    iterates, so each step runs with the task's tag."""
    # Invariant: transparent. Every value sent in and every exception thrown in reaches ``gen``
    # unchanged, and every item it yields or returns comes out unchanged: Ray's streaming executor
    # sends a StreamingGeneratorStats after each yield, and Ray Data's map tasks read it
    # (``gen_stats = yield block`` in map_operator.py; dropping it failed write_parquet).
    to_send: Any = None
    to_throw: BaseException | None = None
    try:
        while True:
            enter_quietly(frame)
            try:
                if to_throw is not None:
                    thrown, to_throw = to_throw, None
                    item = gen.throw(thrown)
                else:
                    item = gen.send(to_send)
            except StopIteration as stop:
                end(frame, None)
                return stop.value
            except BaseException as exc:
                end(frame, exc)
                raise
            leave_quietly(frame)
            try:
                to_send = yield item
            except GeneratorExit:
                raise
            except BaseException as exc:
                to_throw, to_send = exc, None
    finally:
        if not frame.ended:  # closed before exhaustion
            enter_quietly(frame)
            try:
                gen.close()
            finally:
                end(frame, None)


async def _tagged_async_generator(agen: Any, frame: Frame) -> Any:
    """An async generator actor method: each step (``__anext__``, ``asend``, ``athrow``) runs
    with the task's tag. Invariant: transparent, as ``_tagged_generator``."""
    to_send: Any = None
    to_throw: BaseException | None = None
    try:
        while True:
            step = agen.athrow(to_throw) if to_throw is not None else agen.asend(to_send)
            to_send, to_throw = None, None
            try:
                item = await _drive(step.__await__(), frame, True)
            except StopAsyncIteration:
                return
            try:
                to_send = yield item
            except GeneratorExit:
                raise
            except BaseException as exc:
                to_throw = exc
    finally:
        if not frame.ended:
            enter_quietly(frame)
            end(frame, None)
            try:
                await agen.aclose()
            except Exception:
                pass


_OWN_FRAME = '  File "%s"' % os.path.abspath(__file__)


def without_own_frames(text: str) -> str:
    """A formatted traceback without this module's frames (each ``File`` line of this file and the
    indented source and caret lines under it): a task's error reaches the user as without roar."""
    if _OWN_FRAME not in text:
        return text
    kept = []
    skipping = False
    for line in text.split("\n"):
        if line.startswith(_OWN_FRAME):
            skipping = True
            continue
        if skipping and line.startswith("    "):
            continue
        skipping = False
        kept.append(line)
    return "\n".join(kept)
