"""S3 capture for pyarrow's own (C++) S3 client, which botocore never sees (docs/s3.md).

Emits the same ``s3`` events as ``s3.py`` (``"client": "pyarrow"`` added; the Swift decoder ignores
it). pyarrow is never imported here: the boot hook calls :func:`on_pyarrow_fs_imported` once the
program imported ``pyarrow.fs``, and :func:`on_ray_data_util_imported` once Ray Data's filesystem
wrapper module was imported.

Where it hooks:

- ``pyarrow.fs._resolve_filesystem_and_path`` and ``pyarrow.fs._ensure_filesystem``, the two
  functions every pyarrow reader and writer (``pyarrow.parquet``, ``pyarrow.dataset``,
  ``pyarrow.orc``, ``pyarrow.fs.copy_files``) turns its ``filesystem=``/URI argument into a
  filesystem with: **when pyarrow itself calls them**, an ``S3FileSystem`` (or a
  ``SubTreeFileSystem`` over one) comes back as a ``PyFileSystem`` whose handler
  (:class:`TrackingHandler`) delegates every call to the real filesystem and records what it did.
  Called from anywhere else (the program, Ray Data) they answer unchanged, so the program's own
  ``S3FileSystem`` objects stay what they were (``isinstance`` checks, ``type_name``).
- Ray Data wraps every filesystem in its own ``RetryingPyFileSystemHandler`` (a Python class): its
  ``open_*``, ``copy_file``, ``move`` and ``delete_*`` methods are wrapped the same way when the
  filesystem under it is S3.

What a tracked filesystem records:

- a file opened for reading: its ETag/version/size come from the ``HeadObject`` pyarrow makes
  at open (``NativeFile.metadata()``); each read is a ranged ``GetObject`` read (``byte_ranges``,
  as pyarrow's own ranged GETs), except that reads in order from byte 0 are hashed while read and,
  when they reach the end, make one whole read with the ``blake3``; a file opened and not read is a
  ``head``;
- a stream written: at close, one write with the size and the BLAKE3 of the bytes (hashed while
  written) and the ETag of **one** ``HeadObject`` made after the upload (through the real
  filesystem: ``open_input_file(path).metadata()``);
- ``copy_file``/``move``: a read of the source (a ``HeadObject`` before, for its ETag) and a write of
  the target (one after); ``move`` also deletes the source; ``delete_file``/``delete_dir``/
  ``delete_dir_contents``: a delete of each file (listed before the delete).

Nothing here raises into the program: the real filesystem's answers and exceptions reach it
unchanged, tracking failures are counted (``s3_capture_failed``).
"""

from __future__ import annotations

import ctypes
import functools
import re
import sys
import threading
import types
from typing import Any

from . import s3, spool

_installed = False
_ray_installed = False
_install_lock = threading.Lock()

_MULTIPART_ETAG = re.compile(r'"?[0-9a-fA-F]+-(\d+)"?$')

#: pyarrow's own modules: only their calls of the resolving functions get a tracked filesystem.
_PYARROW_PREFIX = "pyarrow."

#: Modules that bound the resolving functions by name at their import (``from pyarrow.fs import …``).
_BINDING_MODULES = ("pyarrow.parquet.core", "pyarrow.orc", "pyarrow.feather", "pyarrow.dataset")


# ---------------------------------------------------------------------------------------------
# Tags: an event is written with the calling thread's tag, as file I/O is. Arrow makes most calls
# from its own C++ threads; in a Ray worker those follow the task the worker runs (the preload's
# roar_get_tag, docs/architecture.md "Attribution"), so nothing here sets a tag on them (setting
# one would make the thread a tag holder of its own). Only s3.py's hashing thread, which writes a
# digest once it is done, takes the tag of the thread it works for (as s3.py does).


def _emit(event: dict[str, Any]) -> None:
    event["client"] = "pyarrow"
    s3._emit(event)


# ---------------------------------------------------------------------------------------------
# Hashing the bytes that pass: in call order, inline for small chunks and on s3.py's hashing thread
# once a large one came (everything after it follows it there, keeping the order).


