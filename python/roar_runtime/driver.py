"""Driver side: ``ray.init``/``ray.shutdown`` patches.

``ray.init`` gets a ``runtime_env`` that carries roar to every worker of the job:

- ``worker_process_setup_hook`` = ``roar_runtime.worker.setup_hook`` (a user's hook runs after
  ours: a string one through ``ROAR_CHAINED_SETUP_HOOK``, a callable one wrapped in a closure);
- ``py_executable`` = ``$ROAR_WORKER`` (the ``roar-worker`` launcher, which puts the preload
  library in place and execs ``$ROAR_WORKER_PYTHON``) unless the user set one;
- ``env_vars``: every ``ROAR_*`` variable, ``ROAR_TAG=ray-system``, ``ROAR_WORKER_PYTHON``,
  ``PYTHONPATH`` with roar's folder in front, ``LD_PRELOAD`` with the preload library.

The merge is :func:`merge_policy`, roar's one runtime_env policy, shared with the
``ray job submit`` rewrite (``RuntimeEnvironmentMerge`` in Swift, docs/ray-submit.md): the
user's keys are kept; in ``env_vars`` the user's values win except roar's own ``ROAR_*``, roar's
folder is put in front of their ``PYTHONPATH`` and the preload library into their
``LD_PRELOAD``; ``pip``/``conda``/``uv`` keep their interpreter; a runtime_env Ray would refuse
with roar's fields (``container``, ``image_uri``, …) is left as given, with a warning.

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
from collections.abc import Callable
from typing import Any

from . import config, ray_compat, spool

_installed = False
_lock = threading.Lock()
_original_init: Callable[..., Any] | None = None
_original_shutdown: Callable[..., Any] | None = None
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


def _main_module_name() -> str | None:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path:
        return None
    spec = getattr(main, "__spec__", None)
    if spec is not None and getattr(spec, "name", None):
        return spec.name  # python -m pkg.mod
    return os.path.splitext(os.path.basename(path))[0]


def _join_path_lists(front: str, back: str) -> str:
    """``front``'s entries, then ``back``'s, each once (``RuntimeEnvironmentMerge.joinPathLists``)."""
    parts: list[str] = []
    for part in front.split(":") + back.split(":"):
        if part and part not in parts:
            parts.append(part)
    return ":".join(parts)


def _roar_env_vars(user_vars: dict[str, Any]) -> dict[str, str]:
    """The environment roar's workers need. When the user's ``env_vars`` set ``PYTHONPATH`` or
    ``LD_PRELOAD``, roar adds only its own entry to them (its folder, the preload library)."""
    env: dict[str, str] = {}
    for key, value in os.environ.items():
        if key.startswith("ROAR_") and key not in ("ROAR_TAG", config.CHAINED_HOOK_ENV):
            env[key] = value
    env["ROAR_TAG"] = spool.SYSTEM_TAG
    env["ROAR_WORKER_PYTHON"] = sys.executable
    main_module = _main_module_name()
    if main_module:
        env[config.MAIN_MODULE_ENV] = main_module
    if "PYTHONPATH" in user_vars:
        env["PYTHONPATH"] = config.python_dir()
    else:
        env["PYTHONPATH"] = _join_path_lists(config.python_dir(), os.environ.get("PYTHONPATH", ""))
    preload = os.environ.get("ROAR_PRELOAD", "")
    ld_preload = os.environ.get("LD_PRELOAD", "")
    if "LD_PRELOAD" in user_vars:
        if preload:
            env["LD_PRELOAD"] = preload
    elif preload or ld_preload:
        env["LD_PRELOAD"] = _join_path_lists(preload, ld_preload)
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


def _worker_launcher(address: str | None) -> str | None:
    launcher = os.environ.get("ROAR_WORKER", "")
    if not launcher or not os.path.isfile(launcher) or not os.access(launcher, os.X_OK):
        return None
    if address and str(address).startswith("ray://"):
        return None  # a host path means nothing on a remote cluster (client mode)
    return launcher


class RuntimeEnvRefused(Exception):
    """Ray would reject the user's runtime_env plus roar's fields; ``code`` is the
    ``RaySubmitError`` code of the same refusal on the Swift side."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class MergeResult:
    """What :func:`merge_policy` made: the runtime_env, the user ``env_vars`` roar replaced
    (sorted), and notes as ``(code, message)`` pairs."""

    def __init__(self, runtime_env: dict[str, Any], overridden: list[str], notes: list[tuple[str, str]]) -> None:
        self.runtime_env = runtime_env
        self.overridden = overridden
        self.notes = notes


_PACKAGE_MANAGERS = ("pip", "conda", "uv")
_RAY_SETUP_HOOK_ENV = "__RAY_WORKER_PROCESS_SETUP_HOOK_ENV_VAR"


