"""A user's own worker_process_setup_hook (the runtime must chain it, not replace it)."""

import os


def user_hook() -> None:
    os.environ["SCENARIO_USER_HOOK_RAN"] = "1"