class _Digest:
    __slots__ = ("_background", "_hasher")

    def __init__(self) -> None:
        self._hasher = s3.new_hasher()
        self._background = False

    def update(self, data: Any) -> None:
        hasher = self._hasher
        if hasher is None:
            return
        if self._background or len(data) >= s3.BACKGROUND_FROM_BYTES:
            self._background = True
            s3._hashing_thread.submit(lambda: _feed(hasher, data))
        else:
            _feed(hasher, data)

    @property
    def in_background(self) -> bool:
        return self._background

    def when_done(self, callback: Any) -> None:
        """``callback(digest)``, now or on the hashing thread once it hashed everything given."""
        hasher = self._hasher
        if hasher is None:
            callback(None)
        elif not self._background:
            callback(hasher.hexdigest())
        else:
            s3._hashing_thread.submit(lambda: callback(hasher.hexdigest()))

    def result(self) -> str | None:
        pending = s3._Pending()
        self.when_done(pending.finish)
        return pending.result()


def _feed(hasher: Any, data: Any) -> None:
    address = getattr(data, "address", None)  # a pyarrow Buffer: hashed where it lies, no copy
    if address is not None and isinstance(hasher, s3._NativeHasher):
        size = int(data.size)
        if size:
            hasher._lib.roar_hasher_update(hasher._state, ctypes.c_void_p(address), size)
        return
    hasher.update(data)


# ---------------------------------------------------------------------------------------------
# What S3 said about an object, from the metadata of a file pyarrow opened (its HeadObject).


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _object_facts(native: Any) -> dict[str, Any]:
    metadata = native.metadata() or {}
    facts: dict[str, Any] = {"etag": _text(metadata.get("ETag") or metadata.get(b"ETag"))}
    facts["version_id"] = s3._version(_text(metadata.get("VersionId") or metadata.get(b"VersionId")))
    length = _text(metadata.get("Content-Length") or metadata.get(b"Content-Length"))
    facts["size"] = int(length) if length is not None else None
    return facts


def _head(fs: Any, path: str) -> dict[str, Any] | None:
    """One ``HeadObject`` through the real filesystem (pyarrow's ``open_input_file`` makes it)."""
    try:
        native = fs.open_input_file(path)
        try:
            return _object_facts(native)
        finally:
            native.close()
    except Exception:
        spool.count("s3_pyarrow_head_failed")
        return None


def _url(path: str) -> str:
    return "s3://" + path.lstrip("/")


# ---------------------------------------------------------------------------------------------
# At exit: Arrow may still be releasing a file on one of its threads (a parquet reader's last
# reference dropped by a future's callback just after the program got its table); releasing a
# Python file takes the GIL, which a thread cannot get once the interpreter is finalizing (the
# process aborts: "terminate called without an active exception"). So the exit waits until the
# number of tracked files alive stopped falling (``_SETTLE_SECONDS``; at most ``_SETTLE_LIMIT``).

_live_files = 0
_SETTLE_SECONDS = 0.05
_SETTLE_LIMIT = 2.0


def _settle_at_exit() -> None:
    import time

    if _live_files <= 0:
        s3._hashing_thread.drain()
        return
    deadline = time.monotonic() + _SETTLE_LIMIT
    last, since = _live_files, time.monotonic()
    while _live_files > 0 and time.monotonic() < deadline:
        time.sleep(0.005)  # the GIL is free for Arrow's threads meanwhile
        if _live_files != last:
            last, since = _live_files, time.monotonic()
        elif time.monotonic() - since >= _SETTLE_SECONDS:
            break
    s3._hashing_thread.drain()  # digests of files finished meanwhile (its own exit drain may have run)


_live_lock = threading.Lock()


def _file_opened() -> None:
    global _live_files
    with _live_lock:
        _live_files += 1


def _file_released() -> None:
    global _live_files
    with _live_lock:
        _live_files -= 1


# ---------------------------------------------------------------------------------------------
# Streams handed to Arrow (as ``pyarrow.PythonFile``): every call goes to the real file, whose
# answers are returned as they are.


