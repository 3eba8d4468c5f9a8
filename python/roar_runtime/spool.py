"""Attribution tags and ``E`` records (docs/spool-format.md).

When ``libroar_preload.so`` is loaded in this process its exported functions are used:
``roar_set_tag``/``roar_get_tag`` (per thread), ``roar_emit`` (an ``E`` record with the calling
thread's tag) and ``roar_flush``. Without it (e.g. a worker whose interpreter was started without
the preload library) the events still reach the spool: this module then keeps the tag per
Python thread and appends ``E`` records to a spool file of its own, in the same format.

Nothing here raises: every failure is counted in ``STATS`` and the call returns. The runtime's
own diagnostics live here too: ``count`` (``STATS``, reported by ``emit_stats`` in a
``runtime_stats`` event at exit) and ``debug`` (stderr, only with ``ROAR_DEBUG``).
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Protocol

#: Tag of Ray's own machinery (GCS, raylet, idle workers): reconstitution drops it as noise.
SYSTEM_TAG = "ray-system"

#: Counters of what went wrong; reported in a ``runtime_stats`` event at exit. Written only by
#: ``count`` under ``_stats_lock`` (tasks of threaded actors count from many threads); read it
#: through ``stats()``.
STATS: dict[str, int] = {}
_stats_lock = threading.Lock()


def count(key: str, n: int = 1) -> None:
    with _stats_lock:
        STATS[key] = STATS.get(key, 0) + n


def stats() -> dict[str, int]:
    """A copy of ``STATS``."""
    with _stats_lock:
        return dict(STATS)


def _reset_stats_lock() -> None:
    # A child forked while another thread held the lock would otherwise never count again.
    global _stats_lock
    _stats_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_stats_lock)


def debug(message: str) -> None:
    """``roar: <message>`` on stderr, only with ``ROAR_DEBUG`` set."""
    if os.environ.get("ROAR_DEBUG"):
        sys.stderr.write(f"roar: {message}\n")


def emit_stats() -> None:
    """The ``runtime_stats`` event (docs/ray-events.md), when something was counted."""
    counters = stats()
    if not counters:
        return
    try:
        event = {"event": "runtime_stats", "v": 1, "pid": os.getpid(), "counters": counters}
        emit(json.dumps(event, separators=(",", ":")))
    except Exception:
        pass


class Backend(Protocol):
    """Where tags are kept and ``E`` records go: the preload library, an own spool file, or
    nowhere."""

    name: str

    def set_tag(self, tag: str) -> None: ...

    def get_tag(self) -> str: ...

    def emit(self, json_text: str) -> None: ...

    def flush(self) -> None: ...


_ESCAPE_RE = re.compile(rb"[\x00-\x1f\x7f%]")


def escape_field(value: str) -> bytes:
    """Escape one spool field: bytes 0x00-0x1F, 0x7F and ``%`` become ``%XX``."""
    data = value.encode("utf-8", "surrogateescape")
    return _ESCAPE_RE.sub(lambda m: b"%%%02X" % m.group()[0], data)


class _Native:
    """The preload library's API."""

    name = "native"

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._set = lib.roar_set_tag
        self._set.argtypes = [ctypes.c_char_p]
        self._set.restype = None
        self._get = lib.roar_get_tag
        self._get.argtypes = []
        self._get.restype = ctypes.c_char_p
        self._emit = lib.roar_emit
        self._emit.argtypes = [ctypes.c_char_p]
        self._emit.restype = None
        self._flush = lib.roar_flush
        self._flush.argtypes = []
        self._flush.restype = None

    def set_tag(self, tag: str) -> None:
        self._set(tag.encode("utf-8", "surrogateescape"))

    def get_tag(self) -> str:
        raw = self._get()
        return raw.decode("utf-8", "surrogateescape") if raw else ""

    def emit(self, json_text: str) -> None:
        self._emit(json_text.encode("utf-8", "surrogateescape"))

    def flush(self) -> None:
        self._flush()


