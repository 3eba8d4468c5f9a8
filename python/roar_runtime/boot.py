"""Process start-up, called from roar's ``sitecustomize``.

1. Runs the ``sitecustomize`` the user would have had without roar (the next one on
   ``sys.path`` after roar's own folder).
2. With ``ROAR_WRAP=1`` and Ray integration enabled, installs a one-shot import hook: when the
   program imports ``ray``, ``ray.init``/``ray.shutdown`` are patched right after ``ray``'s
   ``__init__`` ran. ``ray`` is never imported here, so plain ``python`` start-up stays cheap
   (one ``str`` comparison per import until ``ray`` is imported).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Sequence
from typing import Any

from . import config


def chain_user_sitecustomize(own_dir: str) -> None:
    """Execute the next ``sitecustomize`` on ``sys.path`` after ``own_dir``, as the module
    ``sitecustomize``. Its errors are reported the way ``site`` reports them, not raised."""
    try:
        own = os.path.realpath(own_dir)
        rest = []
        seen_own = False
        for entry in sys.path:
            try:
                real = os.path.realpath(entry or os.getcwd())
            except (OSError, ValueError):
                continue
            if real == own:
                seen_own = True
                continue
            if seen_own:
                rest.append(entry)
        if not rest:
            return
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
        if spec is None or spec.loader is None:
            return
        module = importlib.util.module_from_spec(spec)
        sys.modules["sitecustomize"] = module
        spec.loader.exec_module(module)
    except Exception as exc:  # same leniency as site.execsitecustomize
        sys.stderr.write(f"Error in sitecustomize (chained by roar); set PYTHONVERBOSE for traceback:\n{exc!r}\n")


class _RayImportHook:
    """A ``sys.meta_path`` finder that lets the real finders load ``ray`` and patches it after
    its ``__init__`` ran. Removes itself on first use."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: types.ModuleType | None = None
    ) -> Any:
        if fullname != "ray":
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        spec = None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module: types.ModuleType) -> None:
            try:
                original_exec(module)
            finally:
                try:
                    del loader.exec_module  # back to the class's method
                except AttributeError:
                    pass
            _on_ray_imported(module)

        try:
            loader.exec_module = exec_module  # type: ignore[method-assign]
        except (AttributeError, TypeError):
            return spec
        return spec


def _on_ray_imported(module: types.ModuleType) -> None:
    try:
        from . import driver, worker

        driver.install(module)
        worker.install_connect_hook()
    except Exception as exc:
        from . import spool

        spool.count("driver_install_failed")
        spool.debug(f"could not patch ray: {exc!r}")


def install_import_hook() -> None:
    if "ray" in sys.modules:
        _on_ray_imported(sys.modules["ray"])
        return
    if not any(isinstance(f, _RayImportHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _RayImportHook())


def activate() -> None:
    """The part of start-up that depends on ``roar run``'s environment."""
    if not config.wrap_enabled() or not config.ray_enabled():
        return
    install_import_hook()
