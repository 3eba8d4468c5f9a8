"""Process start-up, called from roar's ``sitecustomize``.

1. Runs the ``sitecustomize`` the user would have had without roar (the next one on
   ``sys.path`` after roar's own folder).
2. With ``ROAR_WRAP=1``: one-shot import hooks. When the program imports ``botocore``, S3 capture
   is installed (``s3.py``); when it imports ``pyarrow.fs`` (or Ray Data's filesystem wrapper),
   pyarrow's own S3 client is tracked (``s3_arrow.py``); with Ray integration enabled too, when it imports ``ray``, the
   ``ray.init``/``ray.shutdown`` are patched right after ``ray``'s
   ``__init__`` ran. ``ray`` is never imported here, so plain ``python`` start-up stays cheap
   (one ``str`` comparison per import until ``ray`` is imported).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Callable, Sequence
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


class _AfterImportHook:
    """A ``sys.meta_path`` finder that lets the real finders load module ``name`` and calls
    ``callback(module)`` after its ``__init__`` ran. Removes itself on first use."""

    def __init__(self, name: str, callback: Callable[[types.ModuleType], None]) -> None:
        self.name = name
        self.callback = callback

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: types.ModuleType | None = None
    ) -> Any:
        if fullname != self.name:
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
            self.callback(module)

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


def _s3_hook(name: str) -> Callable[[types.ModuleType], None]:
    def installed(module: types.ModuleType) -> None:
        try:
            from . import s3

            getattr(s3, name)(module)
        except Exception:
            from . import spool

            spool.count("s3_install_failed")

    return installed


def _arrow_hook(name: str) -> Callable[[types.ModuleType], None]:
    def installed(module: types.ModuleType) -> None:
        try:
            from . import s3_arrow

            getattr(s3_arrow, name)(module)
        except Exception:
            from . import spool

            spool.count("s3_install_failed")

    return installed


def after_import(name: str, callback: Callable[[types.ModuleType], None]) -> None:
    """``callback(module)`` now if ``name`` is imported already, else right after its import."""
    if name in sys.modules:
        callback(sys.modules[name])
        return
    if not any(isinstance(f, _AfterImportHook) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImportHook(name, callback))


def install_import_hook() -> None:
    after_import("ray", _on_ray_imported)


def install_s3_capture() -> None:
    """S3 capture (``s3.py``), with or without Ray: now for what is imported, else at its import."""
    after_import("botocore", _s3_hook("on_botocore_imported"))
    after_import("boto3.s3.transfer", _s3_hook("on_boto3_transfer_imported"))
    after_import("pyarrow.fs", _arrow_hook("on_pyarrow_fs_imported"))  # pyarrow's own C++ S3 client
    after_import("pyarrow.parquet.core", _arrow_hook("on_pyarrow_parquet_imported"))
    after_import("ray.data._internal.util", _arrow_hook("on_ray_data_util_imported"))


def activate() -> None:
    """The part of start-up that depends on ``roar run``'s environment."""
    if not config.wrap_enabled():
        return
    install_s3_capture()
    if config.ray_enabled():
        install_import_hook()
