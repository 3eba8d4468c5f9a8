"""Driver side: ``ray.init``/``ray.shutdown`` patches.

``ray.init`` gets a ``runtime_env`` that carries roar to every worker of the job:

- ``worker_process_setup_hook`` = ``roar_runtime.worker.setup_hook`` (a user's hook runs after
  ours: a string one through ``ROAR_CHAINED_SETUP_HOOK``, a callable one wrapped in a closure);
- ``py_executable`` = ``$ROAR_WORKER`` (the ``roar-worker`` launcher, which puts the preload
  library in place and execs ``$ROAR_WORKER_PYTHON``) unless the user set one;
- ``env_vars``: every ``ROAR_*`` variable, ``ROAR_TAG=ray-system``, ``ROAR_WORKER_PYTHON``,
  ``PYTHONPATH`` with roar's folder in front, ``LD_PRELOAD`` with the preload library.

The user's keys are kept; ``env_vars`` are merged (the user's values win, except that roar's
folder is put in front of their ``PYTHONPATH`` and the preload library into their
``LD_PRELOAD``). Working dir, pip, py_modules are never touched.

``ray.init`` itself runs with this thread's tag set to ``ray-system``, so the processes it
starts (GCS, raylet, dashboard, ...) inherit ``ROAR_TAG=ray-system`` and their I/O is not
attributed to the user's command.
"""

from __future__ import annotations

if __name__ == "__main__":
    # ``python -m roar_runtime.driver -- <entrypoint…>``, roar's rewrite of a ``ray job submit``
    # entrypoint (docs/ray-submit.md). Handled by ``roar_runtime.driver_main`` before anything
    # else here runs: the patches below then live only in the module ``roar_runtime.driver``
    # (not in a ``__main__`` copy of it), and a broken roar module cannot keep the entrypoint
    # from running.
    import sys as _sys

    from roar_runtime.driver_main import main as _main

    _sys.exit(_main())

import atexit
import json
import os
import shlex
import sys
import threading
import types
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import config, ray_compat, spool

_installed = False
_lock = threading.Lock()
_original_init: Optional[Callable[..., Any]] = None
_original_shutdown: Optional[Callable[..., Any]] = None
_atexit_registered = False


def install(ray: types.ModuleType) -> None:
    """Patch ``ray.init``/``ray.shutdown`` (idempotent)."""
    global _installed, _original_init, _original_shutdown
    with _lock:
        if _installed or not config.ray_enabled():
            return
        worker_mod = ray_compat.worker_module_if_imported()
        original_init = getattr(ray, "init", None)
        original_shutdown = getattr(ray, "shutdown", None)
        if original_init is None or getattr(original_init, "__roar_wrapped__", False):
            _installed = True
            return
        _original_init = original_init
        _original_shutdown = original_shutdown

        def init(*args: Any, **kwargs: Any) -> Any:
            return _init(*args, **kwargs)

        init.__roar_wrapped__ = True  # type: ignore[attr-defined]
        init.__wrapped__ = original_init  # type: ignore[attr-defined]
        init.__doc__ = original_init.__doc__
        init.__name__ = "init"
        ray.init = init
        if worker_mod is not None and getattr(worker_mod, "init", None) is original_init:
            worker_mod.init = init

        if original_shutdown is not None:

            def shutdown(*args: Any, **kwargs: Any) -> Any:
                return _shutdown(*args, **kwargs)

            shutdown.__roar_wrapped__ = True  # type: ignore[attr-defined]
            shutdown.__wrapped__ = original_shutdown  # type: ignore[attr-defined]
            shutdown.__doc__ = original_shutdown.__doc__
            shutdown.__name__ = "shutdown"
            ray.shutdown = shutdown
            if worker_mod is not None and getattr(worker_mod, "shutdown", None) is original_shutdown:
                worker_mod.shutdown = shutdown
        _installed = True


# ---------------------------------------------------------------------------------------------
# runtime_env merge


def _main_module_name() -> Optional[str]:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path:
        return None
    spec = getattr(main, "__spec__", None)
    if spec is not None and getattr(spec, "name", None):
        return spec.name  # python -m pkg.mod
    return os.path.splitext(os.path.basename(path))[0]


def _prepend_path_list(front: List[str], existing: Optional[str]) -> str:
    parts = [p for p in front if p]
    for p in (existing or "").split(":"):
        if p and p not in parts:
            parts.append(p)
    return ":".join(parts)


def _roar_env_vars() -> Dict[str, str]:
    """The environment roar's workers need."""
    env: Dict[str, str] = {}
    for key, value in os.environ.items():
        if key.startswith("ROAR_") and key not in ("ROAR_TAG", config.CHAINED_HOOK_ENV):
            env[key] = value
    env["ROAR_TAG"] = spool.SYSTEM_TAG
    env["ROAR_WORKER_PYTHON"] = sys.executable
    main_module = _main_module_name()
    if main_module:
        env[config.MAIN_MODULE_ENV] = main_module
    env["PYTHONPATH"] = _prepend_path_list([config.python_dir()], os.environ.get("PYTHONPATH"))
    preload = os.environ.get("ROAR_PRELOAD", "")
    ld_preload = os.environ.get("LD_PRELOAD", "")
    if preload or ld_preload:
        env["LD_PRELOAD"] = _prepend_path_list([preload], ld_preload)
    return env


