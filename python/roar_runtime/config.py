"""What ``roar run`` told this process through its environment."""

from __future__ import annotations

import os

PER_CALL = "per_call"
PER_ACTOR = "per_actor"

#: The module path of the worker setup hook (``runtime_env["worker_process_setup_hook"]``).
SETUP_HOOK = "roar_runtime.worker.setup_hook"
#: Env var carrying a user's string setup hook that ours runs after itself.
CHAINED_HOOK_ENV = "ROAR_CHAINED_SETUP_HOOK"
#: Env var naming the driver script's module (functions of ``__main__`` are reported with it).
MAIN_MODULE_ENV = "ROAR_MAIN_MODULE"


def wrap_enabled() -> bool:
    return os.environ.get("ROAR_WRAP") == "1"


def ray_enabled() -> bool:
    return os.environ.get("ROAR_RAY_ENABLED", "1").strip().lower() not in ("0", "false", "no", "off")


def actor_attribution() -> str:
    value = os.environ.get("ROAR_RAY_ACTOR_ATTRIBUTION", PER_CALL).strip().lower()
    return PER_ACTOR if value == PER_ACTOR else PER_CALL


def python_dir() -> str:
    """The folder holding the ``roar_runtime`` package (``<bin>/roar-python``)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
