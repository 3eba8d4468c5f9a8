"""Task frames: which task a thread is running on behalf of, and its attribution tag.

A ``Frame`` is one execution of one task attempt on one thread. Entering it sets the thread's
tag (``ray:<task id>:<attempt>``, or ``ray-actor:<actor id>`` with per-actor attribution) so the
preload library attributes the I/O that follows; leaving it restores the previous tag
(``ray-system`` outside tasks). ``begin`` and ``finish`` write the ``task_begin`` and
``task_end`` events (docs/ray-events.md). ``current_parent`` says on whose behalf a thread
runs, for ``task_submit``.

Nothing here raises into user code: failures are counted (``spool.STATS``).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable

from . import config, ray_compat, spool

# Filled once per worker by ``bind``.
_core_worker: ray_compat.CoreWorker | None = None
_actor_attribution = config.PER_CALL
_worker_static = ""  # JSON fragment: node_id, worker_id, job_id, pid
_main_module: str | None = None
_actor_id_hex: str | None = None

# task id (binary) -> attempt number, set when Ray starts executing the task.
_attempts: dict[bytes, int] = {}

# Per thread: stack of frames of tasks executing on this thread.
_tls = threading.local()

# Bound once: the backend's functions (no per-call lookups).
_set_tag: Callable[[str], None] = spool.set_tag
_get_tag: Callable[[], str] = spool.get_tag
_emit: Callable[[str], None] = spool.emit
_flush: Callable[[], None] = spool.flush


def bind(backend: spool.Backend, core_worker: ray_compat.CoreWorker) -> None:
    """Called once per worker at install: the spool backend, Ray's core worker, ``roar run``'s
    settings."""
    global _set_tag, _get_tag, _emit, _flush, _core_worker, _actor_attribution, _main_module
    _set_tag = backend.set_tag
    _get_tag = backend.get_tag
    _emit = backend.emit
    _flush = backend.flush
    _core_worker = core_worker
    _actor_attribution = config.actor_attribution()
    _main_module = os.environ.get(config.MAIN_MODULE_ENV) or None


def set_tag(tag: str) -> None:
    _set_tag(tag)


def emit(json_text: str) -> None:
    _emit(json_text)


def flush() -> None:
    _flush()


def attempt_started(task_id: bytes, attempt: int) -> None:
    _attempts[task_id] = attempt


def attempt_ended(task_id: bytes) -> None:
    _attempts.pop(task_id, None)


# ---------------------------------------------------------------------------------------------
# what a task is


class TaskMeta:
    """Static facts about one remote function / actor method, computed once per worker."""

    __slots__ = ("kind", "function", "begin_prefix", "internal", "named_by_task")

    def __init__(self, kind: str, function: str) -> None:
        self.kind = kind
        self.function = function
        self.internal = False
        # Ray Data runs every operator through the same few functions (``_map_task``, ``_MapWorker``):
        # such a job is named by its Ray task name instead (``ReadCSV``, ``MapBatches(fn)->Write``).
        self.named_by_task = False
        # "kind" and "function": the same for every call.
        self.begin_prefix = '"kind":' + json.dumps(kind) + ',"function":' + json.dumps(function)


def meta_for(name: ray_compat.FunctionName) -> TaskMeta:
    module = name.module
    if module == "__main__" and _main_module:
        module = _main_module
    qualified = ".".join(p for p in (module, name.class_name, name.function) if p)
    if not name.class_name:
        kind = "task"
    elif name.function == "__init__":
        kind = "actor_init"
    else:
        kind = "actor_call"
    meta = TaskMeta(kind, qualified)
    # Ray's own methods, its bookkeeping actors and roar's own actors (collector, node agents) are never jobs.
    meta.internal = (
        name.function.startswith("__ray")
        or module.startswith("roar_runtime.")
        or (module.startswith("ray.") and name.class_name in ray_compat.BOOKKEEPING_ACTORS)
    )
    meta.named_by_task = module.startswith("ray.data.")
    return meta


def _static() -> str:
    """The worker's ids as a JSON fragment. A worker Ray prestarted has no job until it gets
    its first task, so this is computed at the first task and kept once the job is known."""
    global _worker_static
    if _worker_static:
        return _worker_static
    assert _core_worker is not None
    static = {
        "node_id": _core_worker.node_id(),
        "worker_id": _core_worker.worker_id(),
        "job_id": _core_worker.job_id(),
        "pid": os.getpid(),
    }
    fragment = json.dumps(static, separators=(",", ":"))[1:-1]
    if static["job_id"] is not None:
        _worker_static = fragment
    return fragment


# ---------------------------------------------------------------------------------------------
# frames


class Frame:
    __slots__ = ("task_id", "attempt", "tag", "meta", "ended", "prev")

    def __init__(self, task_id: str, attempt: int, tag: str, meta: TaskMeta) -> None:
        self.task_id = task_id
        self.attempt = attempt
        self.tag = tag
        self.meta = meta
        self.ended = False
        self.prev = ""


def _stack() -> list[Frame]:
    try:
        return _tls.stack  # type: ignore[no-any-return]
    except AttributeError:
        stack: list[Frame] = []
        _tls.stack = stack
        return stack


def _enter(frame: Frame) -> None:
    stack = _stack()
    frame.prev = _get_tag() if stack else spool.SYSTEM_TAG
    stack.append(frame)
    _set_tag(frame.tag)


def _leave(frame: Frame) -> None:
    stack = _stack()
    if stack and stack[-1] is frame:
        stack.pop()
    else:
        try:
            stack.remove(frame)
        except ValueError:
            pass
    _set_tag(frame.prev if stack else spool.SYSTEM_TAG)


def _new_frame(meta: TaskMeta) -> Frame:
    global _actor_id_hex
    cw = _core_worker
    assert cw is not None
    task_id, task_key = cw.current_task()
    attempt = _attempts.get(task_key)
    if attempt is None:
        attempt = cw.attempt_number()
    actor_id = None
    if meta.kind != "task":
        if _actor_id_hex is None:
            _actor_id_hex = cw.actor_id()
        actor_id = _actor_id_hex
    if actor_id is not None and _actor_attribution == config.PER_ACTOR:
        tag = "ray-actor:" + actor_id
    else:
        tag = "ray:%s:%d" % (task_id, attempt)
    return Frame(task_id, attempt, tag, meta)


def begin(meta: TaskMeta) -> Frame | None:
    """Enter a task: set the tag, emit ``task_begin``. ``None`` when it failed."""
    try:
        frame = _new_frame(meta)
        _enter(frame)
        actor = '"' + _actor_id_hex + '"' if (meta.kind != "task" and _actor_id_hex) else "null"
        prefix = meta.begin_prefix
        if meta.named_by_task:
            task_name = ray_compat.current_task_name()
            if task_name:
                prefix = '"kind":' + json.dumps(meta.kind) + ',"function":' + json.dumps(task_name)
        _emit(
            '{"event":"task_begin","v":1,"tag":"%s","task_id":"%s","attempt":%d,%s,%s,"actor_id":%s,'
            '"parent_task_id":null}' % (frame.tag, frame.task_id, frame.attempt, prefix, _static(), actor)
        )
        _flush()
        return frame
    except Exception as exc:
        spool.count("task_begin_failed")
        spool.debug(f"task_begin failed: {exc!r}")
        return None


def _finish(frame: Frame, exc: BaseException | None) -> None:
    """Emit ``task_end`` (the frame's tag must be set on this thread) once."""
    if frame.ended:
        return
    frame.ended = True
    try:
        if exc is None:
            status, error = "ok", "null"
        else:
            # SystemExit: the worker is exiting under the task — Ray's own exit of a worker whose
            # driver died, ``exit_actor()``, ``sys.exit`` in the task: the job is ``killed``.
            status = "killed" if isinstance(exc, SystemExit) else "failed"
            error = json.dumps(_describe(exc))
        _emit(
            '{"event":"task_end","v":1,"tag":"%s","task_id":"%s","attempt":%d,"status":"%s","error":%s}'
            % (frame.tag, frame.task_id, frame.attempt, status, error)
        )
        _flush()
    except Exception as err:
        spool.count("task_end_failed")
        spool.debug(f"task_end failed: {err!r}")


def _describe(exc: BaseException) -> str:
    try:
        message = str(exc)
    except Exception:
        message = "<unprintable>"
    name = type(exc).__qualname__
    return f"{name}: {message}" if message else name


def end(frame: Frame, exc: BaseException | None) -> None:
    """Emit ``task_end`` (once) and leave the frame; ``exc`` is what the task raised."""
    try:
        _finish(frame, exc)
        _leave(frame)
    except Exception:
        spool.count("task_leave_failed")


def leave_quietly(frame: Frame) -> None:
    """Leave the frame (the task goes on later: a suspended coroutine or generator)."""
    try:
        _leave(frame)
    except Exception:
        spool.count("task_leave_failed")


def enter_quietly(frame: Frame) -> None:
    """Re-enter the frame (a suspended task resumes)."""
    try:
        _enter(frame)
    except Exception:
        spool.count("task_enter_failed")


def current_parent() -> tuple[str, int] | None:
    """(task id, attempt) of the task on whose behalf this thread runs, if any."""
    stack = getattr(_tls, "stack", None)
    if stack:
        frame = stack[-1]
        return frame.task_id, frame.attempt
    # A thread the task started: it inherited the task's tag from the preload library.
    tag = _get_tag()
    if tag.startswith("ray:"):
        parts = tag.split(":")
        if len(parts) == 3:
            try:
                return parts[1], int(parts[2])
            except ValueError:
                return None
    return None
