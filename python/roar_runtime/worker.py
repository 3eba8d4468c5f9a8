"""Worker side: task boundaries.

``setup_hook`` is the job's ``worker_process_setup_hook``; Ray runs it in every worker process
after the worker connected and before it executes any task (``default_worker.py``). It:

- sets the worker's own tag to ``ray-system`` (Ray's I/O outside tasks is not the user's);
- patches ``FunctionActorManager.get_execution_info``. In Ray 2.60 every task execution
  (``_raylet.pyx: execute_task``) obtains the callable to run from it — normal tasks, actor
  creation (``__init__``) and every actor method (the ``actor_method_executor`` closures of
  ``_make_actor_method_executor``) — and caches the result per function descriptor. We return
  the same ``FunctionExecutionInfo`` with ``function`` wrapped, so every remote function and
  actor method that executes in this worker is covered, including ones defined dynamically,
  loaded from GCS or by ``load_code_from_local``, with no driver-side wrapping at ``ray.remote``.
  The wrapper runs on the thread that executes the user's code: the main thread for tasks and
  sync actors, the pool thread for threaded actors, and (for async actors) inside the actor's
  event loop, where it wraps the coroutine so the tag is set on every resumption;
- patches ``Worker.record_task_log_start``/``_end``, which ``execute_task`` calls around every
  execution with the task id and attempt number, to learn the attempt number of the task being
  run (``CoreWorker.get_current_task_attempt_number`` reads a thread-local that is not set in
  an async actor's event loop thread);
- patches task submission (``RemoteFunction._remote``, ``ActorHandle._actor_method_call``,
  ``ActorClass._remote``) to emit ``task_submit`` when a task submits another one: Ray 2.60
  exposes no parent task id to the child, so the parent link is recorded by the parent.

Hooks never raise into user code: failures are counted (``spool.STATS``) and the task runs
unwrapped.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import sys
import threading
import types
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import config, spool

_installed = False
_install_lock = threading.Lock()

# Filled once per worker at install.
_core_worker: Any = None
_actor_attribution = config.PER_CALL
_worker_static = ""  # JSON fragment: node_id, worker_id, job_id, pid
_main_module: Optional[str] = None

# task id (binary) -> attempt number, set by record_task_log_start for the task being executed.
_attempts: Dict[bytes, int] = {}

# Per thread: stack of frames of tasks executing on this thread.
_tls = threading.local()

# Bound once: the backend's functions (no per-call lookups).
_set_tag: Callable[[str], None] = spool.set_tag
_get_tag: Callable[[], str] = spool.get_tag
_emit: Callable[[str], None] = spool.emit
_flush: Callable[[], None] = spool.flush


def setup_hook() -> None:
    """``runtime_env["worker_process_setup_hook"]``: install roar in this worker, then run the
    user's own hook (``ROAR_CHAINED_SETUP_HOOK``), whose errors propagate as they would
    without roar."""
    try:
        from . import boot

        boot.install_s3_capture()  # workers started by Ray on a cluster have no roar sitecustomize
        if config.ray_enabled():
            install()
    except Exception as exc:
        spool.count("worker_install_failed")
        _debug(f"worker install failed: {exc!r}")
    chained = os.environ.get(config.CHAINED_HOOK_ENV)
    if chained:
        from ray._common.utils import load_class

        load_class(chained)()


def install_connect_hook(ray: types.ModuleType) -> None:
    """Install roar in this process when it connects to Ray as a worker: the path that covers
    workers which inherited ``roar run``'s environment (local clusters started by the traced
    driver) without any ``runtime_env``. The setup hook is the path for the others."""
    from ray._private import worker as ray_worker

    original = getattr(ray_worker, "connect", None)
    if original is None or getattr(original, "__roar_wrapped__", False):
        return

    @functools.wraps(original)
    def connect(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        try:
            if ray_worker.global_worker.mode == ray_worker.WORKER_MODE and config.ray_enabled():
                install()
        except Exception as exc:
            spool.count("worker_install_failed")
            _debug(f"worker install failed: {exc!r}")
        return result

    connect.__roar_wrapped__ = True  # type: ignore[attr-defined]
    ray_worker.connect = connect


def install() -> None:
    global _installed, _core_worker, _actor_attribution, _worker_static, _main_module
    global _set_tag, _get_tag, _emit, _flush
    with _install_lock:
        if _installed:
            return
        import ray
        from ray._private import function_manager
        from ray._private import worker as ray_worker

        backend = spool.backend()
        _set_tag = backend.set_tag  # type: ignore[attr-defined]
        _get_tag = backend.get_tag  # type: ignore[attr-defined]
        _emit = backend.emit  # type: ignore[attr-defined]
        _flush = backend.flush  # type: ignore[attr-defined]
        _set_tag(spool.SYSTEM_TAG)

        gw = ray_worker.global_worker
        _core_worker = gw.core_worker
        _actor_attribution = config.actor_attribution()
        _main_module = os.environ.get(config.MAIN_MODULE_ENV) or None

        _patch_execution_info(function_manager.FunctionActorManager)
        _patch_task_log(ray_worker.Worker)
        _patch_submission(ray)
        atexit.register(_at_exit)
        _installed = True


def _static() -> str:
    """The worker's ids as a JSON fragment. A worker Ray prestarted has no job until it gets
    its first task, so this is computed at the first task and kept once the job is known."""
    global _worker_static
    if _worker_static:
        return _worker_static
    static = {
        "node_id": _safe_hex(lambda: _core_worker.get_current_node_id()),
        "worker_id": _safe_hex(lambda: _core_worker.get_worker_id()),
        "job_id": _safe_hex(lambda: _core_worker.get_current_job_id()),
        "pid": os.getpid(),
    }
    fragment = json.dumps(static, separators=(",", ":"))[1:-1]
    if static["job_id"] is not None:
        _worker_static = fragment
    return fragment


def _safe_hex(get: Callable[[], Any]) -> Optional[str]:
    try:
        value = get()
        return None if value.is_nil() else value.hex()
    except Exception:
        return None


# ---------------------------------------------------------------------------------------------
# what to wrap


class _Meta:
    """Static facts about one remote function / actor method, computed once per worker."""

    __slots__ = ("kind", "function", "begin_prefix", "internal")

    def __init__(self, kind: str, function: str) -> None:
        self.kind = kind
        self.function = function
        self.internal = False
        # "kind" and "function": the same for every call.
        self.begin_prefix = '"kind":' + json.dumps(kind) + ',"function":' + json.dumps(function)


def _meta_for(descriptor: Any) -> _Meta:
    module = getattr(descriptor, "module_name", "") or ""
    cls = getattr(descriptor, "class_name", "") or ""
    name = getattr(descriptor, "function_name", "") or ""
    if module == "__main__" and _main_module:
        module = _main_module
    qualified = ".".join(p for p in (module, cls, name) if p)
    if not cls:
        kind = "task"
    elif name == "__init__":
        kind = "actor_init"
    else:
        kind = "actor_call"
    meta = _Meta(kind, qualified)
    # Ray's own methods and roar's own actors (collector, node agents) are never jobs.
    meta.internal = name.startswith("__ray") or module.startswith("roar_runtime.")
    return meta


def _patch_execution_info(manager_cls: type) -> None:
    original = manager_cls.get_execution_info
    if getattr(original, "__roar_wrapped__", False):
        return

    @functools.wraps(original)
    def get_execution_info(self: Any, job_id: Any, function_descriptor: Any) -> Any:
        info = original(self, job_id, function_descriptor)
        try:
            fn = info.function
            if getattr(fn, "__roar_task__", False):
                return info
            meta = _meta_for(function_descriptor)
            if meta.internal:
                return info
            return info._replace(function=_wrap_task_function(fn, meta))
        except Exception as exc:
            spool.count("wrap_failed")
            _debug(f"cannot wrap {function_descriptor!r}: {exc!r}")
            return info

    get_execution_info.__roar_wrapped__ = True  # type: ignore[attr-defined]
    manager_cls.get_execution_info = get_execution_info


def _patch_task_log(worker_cls: type) -> None:
    start = worker_cls.record_task_log_start
    end = worker_cls.record_task_log_end
    if getattr(start, "__roar_wrapped__", False):
        return

    @functools.wraps(start)
    def record_task_log_start(self: Any, task_id: Any, attempt_number: int) -> Any:
        try:
            _attempts[task_id.binary()] = attempt_number
        except Exception:
            spool.count("attempt_stash_failed")
        return start(self, task_id, attempt_number)

    @functools.wraps(end)
    def record_task_log_end(self: Any, task_id: Any, attempt_number: int) -> Any:
        try:
            _attempts.pop(task_id.binary(), None)
        except Exception:
            pass
        return end(self, task_id, attempt_number)

    record_task_log_start.__roar_wrapped__ = True  # type: ignore[attr-defined]
    worker_cls.record_task_log_start = record_task_log_start
    worker_cls.record_task_log_end = record_task_log_end


# ---------------------------------------------------------------------------------------------
# task frames


class _Frame:
    __slots__ = ("task_id", "attempt", "tag", "meta", "ended", "prev")

    def __init__(self, task_id: str, attempt: int, tag: str, meta: _Meta) -> None:
        self.task_id = task_id
        self.attempt = attempt
        self.tag = tag
        self.meta = meta
        self.ended = False
        self.prev = ""


def _stack() -> List[_Frame]:
    try:
        return _tls.stack  # type: ignore[no-any-return]
    except AttributeError:
        stack: List[_Frame] = []
        _tls.stack = stack
        return stack


def _enter(frame: _Frame) -> None:
    stack = _stack()
    frame.prev = _get_tag() if stack else spool.SYSTEM_TAG
    stack.append(frame)
    _set_tag(frame.tag)


def _leave(frame: _Frame) -> None:
    stack = _stack()
    if stack and stack[-1] is frame:
        stack.pop()
    else:
        try:
            stack.remove(frame)
        except ValueError:
            pass
    _set_tag(frame.prev if stack else spool.SYSTEM_TAG)


def _new_frame(meta: _Meta) -> _Frame:
    cw = _core_worker
    tid = cw.get_current_task_id()
    task_id = tid.hex()
    attempt = _attempts.get(tid.binary())
    if attempt is None:
        attempt = cw.get_current_task_attempt_number()
    actor_id = None
    if meta.kind != "task":
        actor_id = _actor_hex()
    if actor_id is not None and _actor_attribution == config.PER_ACTOR:
        tag = "ray-actor:" + actor_id
    else:
        tag = "ray:%s:%d" % (task_id, attempt)
    return _Frame(task_id, attempt, tag, meta)


_actor_id_hex: Optional[str] = None


def _actor_hex() -> Optional[str]:
    global _actor_id_hex
    if _actor_id_hex is None:
        aid = _core_worker.get_actor_id()
        if aid.is_nil():
            return None
        _actor_id_hex = aid.hex()
    return _actor_id_hex


def _begin(meta: _Meta) -> Optional[_Frame]:
    """Enter a task: set the tag, emit ``task_begin``. ``None`` when it failed."""
    try:
        frame = _new_frame(meta)
        _enter(frame)
        actor = '"' + _actor_id_hex + '"' if (meta.kind != "task" and _actor_id_hex) else "null"
        _emit(
            '{"event":"task_begin","v":1,"tag":"%s","task_id":"%s","attempt":%d,%s,%s,"actor_id":%s,"parent_task_id":null}'
            % (frame.tag, frame.task_id, frame.attempt, meta.begin_prefix, _static(), actor)
        )
        _flush()
        return frame
    except Exception as exc:
        spool.count("task_begin_failed")
        _debug(f"task_begin failed: {exc!r}")
        return None


def _finish(frame: _Frame, exc: Optional[BaseException]) -> None:
    """Emit ``task_end`` (the frame's tag must be set on this thread) once."""
    if frame.ended:
        return
    frame.ended = True
    try:
        if exc is None:
            status, error = "ok", "null"
        else:
            status = "failed"
            error = json.dumps(_describe(exc))
        _emit(
            '{"event":"task_end","v":1,"tag":"%s","task_id":"%s","attempt":%d,"status":"%s","error":%s}'
            % (frame.tag, frame.task_id, frame.attempt, status, error)
        )
        _flush()
    except Exception as err:
        spool.count("task_end_failed")
        _debug(f"task_end failed: {err!r}")


def _describe(exc: BaseException) -> str:
    try:
        message = str(exc)
    except Exception:
        message = "<unprintable>"
    name = type(exc).__qualname__
    return f"{name}: {message}" if message else name


def _end(frame: _Frame, exc: Optional[BaseException]) -> None:
    try:
        _finish(frame, exc)
        _leave(frame)
    except Exception:
        spool.count("task_leave_failed")


def _leave_quietly(frame: _Frame) -> None:
    try:
        _leave(frame)
    except Exception:
        spool.count("task_leave_failed")


def _enter_quietly(frame: _Frame) -> None:
    try:
        _enter(frame)
    except Exception:
        spool.count("task_enter_failed")


# ---------------------------------------------------------------------------------------------
# the wrappers


def _wrap_task_function(fn: Callable[..., Any], meta: _Meta) -> Callable[..., Any]:
    def roar_task(*args: Any, **kwargs: Any) -> Any:
        frame = _begin(meta)
        if frame is None:
            return fn(*args, **kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            _end(frame, exc)
            raise
        try:
            kind = _result_kind(result)
        except Exception:
            kind = None
        if kind is None:
            _end(frame, None)
            return result
        # The body runs later, step by step: leave now, re-enter on every step.
        _leave_quietly(frame)
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


def _result_kind(result: Any) -> Optional[str]:
    if isinstance(result, types.CoroutineType):
        return "coroutine"
    if isinstance(result, types.GeneratorType):
        return "generator"
    if isinstance(result, types.AsyncGeneratorType):
        return "async_generator"
    return None


@types.coroutine
def _step_tagged(iterator: Any, frame: _Frame) -> Any:
    """Drive ``iterator`` (a coroutine's ``__await__`` iterator) with the frame's tag set
    during each step; ``task_end`` when it finishes. Yields what it yields (futures) to the
    event loop."""
    to_send: Any = None
    to_throw: Optional[BaseException] = None
    while True:
        _enter_quietly(frame)
        try:
            if to_throw is not None:
                exc, to_throw = to_throw, None
                yielded = iterator.throw(exc)
            else:
                yielded = iterator.send(to_send)
        except StopIteration as stop:
            _end(frame, None)
            return stop.value
        except BaseException as exc:
            _end(frame, exc)
            raise
        _leave_quietly(frame)
        try:
            to_send = yield yielded
        except GeneratorExit:
            try:
                iterator.close()
            finally:
                _enter_quietly(frame)
                _end(frame, None)
            raise
        except BaseException as exc:  # e.g. CancelledError thrown in by the event loop
            to_throw = exc
            to_send = None


async def _tagged_coroutine(coro: Any, frame: _Frame) -> Any:
    return await _step_tagged(coro.__await__(), frame)


def _tagged_generator(gen: Any, frame: _Frame) -> Any:
    """A generator task (``num_returns="streaming"``/``"dynamic"``): the body runs while Ray
    iterates, so each ``next`` runs with the task's tag."""
    try:
        while True:
            _enter_quietly(frame)
            try:
                item = next(gen)
            except StopIteration as stop:
                _end(frame, None)
                return stop.value
            except BaseException as exc:
                _end(frame, exc)
                raise
            _leave_quietly(frame)
            yield item
    finally:
        if not frame.ended:  # closed before exhaustion
            _enter_quietly(frame)
            try:
                gen.close()
            finally:
                _end(frame, None)


async def _tagged_async_generator(agen: Any, frame: _Frame) -> Any:
    try:
        while True:
            try:
                item = await _step_tagged_anext(agen, frame)
            except StopAsyncIteration:
                return
            yield item
    finally:
        if not frame.ended:
            _enter_quietly(frame)
            _end(frame, None)
            try:
                await agen.aclose()
            except Exception:
                pass


@types.coroutine
def _step_tagged_anext(agen: Any, frame: _Frame) -> Any:
    iterator = agen.__anext__().__await__()
    to_send: Any = None
    to_throw: Optional[BaseException] = None
    while True:
        _enter_quietly(frame)
        try:
            if to_throw is not None:
                exc, to_throw = to_throw, None
                yielded = iterator.throw(exc)
            else:
                yielded = iterator.send(to_send)
        except StopIteration as stop:
            _leave_quietly(frame)
            return stop.value
        except StopAsyncIteration:
            _end(frame, None)
            raise
        except BaseException as exc:
            _end(frame, exc)
            raise
        _leave_quietly(frame)
        try:
            to_send = yield yielded
        except BaseException as exc:
            to_throw = exc
            to_send = None


# ---------------------------------------------------------------------------------------------
# parent links


def _current_parent() -> Optional[Tuple[str, int]]:
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


def _emit_submit(child_task_id: Optional[str], kind: str) -> None:
    if not child_task_id:
        return
    parent = _current_parent()
    if parent is None:
        return
    _emit(
        '{"event":"task_submit","v":1,"task_id":"%s","kind":"%s","parent_task_id":"%s","parent_attempt":%d}'
        % (child_task_id, kind, parent[0], parent[1])
    )


def _task_id_of(result: Any) -> Optional[str]:
    ref = result
    if isinstance(ref, (list, tuple)):
        if not ref:
            return None
        ref = ref[0]
    get = getattr(ref, "task_id", None)
    if get is None:
        inner = getattr(ref, "_generator_ref", None)
        get = getattr(inner, "task_id", None)
    if get is None:
        return None
    return get().hex()  # type: ignore[no-any-return]


def _patch_submission(ray: types.ModuleType) -> None:
    from ray import actor as ray_actor
    from ray import remote_function

    def after(original: Callable[..., Any], kind: str, task_id_of: Callable[[Any], Optional[str]]) -> Callable[..., Any]:
        if getattr(original, "__roar_wrapped__", False):
            return original

        @functools.wraps(original)
        def submit(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            try:
                if getattr(_tls, "stack", None) or _get_tag().startswith("ray:"):
                    _emit_submit(task_id_of(result), kind)
            except Exception:
                spool.count("task_submit_failed")
            return result

        submit.__roar_wrapped__ = True  # type: ignore[attr-defined]
        return submit

    def actor_creation_task_id(handle: Any) -> Optional[str]:
        actor_id = getattr(handle, "_ray_actor_id", None)
        if actor_id is None:
            actor_id = getattr(getattr(handle, "_actor_handle", None), "_ray_actor_id", None)
        if actor_id is None:
            return None
        return ray.TaskID.for_actor_creation_task(actor_id).hex()  # type: ignore[no-any-return]

    remote_function.RemoteFunction._remote = after(remote_function.RemoteFunction._remote, "task", _task_id_of)
    ray_actor.ActorHandle._actor_method_call = after(ray_actor.ActorHandle._actor_method_call, "actor_call", _task_id_of)
    ray_actor.ActorClass._remote = after(ray_actor.ActorClass._remote, "actor_init", actor_creation_task_id)


# ---------------------------------------------------------------------------------------------


def _at_exit() -> None:
    try:
        if spool.STATS:
            _emit(
                json.dumps(
                    {"event": "runtime_stats", "v": 1, "pid": os.getpid(), "counters": dict(spool.STATS)},
                    separators=(",", ":"),
                )
            )
        _flush()
    except Exception:
        pass


def _debug(message: str) -> None:
    if os.environ.get("ROAR_DEBUG"):
        sys.stderr.write(f"roar: {message}\n")
