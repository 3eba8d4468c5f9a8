"""Submission: the ``task_submit`` event, written when a task submits another one.

Ray 2.60 exposes no parent task id to the child, so the parent link is recorded by the parent:
``ray_compat.observe_submissions`` calls ``submitted`` after every task, actor method call and
actor creation this process submits; when the submitting thread runs on behalf of a task
(``frames.current_parent``) the child's task id and the parent's are written.
"""

from __future__ import annotations

from collections.abc import Callable

from . import frames


def submitted(kind: str, child_task_id: Callable[[], str | None]) -> None:
    """``kind``: ``task``, ``actor_call`` or ``actor_init``. Raises on failure (the caller counts)."""
    parent = frames.current_parent()
    if parent is None:
        return
    child = child_task_id()
    if not child:
        return
    frames.emit(
        '{"event":"task_submit","v":1,"task_id":"%s","kind":"%s","parent_task_id":"%s","parent_attempt":%d}'
        % (child, kind, parent[0], parent[1])
    )