class _TrackedInput:
    """A file opened for reading. Arrow calls ``seek``/``tell``/``read_buffer``/``read``/``close``."""

    def __init__(self, native: Any, url: str) -> None:
        self._native = native
        self._url = url
        self._facts = _object_facts(native)
        self._size = self._facts.get("size")
        self._position = 0
        self._prefix = 0  # bytes read in order from 0 and hashed, not yet recorded
        self._digest: _Digest | None = _Digest()
        self._recorded_any = False
        self._finished = False
        self.mode = "rb"
        _file_opened()

    # Arrow's calls -----------------------------------------------------------------------
    def read_buffer(self, nbytes: int | None = None) -> Any:
        start = self._position
        data = self._native.read_buffer(nbytes)
        self._position = start + len(data)
        self._saw(start, data)
        return data

    def read(self, nbytes: int | None = None) -> Any:
        start = self._position
        data = self._native.read(nbytes)
        self._position = start + len(data)
        self._saw(start, data)
        return data

    def seek(self, position: int, whence: int = 0) -> int:
        self._position = self._native.seek(position, whence)
        return self._position

    def tell(self) -> int:
        self._position = self._native.tell()
        return self._position

    def size(self) -> int:
        return self._native.size()

    def close(self) -> None:
        try:
            self._native.close()
        finally:
            self._finish()

    @property
    def closed(self) -> bool:
        return bool(self._native.closed)

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return bool(self._native.seekable())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._native, name)

    def __del__(self) -> None:
        if "_finished" in self.__dict__:
            _file_released()
            self._finish()

    # Recording ---------------------------------------------------------------------------
    def _event(self, **fields: Any) -> dict[str, Any]:
        return {
            "event": "s3",
            "op": "read",
            "api": "GetObject",
            "url": self._url,
            "etag": self._facts.get("etag"),
            "version_id": self._facts.get("version_id"),
            "size": self._size,
            **fields,
        }

    def _saw(self, start: int, data: Any) -> None:
        try:
            count = len(data)
            if not count or self._finished:
                return
            end = start + count
            digest = self._digest
            if digest is not None and start == self._prefix:
                digest.update(data)
                self._prefix = end
                if self._size is not None and end >= self._size:
                    self._whole()
                return
            self._flush_prefix()
            self._recorded_any = True
            _emit(self._event(byte_ranges=[[start, end]]))
        except Exception:
            spool.count("s3_capture_failed")

    def _whole(self) -> None:
        digest, self._digest, self._prefix = self._digest, None, 0
        self._recorded_any = True
        event = self._event()
        if digest is None:
            _emit(event)
            return
        if not digest.in_background:
            _emit({**event, "blake3": digest.result()})
            return
        tag = spool.get_tag()  # the reader's: the hashing thread writes the event in its name

        def emit(blake3: str | None) -> None:
            spool.set_tag(tag)
            _emit({**event, "blake3": blake3})

        digest.when_done(emit)

    def _flush_prefix(self) -> None:
        """Reads in order from 0 that did not reach the end: one ranged read."""
        if self._digest is None:
            return
        prefix, self._digest, self._prefix = self._prefix, None, 0
        if prefix:
            self._recorded_any = True
            _emit(self._event(byte_ranges=[[0, prefix]]))

    def _finish(self) -> None:
        if self._finished:
            return
        try:
            self._flush_prefix()
            if not self._recorded_any:
                _emit({**self._event(), "op": "head", "api": "HeadObject"})
        except Exception:
            spool.count("s3_capture_failed")
        finally:
            self._finished = True


class _TrackedOutput:
    """A stream written: ``write``/``flush``/``tell``/``close``; recorded once it closed."""

    def __init__(self, native: Any, fs: Any, path: str) -> None:
        self._native = native
        self._fs = fs
        self._path = path
        self._digest = _Digest()
        self._written = 0
        self._recorded = False
        self.mode = "wb"
        _file_opened()

    def __del__(self) -> None:
        if "_recorded" in self.__dict__:
            _file_released()

    def write(self, data: Any) -> Any:
        result = self._native.write(data)
        try:
            self._digest.update(data)
            self._written += len(data)
        except Exception:
            spool.count("s3_capture_failed")
        return result

    def flush(self) -> None:
        self._native.flush()

    def tell(self) -> int:
        return self._native.tell()

    def close(self) -> None:
        already = self._native.closed
        self._native.close()
        if not already and not self._recorded:
            self._recorded = True
            self._record()

    @property
    def closed(self) -> bool:
        return bool(self._native.closed)

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._native, name)

    def _record(self) -> None:
        try:
            facts = _head(self._fs, self._path) or {}
            etag = facts.get("etag")
            multipart = _MULTIPART_ETAG.match(etag or "")
            _emit(
                {
                    "event": "s3",
                    "op": "write",
                    "api": "CompleteMultipartUpload" if multipart else "PutObject",
                    "url": _url(self._path),
                    "etag": etag,
                    "version_id": facts.get("version_id"),
                    "size": self._written,
                    "blake3": self._digest.result(),
                    "parts": int(multipart.group(1)) if multipart else None,
                },
            )
        except Exception:
            spool.count("s3_capture_failed")