def _type_name(value: Any) -> str:
    return "NoneType" if value is None else type(value).__name__


def _validate(env: dict[str, Any]) -> None:
    """The checks of Ray 2.60 that the user's runtime_env plus roar's fields could fail
    (``RuntimeEnvironmentMerge.validate``)."""
    managers = [m for m in _PACKAGE_MANAGERS if env.get(m) is not None]
    if len(managers) > 1:
        raise RuntimeEnvRefused(
            "rejectedCombination",
            "runtime_env sets " + " and ".join(f"`{m}`" for m in managers) + "; Ray accepts only one of pip, uv and "
            "conda (with or without roar). Put pip packages inside the conda environment instead",
        )
    for field in ("container", "image_uri"):
        value = env.get(field)
        if value is None or value == "" or value == []:
            continue
        others = sorted(k for k in env if k not in (field, "config", "env_vars"))
        detail = f" (it already sets {', '.join(others)})" if others else ""
        raise RuntimeEnvRefused(
            "rejectedCombination",
            f"runtime_env sets `{field}`, which Ray allows only together with config and env_vars{detail}; roar "
            "must add its worker_process_setup_hook, so Ray would reject the job. Run it without roar, or bake "
            "roar_runtime into the image",
        )
    variables = env.get("env_vars")
    if variables is not None:
        if not isinstance(variables, dict):
            raise _invalid("env_vars", f"must be of type Dict[str, str], got {_type_name(variables)}")
        for key in sorted(variables):
            if not isinstance(variables[key], str):
                raise _invalid(
                    "env_vars",
                    f"must be of type Dict[str, str], but the value of {key} is of type "
                    f"{_type_name(variables[key])} (quote it)",
                )
        if _RAY_SETUP_HOOK_ENV in variables:
            raise RuntimeEnvRefused(
                "rejectedCombination",
                f"runtime_env env_vars sets {_RAY_SETUP_HOOK_ENV}, which Ray refuses together with a "
                "worker_process_setup_hook (roar needs one). Remove that variable",
            )
    modules = env.get("py_modules")
    if modules is not None and not (isinstance(modules, list) and all(isinstance(m, str) for m in modules)):
        raise _invalid("py_modules", "must be a list of strings")
    for field in ("working_dir", "worker_process_setup_hook", "py_executable"):
        value = env.get(field)
        if value is not None and not isinstance(value, str):
            raise _invalid(field, f"must be a string, got {_type_name(value)}")


def _invalid(field: str, problem: str) -> RuntimeEnvRefused:
    return RuntimeEnvRefused("invalidField", f"runtime_env['{field}'] {problem}; Ray would reject the job")


def merge_policy(
    user_env: dict[str, Any] | None,
    env_vars: dict[str, str],
    py_module: str | None = None,
    launcher: str | None = None,
) -> MergeResult:
    """roar's one runtime_env merge policy (docs/ray-submit.md), the same rules as Swift's
    ``RuntimeEnvironmentMerge`` and checked against the same vectors
    (``Tests/vectors/runtime-env/merge.json``). Raises :class:`RuntimeEnvRefused` when Ray would
    reject the result. ``user_env`` is not modified."""
    env: dict[str, Any] = dict(user_env or {})
    _validate(env)
    notes: list[tuple[str, str]] = []
    if py_module is not None:
        modules = list(env.get("py_modules") or [])
        if py_module not in modules:
            modules.append(py_module)
        env["py_modules"] = modules

    variables: dict[str, Any] = dict(env.get("env_vars") or {})
    overridden: list[str] = []
    for key, value in env_vars.items():
        if key == config.CHAINED_HOOK_ENV:
            continue
        user_value = variables.get(key)
        if key.startswith("ROAR_"):
            if user_value is not None and user_value != value:
                overridden.append(key)
            variables[key] = value
        elif user_value is not None and key in ("PYTHONPATH", "LD_PRELOAD"):
            variables[key] = _join_path_lists(value, str(user_value))
        elif user_value is None:
            variables[key] = value

    hook = env.get("worker_process_setup_hook")
    if isinstance(hook, str) and hook != config.SETUP_HOOK:
        previous = variables.get(config.CHAINED_HOOK_ENV)
        if previous is not None and previous != hook:
            overridden.append(config.CHAINED_HOOK_ENV)
        variables[config.CHAINED_HOOK_ENV] = hook
    env["worker_process_setup_hook"] = config.SETUP_HOOK
    env["env_vars"] = variables

    if launcher is not None:
        user_executable = env.get("py_executable")
        manager = next((m for m in _PACKAGE_MANAGERS if env.get(m) is not None), None)
        if user_executable is not None:
            if user_executable != launcher:
                notes.append(
                    (
                        "user_py_executable_kept",
                        f"runtime_env sets `py_executable` ({user_executable}); roar keeps it, so Ray workers run "
                        "without roar's native tracer (Python-level capture only)",
                    )
                )
        elif manager is not None:
            notes.append(
                (
                    "launcher_skipped",
                    f"runtime_env sets `{manager}`, whose environment chooses the workers' Python; roar leaves "
                    "`py_executable` alone (its launcher would replace that interpreter), so Ray workers run "
                    "without roar's native tracer (Python-level capture only)",
                )
            )
        else:
            env["py_executable"] = launcher
    return MergeResult(env, sorted(overridden), notes)