def _is_our_hook(hook: Any) -> bool:
    return hook == config.SETUP_HOOK or getattr(hook, "__roar_chained__", False)


def _chained_callable_hook(user_hook: Callable[[], Any]) -> Callable[[], Any]:
    def roar_chained_setup_hook() -> Any:
        from roar_runtime.worker import setup_hook

        setup_hook()
        return user_hook()

    roar_chained_setup_hook.__roar_chained__ = True  # type: ignore[attr-defined]
    return roar_chained_setup_hook


def _worker_launcher(address: Optional[str]) -> Optional[str]:
    launcher = os.environ.get("ROAR_WORKER", "")
    if not launcher or not os.path.isfile(launcher) or not os.access(launcher, os.X_OK):
        return None
    if address and str(address).startswith("ray://"):
        return None  # a host path means nothing on a remote cluster (client mode)
    return launcher


def merge_runtime_env(
    user_env: Optional[Dict[str, Any]],
    address: Optional[str] = None,
    reserved: Optional[Dict[str, Any]] = None,
) -> Tuple[Dict[str, Any], List[str]]:
    """Return ``(runtime_env, keys roar set)`` for ``ray.init``.

    ``reserved`` is a runtime_env that Ray will merge with ours and that must not be
    contradicted (the one injected by ``ray job submit``): keys and env vars it sets are left
    alone, as Ray refuses conflicting ones.
    """
    env: Dict[str, Any] = dict(user_env or {})
    reserved = reserved or {}
    reserved_vars: Dict[str, Any] = dict(reserved.get("env_vars") or {})
    touched: List[str] = []

    user_vars = dict(env.get("env_vars") or {})
    ours = _roar_env_vars()
    merged_vars: Dict[str, str] = dict(user_vars)
    for key, value in ours.items():
        if key in reserved_vars:
            continue
        if key == "PYTHONPATH" and key in user_vars:
            merged_vars[key] = _prepend_path_list([config.python_dir()], str(user_vars[key]))
        elif key == "LD_PRELOAD" and key in user_vars:
            merged_vars[key] = _prepend_path_list([os.environ.get("ROAR_PRELOAD", "")], str(user_vars[key]))
        elif key not in user_vars:
            merged_vars[key] = value

    hook = env.get("worker_process_setup_hook")
    reserved_hook = reserved.get("worker_process_setup_hook")
    if reserved_hook is not None:
        pass  # the job's own runtime_env decides (roar's job submit rewrite puts ours there)
    elif hook is None:
        env["worker_process_setup_hook"] = config.SETUP_HOOK
        touched.append("worker_process_setup_hook")
    elif _is_our_hook(hook):
        pass
    elif isinstance(hook, str):
        env["worker_process_setup_hook"] = config.SETUP_HOOK
        merged_vars[config.CHAINED_HOOK_ENV] = hook
        touched.append("worker_process_setup_hook")
    elif callable(hook):
        env["worker_process_setup_hook"] = _chained_callable_hook(hook)
        touched.append("worker_process_setup_hook")

    launcher = _worker_launcher(address)
    if launcher and "py_executable" not in env and "py_executable" not in reserved:
        if not any(k in env for k in ("conda", "pip", "uv", "container", "image_uri")):
            env["py_executable"] = shlex.quote(launcher)
            touched.append("py_executable")

    env["env_vars"] = merged_vars
    touched.append("env_vars")
    return env, touched


def _injected_job_runtime_env() -> Dict[str, Any]:
    return ray_compat.job_config_runtime_env() or {}


# ---------------------------------------------------------------------------------------------
# patched functions


def _already_connected() -> bool:
    try:
        import ray

        return bool(ray.is_initialized())
    except Exception:
        return False


def _init(*args: Any, **kwargs: Any) -> Any:
    assert _original_init is not None
    if _already_connected() or not config.ray_enabled():
        return _original_init(*args, **kwargs)

    touched: List[str] = []
    mode = "merge"
    try:
        address = args[0] if args else kwargs.get("address")
        if _inherits_environment(address, kwargs.get("_temp_dir")):
            mode = "inherit"
    except Exception as exc:
        spool.count("runtime_env_mode_failed")
        spool.debug(f"cannot tell whether ray.init starts a local instance: {exc!r}")
    try:
        if mode == "merge":
            _merge_into(args, kwargs, touched)
    except Exception as exc:
        spool.count("runtime_env_merge_failed")
        spool.debug(f"runtime_env merge failed: {exc!r}")

    try:
        _ignore_interpreter_trees()
    except Exception:
        spool.count("ignore_extend_failed")

    previous = spool.get_tag()
    spool.set_tag(spool.SYSTEM_TAG)
    try:
        context = _original_init(*args, **kwargs)
    finally:
        spool.set_tag(previous)

    _after_init(context, touched, mode)
    return context