# ---------------------------------------------------------------------------------------------
# The operations, on the real S3 filesystem ``fs`` (paths are ``bucket/key``), shared by the
# tracking handler and Ray Data's wrapped handler. ``opened`` is what the real call returned.


def _python_file(obj: Any, mode: str) -> Any:
    import pyarrow

    return pyarrow.PythonFile(obj, mode=mode)


def track_input(opened: Any, path: str) -> Any:
    try:
        return _python_file(_TrackedInput(opened, _url(path)), "r")
    except Exception:
        spool.count("s3_capture_failed")
        return opened


def track_output(opened: Any, fs: Any, path: str) -> Any:
    try:
        return _python_file(_TrackedOutput(opened, fs, path), "w")
    except Exception:
        spool.count("s3_capture_failed")
        return opened


def _files_under(fs: Any, path: str) -> list[str]:
    try:
        from pyarrow.fs import FileSelector, FileType

        infos = fs.get_file_info(FileSelector(path, recursive=True, allow_not_found=True))
        return [info.path for info in infos if info.type == FileType.File]
    except Exception:
        spool.count("s3_capture_failed")
        return []


def _record_deletes(paths: list[str]) -> None:
    for path in paths:
        _emit({"event": "s3", "op": "delete", "api": "DeleteObject", "url": _url(path)})


def tracked_copy(call: Any, fs: Any, src: str, dest: str, move: bool) -> Any:
    """``call()`` copies (or moves) ``src`` to ``dest``: a read of the source, a write of the target
    (one ``HeadObject`` each: before, after), and for a move a delete of the source."""
    source = _head(fs, src)
    result = call()
    try:
        if source is not None:  # a file (a directory has no HeadObject): directory moves are not recorded
            target = _head(fs, dest) or {}
            api = "CopyObject"
            _emit(
                {
                    "event": "s3",
                    "op": "read",
                    "api": api,
                    "url": _url(src),
                    "etag": source.get("etag"),
                    "version_id": source.get("version_id"),
                    "size": source.get("size"),
                },
            )
            _emit(
                {
                    "event": "s3",
                    "op": "write",
                    "api": api,
                    "url": _url(dest),
                    "etag": target.get("etag"),
                    "version_id": target.get("version_id"),
                    "size": target.get("size", source.get("size")),
                    "copied_from": _url(src),
                },
            )
            if move:
                _record_deletes([src])
    except Exception:
        spool.count("s3_capture_failed")
    return result


def tracked_delete(call: Any, fs: Any, path: str | None, directory: bool) -> Any:
    doomed = _files_under(fs, path) if directory and path is not None else [path] if path is not None else []
    result = call()
    try:
        _record_deletes(doomed)
    except Exception:
        spool.count("s3_capture_failed")
    return result


# ---------------------------------------------------------------------------------------------
# The handler of a tracked filesystem: ``PyFileSystem(TrackingHandler(real))``.


def _handler_base() -> type:
    from pyarrow.fs import FileSystemHandler

    return FileSystemHandler


_handler_class: Any = None