class _OwnFile:
    """Writes ``E`` records to ``$ROAR_SPOOL/<pid>-<start_ns>-<rand>.spool`` (one line per
    ``write(2)``, so a killed process loses nothing it emitted)."""

    name = "file"

    def __init__(self, spool_dir: str) -> None:
        self._dir = spool_dir
        self._local = threading.local()
        self._lock = threading.Lock()
        self._fd = -1
        self._pid = -1
        self._initial_tag = os.environ.get("ROAR_TAG", "")

    # Tags are per Python thread here (no inheritance by new threads: only the preload
    # library can do that).
    def set_tag(self, tag: str) -> None:
        self._local.tag = tag

    def get_tag(self) -> str:
        return getattr(self._local, "tag", self._initial_tag)

    def _open(self) -> int:
        pid = os.getpid()
        if self._fd >= 0 and self._pid == pid:
            return self._fd
        with self._lock:
            if self._fd >= 0 and self._pid == pid:
                return self._fd
            start_ns = time.time_ns()
            name = "%d-%d-%08x.spool" % (pid, start_ns, int.from_bytes(os.urandom(4), "big"))
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
            fd = os.open(os.path.join(self._dir, name), flags, 0o600)
            try:
                exe = os.readlink("/proc/self/exe")
            except OSError:
                exe = sys.executable or ""
            try:
                cwd = os.getcwd()
            except OSError:
                cwd = ""
            header = b"\t".join(
                [b"H", b"1", b"%d" % pid, b"%d" % os.getppid(), b"%d" % start_ns, escape_field(exe), escape_field(cwd)]
            )
            os.write(fd, header + b"\n")
            self._fd, self._pid = fd, pid
            return fd

    def emit(self, json_text: str) -> None:
        line = b"\t".join([b"E", escape_field(self.get_tag()), b"%d" % time.time_ns(), escape_field(json_text)])
        os.write(self._open(), line + b"\n")

    def flush(self) -> None:
        pass

    def exit_record(self) -> None:
        if self._fd >= 0 and self._pid == os.getpid():
            os.write(self._fd, b"Z\t%d\n" % time.time_ns())


class _Null:
    """Nothing is recorded (no ``ROAR_SPOOL``): tags are still tracked for callers."""

    name = "none"

    def __init__(self) -> None:
        self._local = threading.local()

    def set_tag(self, tag: str) -> None:
        self._local.tag = tag

    def get_tag(self) -> str:
        return getattr(self._local, "tag", "")

    def emit(self, json_text: str) -> None:
        pass

    def flush(self) -> None:
        pass


_backend: Backend | None = None
_backend_lock = threading.Lock()


def _choose_backend() -> Backend:
    try:
        lib = ctypes.CDLL(None)
        if hasattr(lib, "roar_set_tag") and hasattr(lib, "roar_emit"):
            return _Native(lib)
    except Exception:  # pragma: no cover - ctypes failure
        count("native_lookup_failed")
    spool = os.environ.get("ROAR_SPOOL", "")
    if spool and os.path.isdir(spool):
        own = _OwnFile(spool)
        atexit.register(_safe(own.exit_record))
        return own
    return _Null()


def _safe(fn: Callable[[], None]) -> Callable[[], None]:
    def call() -> None:
        try:
            fn()
        except Exception:
            count("exit_record_failed")

    return call


def backend() -> Backend:
    global _backend
    if _backend is None:
        with _backend_lock:
            if _backend is None:
                _backend = _choose_backend()
    return _backend


def backend_name() -> str:
    return backend().name


def set_tag(tag: str) -> None:
    try:
        backend().set_tag(tag)
    except Exception:
        count("set_tag_failed")


def get_tag() -> str:
    try:
        return backend().get_tag()
    except Exception:
        count("get_tag_failed")
        return ""


def emit(json_text: str) -> None:
    """Append an ``E`` record (``json_text`` must be one JSON object) with this thread's tag."""
    try:
        backend().emit(json_text)
    except Exception:
        count("emit_failed")


def flush() -> None:
    try:
        backend().flush()
    except Exception:
        count("flush_failed")


def stop_recording() -> None:
    """This process is roar's own (a node agent): nothing more of it is recorded."""
    try:
        lib = ctypes.CDLL(None)
        if hasattr(lib, "roar_stop_recording"):
            lib.roar_stop_recording()
    except Exception:
        count("stop_recording_failed")