def merge_runtime_env(
    user_env: dict[str, Any] | None,
    address: str | None = None,
    reserved: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Return ``(runtime_env, keys roar set)`` for ``ray.init``: :func:`merge_policy` with
    roar's variables and worker launcher, plus what only ``ray.init`` has:

    - a callable ``worker_process_setup_hook`` (the CLI cannot carry one) is wrapped in a closure
      that runs roar's hook first;
    - ``reserved`` is a runtime_env that Ray will merge with ours and that must not be
      contradicted (the one injected by ``ray job submit``, which roar's rewrite made): keys and
      env vars it sets are left alone, as Ray refuses conflicting ones.

    Raises :class:`RuntimeEnvRefused` when Ray would reject the merged runtime_env.
    """
    env: dict[str, Any] = dict(user_env or {})
    reserved = reserved or {}
    reserved_vars: dict[str, Any] = dict(reserved.get("env_vars") or {})
    hook = env.get("worker_process_setup_hook")
    callable_hook = hook if callable(hook) else None
    if callable_hook is not None:
        del env["worker_process_setup_hook"]  # the policy sees string hooks only
    keeps_hook = reserved.get("worker_process_setup_hook") is not None

    user_vars = env.get("env_vars")
    ours = _roar_env_vars(user_vars if isinstance(user_vars, dict) else {})
    additions = {k: v for k, v in ours.items() if k not in reserved_vars}
    launcher = None if "py_executable" in reserved else _worker_launcher(address)
    if launcher is not None:
        launcher = shlex.quote(launcher)
    result = merge_policy(env, additions, launcher=launcher)
    merged = result.runtime_env
    for note in result.notes:
        spool.debug(f"note: {note[1]}")
    if result.overridden:
        spool.debug(f"the runtime_env's env_vars set {', '.join(result.overridden)}; roar's own values are used")

    touched = ["env_vars"]
    if keeps_hook:
        # The job's own runtime_env decides (roar's job submit rewrite puts ours there).
        if hook is None:
            merged.pop("worker_process_setup_hook", None)
        else:
            merged["worker_process_setup_hook"] = hook
        if not (isinstance(user_vars, dict) and config.CHAINED_HOOK_ENV in user_vars):
            merged["env_vars"].pop(config.CHAINED_HOOK_ENV, None)
    elif callable_hook is not None:
        if not _is_our_hook(callable_hook):
            merged["worker_process_setup_hook"] = _chained_callable_hook(callable_hook)
            touched.append("worker_process_setup_hook")
        else:
            merged["worker_process_setup_hook"] = callable_hook
    elif not _is_our_hook(hook):
        touched.append("worker_process_setup_hook")
    if "py_executable" in merged and merged.get("py_executable") != env.get("py_executable"):
        touched.append("py_executable")
    return merged, touched


def _injected_job_runtime_env() -> dict[str, Any]:
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

    touched: list[str] = []
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


def _inherits_environment(address: Any, temp_dir: str | None) -> bool:
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


def _merge_into(args: tuple[Any, ...], kwargs: dict[str, Any], touched: list[str]) -> None:
    address = args[0] if args else kwargs.get("address")
    user_env = kwargs.get("runtime_env")
    job_config = kwargs.get("job_config")
    if user_env is None and job_config is not None and getattr(job_config, "runtime_env", None):
        user_env = job_config.runtime_env
    if user_env is not None and not isinstance(user_env, dict):
        user_env = dict(user_env)
    try:
        merged, keys = merge_runtime_env(user_env, address, _injected_job_runtime_env())
    except RuntimeEnvRefused as refusal:
        # Ray would refuse roar's additions: the job runs as given, its workers without roar.
        spool.count("runtime_env_refused")
        sys.stderr.write(f"roar: warning: {refusal.message}; Ray workers of this job run without roar\n")
        return
    kwargs["runtime_env"] = merged
    touched.extend(keys)


def _after_init(context: Any, touched: list[str], mode: str) -> None:
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
        if _already_connected():
            from . import cluster

            cluster.settle()
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

