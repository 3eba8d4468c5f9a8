"""``python -m roar_runtime.driver -- <entrypoint…>``: the entrypoint of a host-submitted job.

``roar run ray job submit … -- python pipeline.py`` submits ``python -m roar_runtime.driver --
python pipeline.py`` instead (``Sources/RoarCapture/RaySubmit/RaySubmitRewrite.swift``), with
``roar_runtime`` shipped to the cluster in ``py_modules``. This module is what runs there:

1. It installs the driver patches, as roar's ``sitecustomize`` does under ``ROAR_WRAP=1``: an
   import hook patches ``ray.init``/``ray.shutdown`` when the program imports ``ray``
   (``roar_runtime.boot``). Being run through this module is the opt-in, so ``ROAR_WRAP`` is not
   consulted; ``ROAR_RAY_ENABLED=0`` still turns the patches off.
2. It runs the entrypoint:

   - ``python``/``python3``/``python3.X`` (this interpreter's version) or this interpreter's own
     path, followed directly by a script (or a folder/zip with ``__main__.py``) or by
     ``-m module``: in this process, with ``runpy``, the way the interpreter would run it
     (``sys.argv``, ``__main__``, ``sys.path[0]``; ``SystemExit`` and uncaught exceptions end
     the process with the status Python would give);
   - anything else (another program, a Python with options such as ``-u`` or ``-c``): as a
     child process with this environment plus roar's ``sitecustomize`` on ``PYTHONPATH`` and
     ``ROAR_WRAP=1`` (so a Python started by it is patched too). The exit status is the
     child's, ``128+N`` when signal ``N`` killed it; ``SIGTERM``/``SIGINT``/``SIGHUP`` received
     here are passed on to the child.

Errors in roar's own set-up never keep the entrypoint from running: they are reported on
stderr (``roar: warning: …``) and the entrypoint runs without roar.
"""

from __future__ import annotations

import atexit
import os
import runpy
import signal
import subprocess
import sys
import traceback
from collections.abc import Sequence

USAGE = "usage: python -m roar_runtime.driver -- <entrypoint> [args...]"
_HERE = os.path.dirname(os.path.abspath(__file__))
_SITE_DIR = os.path.join(_HERE, "_site")


def _warn(message: str) -> None:
    try:
        sys.stderr.write(f"roar: warning: {message}\n")
        sys.stderr.flush()
    except Exception:
        pass


# ---------------------------------------------------------------------------------------------
# set-up


def install_patches() -> bool:
    """Install the ``ray.init``/``ray.shutdown`` patches (now, or when ``ray`` is imported).
    Returns whether it went through; never raises."""
    try:
        from roar_runtime import boot, config

        boot.install_s3_capture()
        if not config.ray_enabled():
            return True
        boot.install_import_hook()
        return True
    except Exception as exc:
        _warn(f"could not install roar's Ray driver patches, running the entrypoint without them: {exc!r}")
        return False


def child_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child entrypoint: ``base`` (``os.environ``) with roar's
    ``sitecustomize`` folder and ``roar_runtime``'s parent folder in front of ``PYTHONPATH``
    and ``ROAR_WRAP=1``; ``base`` unchanged when roar's ``sitecustomize`` is not there."""
    env = dict(os.environ if base is None else base)
    try:
        if not os.path.isfile(os.path.join(_SITE_DIR, "sitecustomize.py")):
            return env
        front = [_SITE_DIR, os.path.dirname(_HERE)]
        parts = list(front)
        for p in env.get("PYTHONPATH", "").split(os.pathsep):
            if p and p not in parts:
                parts.append(p)
        env["PYTHONPATH"] = os.pathsep.join(parts)
        env["ROAR_WRAP"] = "1"
    except Exception as exc:
        _warn(f"could not pass roar on to the entrypoint's environment: {exc!r}")
        return dict(os.environ if base is None else base)
    return env


# ---------------------------------------------------------------------------------------------
# what to run


def _is_this_python(word: str) -> bool:
    name = os.path.basename(word)
    if os.sep in word or (os.altsep and os.altsep in word):
        mine = os.path.abspath(sys.executable)
        theirs = os.path.abspath(word)
        if theirs == mine:
            return True
        try:  # python3 next to python in the same bin folder
            return os.path.dirname(theirs) == os.path.dirname(mine) and os.path.samefile(theirs, mine)
        except OSError:
            return False
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    return name in ("python", f"python{sys.version_info[0]}", version)


def plan(argv: Sequence[str]) -> tuple:
    """``("script", path, args)``, ``("module", name, args)`` or ``("exec", argv)``."""
    if len(argv) >= 2 and _is_this_python(argv[0]):
        first = argv[1]
        if first == "-m" and len(argv) >= 3:
            return ("module", argv[2], list(argv[3:]))
        if first.startswith("-m") and len(first) > 2:
            return ("module", first[2:], list(argv[2:]))
        if first == "--" and len(argv) >= 3:
            return ("script", argv[2], list(argv[3:]))
        if not first.startswith("-"):
            return ("script", first, list(argv[2:]))
    return ("exec", list(argv))


# ---------------------------------------------------------------------------------------------
# running it