def _tracking_handler_class() -> Any:
    global _handler_class
    if _handler_class is not None:
        return _handler_class

    class TrackingHandler(_handler_base()):  # type: ignore[misc]
        """Delegates to the real ``S3FileSystem`` and records what it did. Pickled as the real
        filesystem it wraps (made tracking again where it is unpickled)."""

        def __init__(self, fs: Any) -> None:
            self.fs = fs

        def __reduce__(self) -> Any:
            return (_rebuild_handler, (self.fs,))

        def __eq__(self, other: Any) -> bool:
            if isinstance(other, TrackingHandler):
                return bool(self.fs.equals(other.fs))
            return NotImplemented

        def __ne__(self, other: Any) -> bool:
            if isinstance(other, TrackingHandler):
                return not self.fs.equals(other.fs)
            return NotImplemented

        def get_type_name(self) -> str:
            return str(self.fs.type_name)

        def normalize_path(self, path: str) -> str:
            return self.fs.normalize_path(path)

        def get_file_info(self, paths: Any) -> Any:
            return self.fs.get_file_info(paths)

        def get_file_info_selector(self, selector: Any) -> Any:
            return self.fs.get_file_info(selector)

        def create_dir(self, path: str, recursive: bool) -> None:
            self.fs.create_dir(path, recursive=recursive)

        def delete_dir(self, path: str) -> None:
            tracked_delete(lambda: self.fs.delete_dir(path), self.fs, path, True)

        def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
            tracked_delete(
                lambda: self.fs.delete_dir_contents(path, missing_dir_ok=missing_dir_ok),
                self.fs,
                path,
                True,
            )

        def delete_root_dir_contents(self) -> None:
            self.fs.delete_dir_contents("/", accept_root_dir=True)

        def delete_file(self, path: str) -> None:
            tracked_delete(lambda: self.fs.delete_file(path), self.fs, path, False)

        def move(self, src: str, dest: str) -> None:
            tracked_copy(lambda: self.fs.move(src, dest), self.fs, src, dest, True)

        def copy_file(self, src: str, dest: str) -> None:
            tracked_copy(lambda: self.fs.copy_file(src, dest), self.fs, src, dest, False)

        def open_input_stream(self, path: str) -> Any:
            opened = self.fs.open_input_stream(path, compression=None)
            return track_input(opened, path)

        def open_input_file(self, path: str) -> Any:
            return track_input(self.fs.open_input_file(path), path)

        def open_output_stream(self, path: str, metadata: Any) -> Any:
            opened = self.fs.open_output_stream(path, compression=None, metadata=metadata)
            return track_output(opened, self.fs, path)

        def open_append_stream(self, path: str, metadata: Any) -> Any:
            return self.fs.open_append_stream(path, compression=None, metadata=metadata)

    _handler_class = TrackingHandler
    return TrackingHandler


def _rebuild_handler(fs: Any) -> Any:
    return _tracking_handler_class()(fs)


def _s3_class() -> Any:
    module = sys.modules.get("pyarrow._s3fs")
    return getattr(module, "S3FileSystem", None) if module is not None else None


def tracked(fs: Any) -> Any:
    """A tracking ``PyFileSystem`` for an ``S3FileSystem`` (a ``SubTreeFileSystem`` over one: the same
    sub-tree over a tracking one); any other filesystem as it is."""
    try:
        s3_class = _s3_class()
        if s3_class is None or fs is None:
            return fs
        from pyarrow.fs import PyFileSystem, SubTreeFileSystem

        if isinstance(fs, s3_class):
            return PyFileSystem(_tracking_handler_class()(fs))
        if isinstance(fs, SubTreeFileSystem) and isinstance(fs.base_fs, s3_class):
            return SubTreeFileSystem(fs.base_path, PyFileSystem(_tracking_handler_class()(fs.base_fs)))
    except Exception:
        spool.count("s3_capture_failed")
    return fs


def _called_by_pyarrow(depth: int = 2, *, own_module_too: bool = True) -> bool:
    """Whether the caller of the caller is pyarrow's own code. ``_resolve_filesystem_and_path``
    calls ``_ensure_filesystem`` itself: that call is decided by the outer one (``own_module_too``)."""
    try:
        name = sys._getframe(depth).f_globals.get("__name__", "")
    except ValueError:
        return False
    if not isinstance(name, str) or not name.startswith(_PYARROW_PREFIX):
        return False
    return own_module_too or name != "pyarrow.fs"


def _wrap_resolve(original: Any) -> Any:
    @functools.wraps(original)
    def _resolve_filesystem_and_path(*args: Any, **kwargs: Any) -> Any:
        filesystem, path = original(*args, **kwargs)
        if _called_by_pyarrow():
            filesystem = tracked(filesystem)
        return filesystem, path

    _resolve_filesystem_and_path.__roar_s3__ = original  # type: ignore[attr-defined]
    return _resolve_filesystem_and_path


def _wrap_ensure(original: Any) -> Any:
    @functools.wraps(original)
    def _ensure_filesystem(*args: Any, **kwargs: Any) -> Any:
        filesystem = original(*args, **kwargs)
        if _called_by_pyarrow(own_module_too=False):
            filesystem = tracked(filesystem)
        return filesystem

    _ensure_filesystem.__roar_s3__ = original  # type: ignore[attr-defined]
    return _ensure_filesystem