def _ignore_interpreter_trees() -> None:
    """Add this interpreter's trees (``sys.prefix`` — a virtualenv roar cannot see from
    ``PATH`` — and its site-packages) to ``ROAR_IGNORE`` before Ray starts its processes: every
    Ray process imports thousands of library files, which are never lineage and which the
    preload library then does not even record. Only under ``roar run`` (``ROAR_IGNORE`` set)."""
    current = os.environ.get("ROAR_IGNORE")
    if current is None:
        return
    import site

    prefixes = [p for p in current.split(":") if p]
    candidates = [sys.prefix, sys.exec_prefix, sys.base_prefix]
    try:
        candidates += site.getsitepackages()
    except Exception:
        pass
    added = False
    for candidate in candidates:
        path = os.path.normpath(os.path.abspath(candidate)) if candidate else ""
        if not path or path == "/":
            continue
        if any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes):
            continue
        prefixes.append(path)
        added = True
    if added:
        os.environ["ROAR_IGNORE"] = ":".join(prefixes)


def _inherits_environment(address: Any, temp_dir: Optional[str]) -> bool:
    """Whether this ``ray.init`` starts a new local Ray instance as children of this process:
    then GCS, raylet and every worker inherit ``roar run``'s environment (``LD_PRELOAD``,
    ``PYTHONPATH``, ``ROAR_*``) and workers install roar themselves when they connect, so
    no ``runtime_env`` is needed — a job ``runtime_env`` would keep Ray from using the
    workers it prestarts and costs seconds per run. ``ROAR_RAY_RUNTIME_ENV=always`` merges
    the ``runtime_env`` regardless."""
    if os.environ.get("ROAR_RAY_RUNTIME_ENV", "auto").strip().lower() == "always":
        return False
    if address is not None and str(address).startswith("ray://"):
        return False
    if ray_compat.is_submitted_driver():
        return False  # a driver run by ``ray job submit``: its workers are the cluster's
    return ray_compat.starts_local_instance(address, temp_dir)


def _merge_into(args: Tuple[Any, ...], kwargs: Dict[str, Any], touched: List[str]) -> None:
    address = args[0] if args else kwargs.get("address")
    user_env = kwargs.get("runtime_env")
    job_config = kwargs.get("job_config")
    if user_env is None and job_config is not None and getattr(job_config, "runtime_env", None):
        user_env = job_config.runtime_env
    if user_env is not None and not isinstance(user_env, dict):
        user_env = dict(user_env)
    merged, keys = merge_runtime_env(user_env, address, _injected_job_runtime_env())
    kwargs["runtime_env"] = merged
    touched.extend(keys)


def _after_init(context: Any, touched: List[str], mode: str) -> None:
    global _atexit_registered
    try:
        import ray

        rc = ray.get_runtime_context()
        address = None
        info = getattr(context, "address_info", None)
        if isinstance(info, dict):
            address = info.get("gcs_address") or info.get("address")
        event = {
            "event": "driver",
            "v": 1,
            "job_id": rc.get_job_id(),
            "node_id": rc.get_node_id(),
            "address": address,
            "pid": os.getpid(),
        }
        spool.emit(json.dumps(event, separators=(",", ":")))
        spool.emit(
            json.dumps(
                {
                    "event": "config",
                    "v": 1,
                    "actor_attribution": config.actor_attribution(),
                    "runtime_env": mode,
                    "runtime_env_keys": sorted(set(touched)),
                    "backend": spool.backend_name(),
                },
                separators=(",", ":"),
            )
        )
        spool.flush()
    except Exception as exc:
        spool.count("driver_event_failed")
        spool.debug(f"driver event failed: {exc!r}")
    try:
        from . import cluster

        if cluster.is_cluster_mode():
            cluster.start()
    except Exception as exc:
        spool.count("cluster_start_failed")
        spool.debug(f"cluster start failed: {exc!r}")
    if not _atexit_registered:
        # atexit runs handlers last-registered-first: this one runs before Ray's own
        # ``shutdown`` handler (registered when ray was imported), so Ray's shutdown work
        # happens under ``ray-system``.
        atexit.register(_at_exit)
        _atexit_registered = True


def _shutdown(*args: Any, **kwargs: Any) -> Any:
    assert _original_shutdown is not None
    previous = spool.get_tag()
    spool.set_tag(spool.SYSTEM_TAG)
    try:
        return _original_shutdown(*args, **kwargs)
    finally:
        spool.set_tag(previous)
        spool.flush()


def _at_exit() -> None:
    try:
        if _already_connected():
            _shutdown()
    except Exception:
        spool.count("shutdown_at_exit_failed")
    spool.emit_stats()
    spool.flush()