def _user_traceback(tb):  # type: ignore[no-untyped-def]
    """Drop the frames of this module and of ``runpy`` from the top of a traceback."""
    skip = {os.path.abspath(__file__), os.path.abspath(runpy.__file__)}

    def ours(filename: str) -> bool:
        return filename.startswith("<frozen runpy") or os.path.abspath(filename) in skip

    while tb is not None and ours(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return tb


def _report_uncaught(exc: BaseException) -> int:
    tb = _user_traceback(exc.__traceback__)
    try:
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
    except Exception:
        traceback.print_exception(type(exc), exc, tb)
    return 1


def run_script(path: str, args: list[str]) -> int:
    if not os.path.exists(path):
        sys.stderr.write(f"{os.path.basename(sys.executable)}: can't open file {os.path.abspath(path)!r}: "
                         f"[Errno 2] No such file or directory\n")
        return 2
    sys.argv = [path, *args]
    if os.path.isfile(path) and not _is_zip(path):
        directory = os.path.dirname(os.path.realpath(path))
        if sys.path:
            sys.path[0] = directory
        else:
            sys.path.insert(0, directory)
    elif sys.path:
        del sys.path[0]  # runpy puts the folder or zip itself first, as Python does
    try:
        if os.path.isfile(path) and not _is_zip(path) and not _is_compiled(path):
            _exec_source_as_main(path)
        else:
            runpy.run_path(path, run_name="__main__")
    except SystemExit:
        raise
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        return _report_uncaught(exc)
    return 0


def _is_compiled(path: str) -> bool:
    try:
        import importlib.util

        with open(path, "rb") as f:
            return f.read(4) == importlib.util.MAGIC_NUMBER
    except OSError:
        return False


def _exec_source_as_main(path: str) -> None:
    """Run a source file the way ``python path`` does: a fresh ``__main__`` module (left in
    ``sys.modules`` afterwards, for ``atexit`` handlers and pickling), ``__file__`` absolute
    (Python >= 3.9), ``sys.argv[0]`` as given."""
    import importlib.machinery
    import types

    absolute = os.path.abspath(path)
    with open(absolute, "rb") as f:  # bytes: compile() honours a coding cookie
        source = f.read()
    code = compile(source, absolute, "exec", dont_inherit=True)
    module = types.ModuleType("__main__")
    module.__file__ = absolute
    module.__cached__ = None
    module.__package__ = None
    module.__spec__ = None
    module.__loader__ = importlib.machinery.SourceFileLoader("__main__", absolute)
    sys.modules["__main__"] = module
    exec(code, module.__dict__)


def _is_zip(path: str) -> bool:
    try:
        import zipfile

        return zipfile.is_zipfile(path)
    except Exception:
        return False


def run_module(name: str, args: list[str]) -> int:
    import importlib.util

    sys.argv = [name, *args]
    if sys.path and sys.path[0] != os.getcwd():
        sys.path.insert(0, os.getcwd())
    try:
        spec = importlib.util.find_spec(name)
    except Exception as exc:
        spec = None
        detail = f"{type(exc).__name__}: {exc}"
    else:
        detail = ""
    if spec is None:
        sys.stderr.write(f"{os.path.basename(sys.executable)}: "
                         + (f"Error while finding module specification for {name!r} ({detail})\n" if detail
                            else f"No module named {name}\n"))
        return 1
    try:
        runpy.run_module(name, run_name="__main__", alter_sys=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        return _report_uncaught(exc)
    return 0


_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def run_child(argv: list[str], env: dict[str, str]) -> int:
    try:
        child = subprocess.Popen(argv, env=env)
    except FileNotFoundError:
        sys.stderr.write(f"roar: {argv[0]}: command not found\n")
        return 127
    except PermissionError:
        sys.stderr.write(f"roar: {argv[0]}: permission denied\n")
        return 126
    except OSError as exc:
        sys.stderr.write(f"roar: {argv[0]}: {exc.strerror or exc}\n")
        return 126

    previous = {}

    def forward(signum, _frame):  # type: ignore[no-untyped-def]
        try:
            child.send_signal(signum)
        except Exception:
            pass

    for sig in _FORWARDED:
        try:
            previous[sig] = signal.signal(sig, forward)
        except (ValueError, OSError):
            pass
    try:
        while True:
            try:
                status = child.wait()
                break
            except KeyboardInterrupt:
                continue
    finally:
        for sig, handler in previous.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError):
                pass
    return 128 - status if status < 0 else status


def _claim_driver_tag() -> None:
    """Host-submit: the job's processes start under Ray's tag (``ROAR_TAG=ray-system`` in the
    job's env_vars, for workers); what the entrypoint itself does is the run's own I/O."""
    try:
        from roar_runtime import cluster, spool

        if cluster.is_cluster_mode():
            os.environ["ROAR_TAG"] = ""
            spool.set_tag("")
    except Exception as exc:
        _warn(f"could not set the driver's tag: {exc!r}")


def _job_done() -> None:
    """Host-submit: tell this node's roar agent that the entrypoint has ended (after the last
    flush of what it recorded), so the agents make their final round."""
    try:
        from roar_runtime import cluster, spool

        if cluster.is_cluster_mode():
            spool.flush()
            cluster.mark_job_done()
    except Exception as exc:
        _warn(f"could not tell roar's agents that the job ended: {exc!r}")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        sys.stderr.write(USAGE + "\n")
        return 2

    try:
        what = plan(args)
    except Exception as exc:
        _warn(f"could not read the entrypoint, running it as a command: {exc!r}")
        what = ("exec", args)

    _claim_driver_tag()
    if what[0] == "exec":
        env = child_environment()
        status = run_child(what[1], env)
        _job_done()
        return status

    # Registered before the program can import ray: atexit runs it last, after Ray's own
    # shutdown, when everything this process records has been written.
    atexit.register(_job_done)
    install_patches()
    if what[0] == "module":
        return run_module(what[1], what[2])
    return run_script(what[1], what[2])
