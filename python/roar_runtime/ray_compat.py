"""Ray compatibility: every private Ray name roar uses, resolved here and nowhere else.

Ray has no public API for what roar needs inside a worker (the callable a task executes, the
attempt being run, submissions made by a task), so roar patches a few private functions and
reads a few private attributes. Each is listed in ``PRIVATES`` with the Ray versions it is
known to work with; the rest of ``roar_runtime`` goes through the functions below and never
names a Ray private itself. When one is missing or has changed, ``report_unavailable`` is
called (the one place that says so; today it counts and, with ``ROAR_DEBUG``, prints) and the
caller degrades as before: the task runs unwrapped, the event is not written.

``ray`` is imported inside the functions that need it: importing this module costs nothing.
The patches never raise into Ray or the user's code: a failing callback is counted.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import spool

#: Set by ``ray job submit`` in the driver's environment: the job's config, ``runtime_env`` in it.
JOB_CONFIG_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"

#: The Ray versions roar has been run against (the test suite's Ray).
TESTED = "2.60"


@dataclass(frozen=True)
class Private:
    """One private Ray name: ``module`` and ``attribute`` (dotted; ``None`` for the module
    itself), the Ray versions it is known for, and what roar uses it for. ``static`` is False
    for attributes of objects that exist only at run time (checked where they are used)."""

    module: str
    attribute: str | None
    known: str
    use: str
    static: bool = True

    @property
    def name(self) -> str:
        return self.module + ("." + self.attribute if self.attribute else "")


PRIVATES: tuple[Private, ...] = (
    Private("ray._private.worker", "connect", TESTED, "install roar when a process connects as a worker"),
    Private("ray._private.worker", "global_worker", TESTED, "the worker's mode, core worker and node"),
    Private("ray._private.worker", "WORKER_MODE", TESTED, "tell a worker from a driver at connect"),
    Private("ray._private.worker", "init", TESTED, "the alias of ray.init patched with it"),
    Private("ray._private.worker", "shutdown", TESTED, "the alias of ray.shutdown patched with it"),
    Private("ray._private.worker", "Worker.record_task_log_start", TESTED, "the attempt number of a task"),
    Private("ray._private.worker", "Worker.record_task_log_end", TESTED, "the attempt number of a task"),
    Private(
        "ray._private.function_manager",
        "FunctionActorManager.get_execution_info",
        TESTED,
        "the callable every task, actor creation and actor method executes (FunctionExecutionInfo)",
    ),
    Private("ray.remote_function", "RemoteFunction._remote", TESTED, "task_submit of a task"),
    Private("ray.actor", "ActorHandle._actor_method_call", TESTED, "task_submit of an actor method call"),
    Private("ray.actor", "ActorClass._remote", TESTED, "task_submit of an actor creation"),
    Private("ray._common.utils", "load_class", TESTED, "run the user's string worker_process_setup_hook"),
    Private("ray._private.utils", "format_error_message", TESTED, "a task's traceback without roar's frames"),
    Private("ray._private.services", "canonicalize_bootstrap_address", TESTED, "does ray.init start Ray"),
    Private("ray._private.state", "jobs", TESTED, "node agents: has the driver's job died"),
    Private("ray.job_submission", "JobSubmissionClient._do_request", TESTED, "drain: the dashboard's log API"),
    Private("ray._raylet", "CoreWorker.get_current_task_id", TESTED, "the task being executed"),
    Private("ray._raylet", "CoreWorker.get_current_task_attempt_number", TESTED, "its attempt (sync tasks)"),
    Private("ray._raylet", "CoreWorker.get_actor_id", TESTED, "the actor of an actor task"),
    Private("ray._raylet", "CoreWorker.get_current_node_id", TESTED, "task_begin's node_id"),
    Private("ray._raylet", "CoreWorker.get_worker_id", TESTED, "task_begin's worker_id"),
    Private("ray._raylet", "CoreWorker.get_current_job_id", TESTED, "task_begin's job_id"),
    Private("ray._private.worker", "global_worker.node.get_logs_dir_path", TESTED, "collector spill", False),
    Private("ray.actor", "ActorHandle._ray_actor_id", TESTED, "the creation task id of an actor", False),
    Private("ray", "ObjectRefGenerator._generator_ref", TESTED, "the task id of a streaming call", False),
    Private(
        "ray.data._internal.util", "RetryingPyFileSystemHandler", TESTED,
        "Ray Data's S3 reads and writes through pyarrow (s3_arrow.py)",
    ),
)


#: Ray's own bookkeeping actors (statistics, autoscaling, memory tracing, actor placement): they
#: move no user data, so their calls are never jobs. Ray Data's ``_MapWorker`` is not among them:
#: it runs the user's class-based map function. Names as of Ray 2.60 (``ray.data._internal``).
BOOKKEEPING_ACTORS = frozenset(
    {
        "_StatsActor", "_StatsSummaryActor", "_MemActor", "_AutoscalingCoordinatorActor", "AutoscalingRequester",
        "ActorLocationTracker",
    }
)


class RayPrivateUnavailable(Exception):
    """A private Ray name roar relies on is missing or has changed."""


_reported: set[str] = set()


def report_unavailable(name: str, error: BaseException | None = None) -> None:
    """The one place a missing or changed Ray private is reported: counted, and once per name a
    ``runtime_issue`` event (docs/ray-events.md) that ``roar run`` turns into a warning naming it and
    what is not recorded, and ``roar status`` into lost coverage."""
    spool.count("ray_private_unavailable")
    detail = f": {error!r}" if error is not None else ""
    spool.debug(f"Ray private {name} is unavailable in this Ray (known for Ray {TESTED}){detail}")
    if name in _reported:
        return
    _reported.add(name)
    use = next((p.use for p in PRIVATES if p.name == name), "")
    ray = sys.modules.get("ray")
    event = {
        "event": "runtime_issue", "v": 1, "kind": "ray_private_unavailable", "name": name, "use": use,
        "known_for": TESTED, "ray_version": getattr(ray, "__version__", None),
    }
    spool.emit(json.dumps(event, separators=(",", ":")))
    spool.flush()


def _lookup(module: str, attribute: str | None) -> Any:
    value: Any = importlib.import_module(module)
    for part in attribute.split(".") if attribute else ():
        value = getattr(value, part)
    return value


def _resolve(module: str, attribute: str | None = None) -> Any:
    """Import ``module`` and follow ``attribute``; reported and raised when it is not there."""
    try:
        return _lookup(module, attribute)
    except (ImportError, AttributeError) as exc:
        name = module + ("." + attribute if attribute else "")
        report_unavailable(name, exc)
        raise RayPrivateUnavailable(name) from exc


def ray_data_filesystem_handler() -> Any | None:
    """Ray Data's wrapper of every filesystem it uses (``s3_arrow`` records through its methods); None,
    reported, when this Ray has none."""
    try:
        return _resolve("ray.data._internal.util", "RetryingPyFileSystemHandler")
    except RayPrivateUnavailable:
        return None


def unavailable() -> list[str]:
    """The names in ``PRIVATES`` that this Ray lacks (``static`` ones only). Imports Ray."""
    missing = []
    for private in PRIVATES:
        if not private.static:
            continue
        try:
            _lookup(private.module, private.attribute)
        except (ImportError, AttributeError):
            missing.append(private.name)
    return missing


def _is_ours(function: Any) -> bool:
    return bool(getattr(function, "__roar_wrapped__", False))


def _mark_ours(function: Any) -> Any:
    function.__roar_wrapped__ = True
    return function


# ---------------------------------------------------------------------------------------------
# driver side


def worker_module_if_imported() -> Any:
    """``ray._private.worker`` when Ray is imported (it holds aliases of ``ray.init``/``shutdown``)."""
    return sys.modules.get("ray._private.worker")


def starts_local_instance(address: Any, temp_dir: str | None) -> bool:
    """Whether ``ray.init(address, _temp_dir=temp_dir)`` starts a new local Ray instance."""
    services = _resolve("ray._private.services")
    return services.canonicalize_bootstrap_address(address, temp_dir) is None


def job_config_runtime_env() -> dict[str, Any] | None:
    """The ``runtime_env`` ``ray job submit`` gave this driver (``RAY_JOB_CONFIG_JSON_ENV_VAR``),
    ``{}`` when it gave none; ``None`` when this is not a submitted driver or it cannot be read."""
    raw = os.environ.get(JOB_CONFIG_ENV)
    if not raw:
        return None
    try:
        value = json.loads(raw).get("runtime_env") or {}
    except Exception:
        return None
    return value if isinstance(value, dict) else None


def is_submitted_driver() -> bool:
    """A driver run by ``ray job submit``: its workers are the cluster's."""
    return bool(os.environ.get(JOB_CONFIG_ENV))


