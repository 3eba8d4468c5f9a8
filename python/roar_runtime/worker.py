"""Worker side: installing roar in a Ray worker process.

``setup_hook`` is the job's ``worker_process_setup_hook``; Ray runs it in every worker process
after the worker connected and before it executes any task (``default_worker.py``).
``install_connect_hook`` covers workers that inherited ``roar run``'s environment (local
clusters started by the traced driver) without any ``runtime_env``: they install roar when
they connect. ``install`` then, once per process:

- sets the worker's own tag to ``ray-system`` (Ray's I/O outside tasks is not the user's);
- wraps every callable the worker executes — normal tasks, actor creation (``__init__``) and
  every actor method, including ones defined dynamically, loaded from GCS or by
  ``load_code_from_local`` — in the task wrapper (``wrappers``), with no driver-side wrapping
  at ``ray.remote``. The wrapper runs on the thread that executes the user's code: the main
  thread for tasks and sync actors, the pool thread for threaded actors, and (for async
  actors) inside the actor's event loop, where it wraps the coroutine so the tag is set on
  every resumption;
- learns the attempt number of the task being run from Ray's task log calls
  (``CoreWorker.get_current_task_attempt_number`` reads a thread-local that is not set in an
  async actor's event loop thread);
- writes ``task_submit`` when a task submits another one (``submission``).

How each of these reaches into Ray is in ``ray_compat``; task frames and tags in ``frames``.
Hooks never raise into user code: failures are counted (``spool.STATS``) and the task runs
unwrapped.
"""

from __future__ import annotations

import atexit
import os
import threading

from . import config, frames, ray_compat, spool, submission, wrappers

_installed = False
_install_lock = threading.Lock()


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
        spool.debug(f"worker install failed: {exc!r}")
    chained = os.environ.get(config.CHAINED_HOOK_ENV)
    if chained:
        ray_compat.load_class(chained)()


def install_connect_hook() -> None:
    """Install roar in this process when it connects to Ray as a worker."""

    def connected() -> None:
        try:
            if ray_compat.is_worker_process() and config.ray_enabled():
                install()
        except Exception as exc:
            spool.count("worker_install_failed")
            spool.debug(f"worker install failed: {exc!r}")

    ray_compat.on_worker_connect(connected)


def install() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        backend = spool.backend()
        backend.set_tag(spool.SYSTEM_TAG)
        frames.bind(backend, ray_compat.CoreWorker())
        ray_compat.wrap_executed_functions(wrappers.wrap_executed)
        ray_compat.observe_task_attempts(frames.attempt_started, frames.attempt_ended)
        ray_compat.observe_submissions(submission.submitted)
        ray_compat.filter_task_tracebacks(wrappers.without_own_frames)
        atexit.register(_at_exit)
        _installed = True


def _at_exit() -> None:
    try:
        spool.emit_stats()
        frames.flush()
    except Exception:
        pass