def on_pyarrow_fs_imported(module: types.ModuleType) -> None:
    """pyarrow's readers and writers resolve S3 to a tracking filesystem (once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _installed = True
    try:
        import atexit

        atexit.register(_settle_at_exit)
        replaced = {}
        for name, wrap in (("_resolve_filesystem_and_path", _wrap_resolve), ("_ensure_filesystem", _wrap_ensure)):
            original = getattr(module, name)
            if getattr(original, "__roar_s3__", None) is None:
                replaced[original] = wrap(original)
                setattr(module, name, replaced[original])
        for binding in _BINDING_MODULES:  # imported before us: their names still point at the originals
            bound = sys.modules.get(binding)
            for attribute, value in list(vars(bound).items()) if bound is not None else []:
                if callable(value) and value in replaced:
                    setattr(bound, attribute, replaced[value])
    except Exception:
        spool.count("s3_install_failed")


def untracked(fs: Any) -> Any:
    """The real filesystem under a tracking one (the program's own kind of object); any other as it is."""
    try:
        handler_class = _handler_class
        if handler_class is None:
            return fs
        from pyarrow.fs import PyFileSystem, SubTreeFileSystem

        if isinstance(fs, PyFileSystem) and isinstance(fs.handler, handler_class):
            return fs.handler.fs
        if isinstance(fs, SubTreeFileSystem):
            base = untracked(fs.base_fs)
            return fs if base is fs.base_fs else SubTreeFileSystem(fs.base_path, base)
    except Exception:
        spool.count("s3_capture_failed")
    return fs


def on_pyarrow_parquet_imported(module: types.ModuleType) -> None:
    """``ParquetDataset.filesystem`` answers the program's kind of filesystem, not the tracking one."""
    try:
        dataset_class = module.ParquetDataset
        original = dataset_class.__dict__["filesystem"]
        if isinstance(original, property) and original.fget is not None and not hasattr(original.fget, "__roar_s3__"):
            getter = original.fget

            @functools.wraps(getter)
            def filesystem(self: Any) -> Any:
                return untracked(getter(self))

            filesystem.__roar_s3__ = getter  # type: ignore[attr-defined]
            dataset_class.filesystem = property(filesystem, doc=original.__doc__)
    except Exception:
        spool.count("s3_install_failed")


# ---------------------------------------------------------------------------------------------
# Ray Data: ``RetryingPyFileSystemHandler`` wraps the real filesystem in ``self._fs``.


def _ray_method(original: Any, kind: str) -> Any:
    @functools.wraps(original)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        fs = getattr(self, "_fs", None)
        s3_class = _s3_class()
        if s3_class is None or not isinstance(fs, s3_class):
            return original(self, *args, **kwargs)
        call = lambda: original(self, *args, **kwargs)  # noqa: E731
        if kind == "input":
            return track_input(call(), _arg(args, kwargs, 0, "path"))
        if kind == "output":
            return track_output(call(), fs, _arg(args, kwargs, 0, "path"))
        if kind in ("copy", "move"):
            src, dest = _arg(args, kwargs, 0, "src"), _arg(args, kwargs, 1, "dest")
            return tracked_copy(call, fs, src, dest, kind == "move")
        return tracked_delete(call, fs, _arg(args, kwargs, 0, "path"), kind == "delete_dir")

    method.__roar_s3__ = original  # type: ignore[attr-defined]
    return method


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


_RAY_METHODS = (
    ("open_input_file", "input"),
    ("open_input_stream", "input"),
    ("open_output_stream", "output"),
    ("copy_file", "copy"),
    ("move", "move"),
    ("delete_file", "delete_file"),
    ("delete_dir", "delete_dir"),
    ("delete_dir_contents", "delete_dir"),
)


def on_ray_data_util_imported(module: types.ModuleType) -> None:
    """Ray Data's retrying handler records what it does on S3 (once per process)."""
    global _ray_installed
    with _install_lock:
        if _ray_installed:
            return
        _ray_installed = True
    from . import ray_compat

    handler = ray_compat.ray_data_filesystem_handler()
    if handler is None:
        return
    try:
        for name, kind in _RAY_METHODS:
            original = getattr(handler, name, None)
            if original is not None and getattr(original, "__roar_s3__", None) is None:
                setattr(handler, name, _ray_method(original, kind))
    except Exception:
        spool.count("s3_install_failed")