def logs_dir() -> str:
    """This Ray process's node's logs folder (the dashboard's log API serves it)."""
    import ray

    return ray._private.worker.global_worker.node.get_logs_dir_path()  # type: ignore[no-any-return]


def jobs() -> list[dict[str, Any]]:
    """The cluster's jobs as ``ray._private.state.jobs()`` lists them (``JobID``, ``IsDead``, …)."""
    return _resolve("ray._private.state", "jobs")()  # type: ignore[no-any-return]


def dashboard_request(client: Any, method: str, endpoint: str) -> Any:
    """``JobSubmissionClient._do_request``: an authenticated request to the dashboard."""
    return client._do_request(method, endpoint)


# ---------------------------------------------------------------------------------------------
# worker side


def load_class(path: str) -> Any:
    """The object named by ``module.attribute`` (how Ray loads a string setup hook)."""
    return _resolve("ray._common.utils", "load_class")(path)


def on_worker_connect(callback: Callable[[], None]) -> None:
    """Run ``callback`` after this process connected to Ray (``ray._private.worker.connect``),
    whatever its mode; ``is_worker_process`` tells a worker. Idempotent."""
    ray_worker = _resolve("ray._private.worker")
    original = getattr(ray_worker, "connect", None)
    if original is None:
        report_unavailable("ray._private.worker.connect")
        return
    if _is_ours(original):
        return

    @functools.wraps(original)
    def connect(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        callback()
        return result

    ray_worker.connect = _mark_ours(connect)


def is_worker_process() -> bool:
    ray_worker = _resolve("ray._private.worker")
    return bool(ray_worker.global_worker.mode == ray_worker.WORKER_MODE)


@dataclass(frozen=True)
class FunctionName:
    """What a function descriptor names: ``class_name`` is empty for a plain remote function."""

    module: str
    class_name: str
    function: str


def wrap_executed_functions(wrap: Callable[[Callable[..., Any], FunctionName], Callable[..., Any]]) -> None:
    """Every callable this worker executes — a task, an actor's ``__init__``, an actor method —
    passes through ``wrap(function, name)`` once (Ray caches the result per descriptor):
    ``FunctionActorManager.get_execution_info`` returns ``FunctionExecutionInfo`` with
    ``function`` replaced. A failing ``wrap`` leaves the function as it was. Idempotent."""
    manager = _resolve("ray._private.function_manager", "FunctionActorManager")
    original = _resolve("ray._private.function_manager", "FunctionActorManager.get_execution_info")
    if _is_ours(original):
        return

    @functools.wraps(original)
    def get_execution_info(self: Any, job_id: Any, function_descriptor: Any) -> Any:
        info = original(self, job_id, function_descriptor)
        try:
            name = FunctionName(
                getattr(function_descriptor, "module_name", "") or "",
                getattr(function_descriptor, "class_name", "") or "",
                getattr(function_descriptor, "function_name", "") or "",
            )
            function = info.function
            wrapped = wrap(function, name)
            return info if wrapped is function else info._replace(function=wrapped)
        except Exception as exc:
            spool.count("wrap_failed")
            spool.debug(f"cannot wrap {function_descriptor!r}: {exc!r}")
            return info

    manager.get_execution_info = _mark_ours(get_execution_info)


def observe_task_attempts(started: Callable[[bytes, int], None], ended: Callable[[bytes], None]) -> None:
    """``started(task id, attempt)``/``ended(task id)`` around every execution
    (``Worker.record_task_log_start``/``_end``, which ``execute_task`` calls with the attempt
    number). Task ids are ``TaskID.binary()``. Idempotent."""
    worker_cls = _resolve("ray._private.worker", "Worker")
    start = _resolve("ray._private.worker", "Worker.record_task_log_start")
    end = _resolve("ray._private.worker", "Worker.record_task_log_end")
    if _is_ours(start):
        return

    @functools.wraps(start)
    def record_task_log_start(self: Any, task_id: Any, attempt_number: int) -> Any:
        try:
            started(task_id.binary(), attempt_number)
        except Exception:
            spool.count("attempt_stash_failed")
        return start(self, task_id, attempt_number)

    @functools.wraps(end)
    def record_task_log_end(self: Any, task_id: Any, attempt_number: int) -> Any:
        try:
            ended(task_id.binary())
        except Exception:
            pass
        return end(self, task_id, attempt_number)

    worker_cls.record_task_log_start = _mark_ours(record_task_log_start)
    worker_cls.record_task_log_end = record_task_log_end


def current_task_name() -> str | None:
    """The name Ray gives the task being executed (public API: ``get_runtime_context().get_task_name()``);
    Ray Data names its tasks by operator, e.g. ``MapBatches(normalize)->Write``."""
    try:
        import ray

        name = ray.get_runtime_context().get_task_name()
        return str(name) if name else None
    except Exception:
        spool.count("task_name_unavailable")
        return None


def filter_task_tracebacks(clean: Callable[[str], str]) -> None:
    """Every task exception's traceback text (``RayTaskError.traceback_str``, formatted in the
    worker by ``format_error_message``) passes through ``clean`` first, before Ray's own trimming
    (which drops lines by position). Idempotent."""
    utils = _resolve("ray._private.utils")
    original = _resolve("ray._private.utils", "format_error_message")
    if _is_ours(original):
        return

    @functools.wraps(original)
    def format_error_message(exception_message: str, *args: Any, **kwargs: Any) -> Any:
        try:
            exception_message = clean(exception_message)
        except Exception:
            spool.count("error_format_failed")
        return original(exception_message, *args, **kwargs)

    utils.format_error_message = _mark_ours(format_error_message)


def observe_submissions(submitted: Callable[[str, Callable[[], str | None]], None]) -> None:
    """``submitted(kind, child_task_id)`` after every submission this process makes: a task
    (``RemoteFunction._remote``), an actor method call (``ActorHandle._actor_method_call``),
    an actor creation (``ActorClass._remote``). ``kind`` is ``task``, ``actor_call`` or
    ``actor_init``; ``child_task_id()`` computes the submitted task's id (hex) when asked.
    Idempotent."""
    import ray

    remote_function_cls = _resolve("ray.remote_function", "RemoteFunction")
    actor_handle_cls = _resolve("ray.actor", "ActorHandle")
    actor_class_cls = _resolve("ray.actor", "ActorClass")

    def after(original: Callable[..., Any], kind: str, task_id_of: Callable[[Any], str | None]) -> Any:
        if _is_ours(original):
            return original

        @functools.wraps(original)
        def submit(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            try:
                submitted(kind, lambda: task_id_of(result))
            except Exception:
                spool.count("task_submit_failed")
            return result

        return _mark_ours(submit)

    def actor_creation_task_id(handle: Any) -> str | None:
        actor_id = getattr(handle, "_ray_actor_id", None)
        if actor_id is None:
            actor_id = getattr(getattr(handle, "_actor_handle", None), "_ray_actor_id", None)
        if actor_id is None:
            return None
        return ray.TaskID.for_actor_creation_task(actor_id).hex()  # type: ignore[no-any-return]

    remote_function_cls._remote = after(remote_function_cls._remote, "task", _task_id_of)
    actor_handle_cls._actor_method_call = after(actor_handle_cls._actor_method_call, "actor_call", _task_id_of)
    actor_class_cls._remote = after(actor_class_cls._remote, "actor_init", actor_creation_task_id)


def _task_id_of(result: Any) -> str | None:
    """The task id of what a submission returned: an ``ObjectRef``, a list of them
    (``num_returns`` > 1) or an ``ObjectRefGenerator`` (streaming)."""
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


def _hex_or_none(get: Callable[[], Any]) -> str | None:
    try:
        value = get()
        return None if value.is_nil() else value.hex()
    except Exception:
        return None


class CoreWorker:
    """This worker's core worker (``global_worker.core_worker``): the ids of what it runs. The
    getters are resolved once."""

    def __init__(self) -> None:
        ray_worker = _resolve("ray._private.worker")
        core_worker = ray_worker.global_worker.core_worker
        try:
            self._task_id = core_worker.get_current_task_id
            self.attempt_number: Callable[[], int] = core_worker.get_current_task_attempt_number
            self._actor_id = core_worker.get_actor_id
            self._node_id = core_worker.get_current_node_id
            self._worker_id = core_worker.get_worker_id
            self._job_id = core_worker.get_current_job_id
        except AttributeError as exc:
            report_unavailable("ray._raylet.CoreWorker getters", exc)
            raise RayPrivateUnavailable("ray._raylet.CoreWorker") from exc

    def current_task(self) -> tuple[str, bytes]:
        """The task being executed on this thread: its id in hex and binary."""
        task_id = self._task_id()
        return task_id.hex(), task_id.binary()

    def actor_id(self) -> str | None:
        """This worker's actor (hex), ``None`` when it is not an actor."""
        actor_id = self._actor_id()
        return None if actor_id.is_nil() else actor_id.hex()

    def node_id(self) -> str | None:
        return _hex_or_none(self._node_id)

    def worker_id(self) -> str | None:
        return _hex_or_none(self._worker_id)

    def job_id(self) -> str | None:
        return _hex_or_none(self._job_id)
