"""S3 capture through botocore: every S3 operation of every client in this process (docs/s3.md).

Owns the ``s3``, ``s3_content`` and ``s3_transfer`` events. botocore is never imported here: the
boot hook calls :func:`on_botocore_imported` once the program imported it, and this module
registers a session initializer (``botocore.register_initializer``), so every session made from
then on — boto3's default session, s3transfer's clients, aiobotocore's ``AioSession`` — carries
the handlers, whichever thread makes the calls. Attribution is the calling thread's tag, as for
file I/O: the events go through ``spool.emit``.

Handlers (all return ``None``: botocore treats a handler's answer to ``before-call`` as the
response, so these never answer):

- ``before-parameter-build.s3.<Operation>``, registered first (botocore's own handlers would turn
  a bytes body into a file object): note bucket, key, range, copy source, upload id and part in
  the request's own ``context`` dict, and start hashing a ``PutObject`` body given as bytes/text.
- ``after-call.s3``: a 2xx answer becomes an event; any other status, and ``after-call-error``
  (no answer at all), record nothing: a failed call is no I/O.

A ``GetObject`` body is hashed while the program reads it (its raw stream is wrapped; the bytes
the program gets are the same objects; large bodies by the hashing thread, in reading order),
and the digest follows as an ``s3_content`` event once the last byte was read. boto3's managed
transfers name their local file in an ``s3_transfer`` event. Nothing here raises into the
program: every failure is counted in ``spool.STATS`` (``s3_capture_failed``), and the call goes on
as without roar.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import threading
import types
from typing import Any

from . import spool

#: Full-object and part checksums S3 may return, as ``response field → roar name``.
_CHECKSUM_FIELDS = {
    "ChecksumCRC64NVME": "crc64nvme",
    "ChecksumCRC32": "crc32",
    "ChecksumCRC32C": "crc32c",
    "ChecksumSHA1": "sha1",
    "ChecksumSHA256": "sha256",
}

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")

_installed = False
_install_lock = threading.Lock()


# ---------------------------------------------------------------------------------------------
# BLAKE3 of bytes seen in the process: the preload library's hasher when it is loaded (exported
# ``roar_hasher_*``), else the optional ``blake3`` module, else none (the event then has no blake3).


class _NativeHasher:
    __slots__ = ("_state",)
    _lib: Any = None
    _words = 0

    def __init__(self) -> None:
        self._state = (ctypes.c_uint64 * self._words)()
        self._lib.roar_hasher_init(self._state)

    def update(self, data: Any) -> None:
        if isinstance(data, bytes):
            self._lib.roar_hasher_update(self._state, data, len(data))
        else:
            view = memoryview(data).cast("B")
            if not view.nbytes:
                return
            if view.readonly:
                chunk = bytes(view)
                self._lib.roar_hasher_update(self._state, chunk, len(chunk))
            else:
                buffer = (ctypes.c_char * view.nbytes).from_buffer(view)
                self._lib.roar_hasher_update(self._state, buffer, view.nbytes)

    def hexdigest(self) -> str:
        out = ctypes.create_string_buffer(65)
        self._lib.roar_hasher_hex(self._state, out)
        return out.value.decode("ascii")


def _native_hasher_class() -> type | None:
    try:
        lib = ctypes.CDLL(None)
        if not hasattr(lib, "roar_hasher_init"):
            return None
        lib.roar_hasher_size.restype = ctypes.c_size_t
        lib.roar_hasher_init.argtypes = [ctypes.c_void_p]
        lib.roar_hasher_update.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        lib.roar_hasher_hex.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        for name in ("roar_hasher_init", "roar_hasher_update", "roar_hasher_hex"):
            getattr(lib, name).restype = None
        _NativeHasher._lib = lib
        _NativeHasher._words = (int(lib.roar_hasher_size()) + 7) // 8  # in uint64 words: the state is aligned
        return _NativeHasher
    except Exception:
        spool.count("s3_hasher_unavailable")
        return None


_hasher_class: Any | None = None
_hasher_chosen = False


def new_hasher() -> Any | None:
    """A fresh BLAKE3 hasher (``update``, ``hexdigest``), or ``None`` when none is available."""
    global _hasher_class, _hasher_chosen
    if not _hasher_chosen:
        _hasher_class = _native_hasher_class()
        if _hasher_class is None:
            try:
                import blake3  # type: ignore[import-not-found]

                _hasher_class = blake3.blake3
            except ImportError:
                _hasher_class = None
        _hasher_chosen = True
    return _hasher_class() if _hasher_class is not None else None


#: Bodies from this size on are hashed by the hashing thread while the request or the program's
#: reading goes on (BLAKE3 of 8 MiB takes ~3.5 ms here: inline, it would be added to every call).
#: Below it the hand-over costs more than hashing inline.
BACKGROUND_FROM_BYTES = 256 << 10


class _Pending:
    """A digest the hashing thread is computing."""

    __slots__ = ("_done", "digest")

    def __init__(self) -> None:
        self._done = threading.Event()
        self.digest: str | None = None

    def finish(self, digest: str | None) -> None:
        self.digest = digest
        self._done.set()

    def result(self) -> str | None:
        self._done.wait()
        return self.digest


class _HashingThread:
    """One daemon thread that runs queued work in order: updates of a stream's hasher stay in the
    order the program read the chunks. Made again in a forked child (threads do not survive fork);
    drained at exit, so a body read just before the program ends still gets its digest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: Any = None
        self._pid = -1

    def submit(self, work: Any) -> None:
        pid = os.getpid()
        if self._pid != pid:
            with self._lock:
                if self._pid != pid:
                    import queue

                    self._queue = queue.SimpleQueue()
                    threading.Thread(target=self._run, args=(self._queue,), name="roar-s3-hash", daemon=True).start()
                    if self._pid == -1:
                        import atexit

                        atexit.register(self.drain)
                    self._pid = pid
        self._queue.put(work)

    @staticmethod
    def _run(work_queue: Any) -> None:
        while True:
            work = work_queue.get()
            try:
                work()
            except Exception:
                spool.count("s3_capture_failed")

    def drain(self, timeout: float = 30.0) -> None:
        if self._pid != os.getpid() or self._queue is None:
            return
        done = _Pending()
        self._queue.put(lambda: done.finish(None))
        done._done.wait(timeout)


_hashing_thread = _HashingThread()


def digest_of_body(body: Any) -> Any:
    """The BLAKE3 of a request body given as bytes or text: a digest now, or a ``_Pending`` for a
    large body (the hashing thread works while botocore sends it); ``None`` when no hasher exists."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    hasher = new_hasher()
    if hasher is None:
        return None
    if len(data) < BACKGROUND_FROM_BYTES:
        hasher.update(data)
        return hasher.hexdigest()
    pending = _Pending()

    def work() -> None:
        digest = None
        try:
            hasher.update(data)
            digest = hasher.hexdigest()
        finally:
            pending.finish(digest)

    _hashing_thread.submit(work)
    return pending


# ---------------------------------------------------------------------------------------------
# Events


def _emit(event: dict[str, Any]) -> None:
    event["v"] = 1
    spool.emit(json.dumps({k: v for k, v in event.items() if v is not None}, separators=(",", ":")))


def _url(bucket: str | None, key: str | None) -> str | None:
    if not bucket or key is None:
        return None
    return f"s3://{bucket}/{key}"


def _version(value: Any) -> str | None:
    """S3's version id; ``"null"`` is what an unversioned bucket answers."""
    return None if value in (None, "", "null") else str(value)


def _checksums(parsed: dict[str, Any]) -> dict[str, str] | None:
    found = {name: parsed[field] for field, name in _CHECKSUM_FIELDS.items() if parsed.get(field)}
    if not found:
        return None
    kind = parsed.get("ChecksumType")
    if kind:
        found["type"] = str(kind)
    return found


_call_ids = iter(range(1, 1 << 62))
_call_id_lock = threading.Lock()


def _next_call_id() -> str:
    with _call_id_lock:
        return f"{os.getpid()}-{next(_call_ids)}"


# ---------------------------------------------------------------------------------------------
# Multipart uploads: one artifact for the whole object. Parts may go up from many threads
# (s3transfer): their sizes add up here, keyed by upload id.


class _Uploads:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sizes: dict[str, dict[int, int | None]] = {}

    def started(self, upload_id: str) -> None:
        with self._lock:
            self._sizes.setdefault(upload_id, {})

    def part(self, upload_id: str, number: int, size: int | None) -> None:
        with self._lock:
            self._sizes.setdefault(upload_id, {})[number] = size

    def finished(self, upload_id: str, numbers: list[int]) -> int | None:
        """The object's size: the sum of the parts named by the completion, when all are known."""
        with self._lock:
            parts = self._sizes.pop(upload_id, {})
        sizes = [parts.get(number) for number in numbers]
        if not sizes or any(size is None for size in sizes):
            return None
        return sum(size for size in sizes if size is not None)

    def aborted(self, upload_id: str) -> None:
        with self._lock:
            self._sizes.pop(upload_id, None)


_uploads = _Uploads()


def _body_size(body: Any) -> int | None:
    if body is None:
        return 0
    if isinstance(body, (bytes, bytearray)):
        return len(body)
    if isinstance(body, str):
        return len(body.encode("utf-8"))
    try:
        return len(body)  # s3transfer's ReadFileChunk
    except TypeError:
        return None


def _copy_source(source: Any) -> tuple[str | None, str | None, str | None]:
    """(bucket, key, version id) of a ``CopySource`` given as text or as a dict."""
    if isinstance(source, dict):
        return source.get("Bucket"), source.get("Key"), source.get("VersionId")
    if isinstance(source, str):
        from urllib.parse import unquote

        text, _, query = source.lstrip("/").partition("?")
        bucket, _, key = text.partition("/")
        version = None
        for item in query.split("&"):
            name, _, value = item.partition("=")
            if name == "versionId":
                version = value
        return bucket, unquote(key), version
    return None, None, None


# ---------------------------------------------------------------------------------------------
# GetObject bodies: hashed while the program reads them.


class _HashingStream:
    """Wraps the raw stream of a ``StreamingBody``. ``read``/``readinto`` return exactly what the
    raw stream returned; everything else is the raw stream's own attribute."""

    def __init__(self, raw: Any, hasher: Any, expected: int | None, call_id: str) -> None:
        object.__setattr__(self, "_roar_raw", raw)
        object.__setattr__(self, "_roar_hasher", hasher)
        object.__setattr__(self, "_roar_expected", expected)
        object.__setattr__(self, "_roar_seen", 0)
        object.__setattr__(self, "_roar_call", call_id)
        object.__setattr__(self, "_roar_done", False)

    def read(self, *args: Any, **kwargs: Any) -> Any:
        data = self._roar_raw.read(*args, **kwargs)
        self._roar_feed(data, at_end=not data or not args or args[0] is None or (args[0] or 0) < 0)
        return data

    def readinto(self, buffer: Any) -> Any:
        count = self._roar_raw.readinto(buffer)
        self._roar_feed(memoryview(buffer)[: count or 0], at_end=not count)
        return count

    def _roar_feed(self, data: Any, at_end: bool) -> None:
        if self._roar_done:
            return
        try:
            size = len(data)
            hasher = self._roar_hasher
            # A large body is hashed by the hashing thread, chunk by chunk in reading order: the
            # program's read() returns as soon as the bytes are there.
            in_background = (self._roar_expected or 0) >= BACKGROUND_FROM_BYTES
            if size:
                if in_background:
                    chunk = data if isinstance(data, bytes) else bytes(data)  # readinto's buffer is reused
                    _hashing_thread.submit(lambda: hasher.update(chunk))
                else:
                    hasher.update(data)
                object.__setattr__(self, "_roar_seen", self._roar_seen + size)
            expected = self._roar_expected
            if (expected is not None and self._roar_seen >= expected) or (at_end and expected is None):
                object.__setattr__(self, "_roar_done", True)
                event = {"event": "s3_content", "call": self._roar_call, "size": self._roar_seen}
                if not in_background:
                    _emit({**event, "blake3": hasher.hexdigest()})
                    return
                tag = spool.get_tag()  # the reader's: the hashing thread writes the event in its name

                def finish() -> None:
                    spool.set_tag(tag)
                    _emit({**event, "blake3": hasher.hexdigest()})

                _hashing_thread.submit(finish)
        except Exception:
            object.__setattr__(self, "_roar_done", True)
            spool.count("s3_capture_failed")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._roar_raw, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._roar_raw, name, value)

    def __iter__(self) -> Any:
        return iter(self._roar_raw)


def _wrap_body(parsed: dict[str, Any], call_id: str) -> bool:
    body = parsed.get("Body")
    raw = getattr(body, "_raw_stream", None)
    if raw is None or isinstance(raw, _HashingStream):
        return False
    hasher = new_hasher()
    if hasher is None:
        return False
    expected = parsed.get("ContentLength")
    body._raw_stream = _HashingStream(raw, hasher, int(expected) if expected is not None else None, call_id)
    return True


# ---------------------------------------------------------------------------------------------
# Handlers


def _before_parameter_build(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    try:
        operation = model.name
        note: dict[str, Any] = {"bucket": params.get("Bucket"), "key": params.get("Key")}
        if operation == "PutObject":
            body = params.get("Body")
            note["size"] = _body_size(body)
            if isinstance(body, (bytes, bytearray, str)):
                note["blake3"] = digest_of_body(body)
        elif operation == "UploadPart":
            note["size"] = _body_size(params.get("Body"))
            note["upload_id"] = params.get("UploadId")
            note["part"] = params.get("PartNumber")
        elif operation in ("CopyObject", "UploadPartCopy"):
            note["source"] = _copy_source(params.get("CopySource"))
            note["upload_id"] = params.get("UploadId")
        elif operation == "CompleteMultipartUpload":
            note["upload_id"] = params.get("UploadId")
            parts = (params.get("MultipartUpload") or {}).get("Parts") or []
            note["parts"] = [part.get("PartNumber") for part in parts]
        elif operation == "AbortMultipartUpload":
            note["upload_id"] = params.get("UploadId")
        elif operation == "DeleteObject":
            note["version_id"] = params.get("VersionId")
        elif operation in ("GetObject", "HeadObject"):
            note["range"] = params.get("Range")
            note["version_id"] = params.get("VersionId")
        context["roar_s3"] = note
    except Exception:
        spool.count("s3_capture_failed")


def _after_call(http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    try:
        note = context.get("roar_s3")
        if note is None or getattr(http_response, "status_code", 500) >= 300:
            return
        _record(model.name, note, parsed)
    except Exception:
        spool.count("s3_capture_failed")


def _settled(digest: Any) -> str | None:
    """A digest, waiting for the hashing thread if it is still at it (it had the whole request's
    time to finish)."""
    return digest.result() if isinstance(digest, _Pending) else digest


def _record(operation: str, note: dict[str, Any], parsed: dict[str, Any]) -> None:
    url = _url(note.get("bucket"), note.get("key"))
    if operation == "PutObject":
        _emit(
            {
                "event": "s3", "op": "write", "api": operation, "url": url, "etag": parsed.get("ETag"),
                "version_id": _version(parsed.get("VersionId")), "size": note.get("size"),
                "checksums": _checksums(parsed), "blake3": _settled(note.get("blake3")),
            }
        )
    elif operation in ("GetObject", "HeadObject"):
        event: dict[str, Any] = {
            "event": "s3", "op": "read" if operation == "GetObject" else "head", "api": operation, "url": url,
            "etag": parsed.get("ETag"), "version_id": _version(parsed.get("VersionId")),
            "checksums": _checksums(parsed),
        }
        match = _CONTENT_RANGE.match(parsed.get("ContentRange") or "")
        if match:
            start, end, total = match.groups()
            event["byte_ranges"] = [[int(start), int(end) + 1]]
            event["size"] = int(total) if total != "*" else None
        else:
            event["size"] = parsed.get("ContentLength")
        if operation == "GetObject" and not match:
            call_id = _next_call_id()
            if _wrap_body(parsed, call_id):
                event["call"] = call_id
        _emit(event)
    elif operation == "CreateMultipartUpload":
        if parsed.get("UploadId"):
            _uploads.started(parsed["UploadId"])
    elif operation == "UploadPart":
        if note.get("upload_id") and note.get("part") is not None:
            _uploads.part(note["upload_id"], int(note["part"]), note.get("size"))
    elif operation == "CompleteMultipartUpload":
        size = _uploads.finished(note.get("upload_id") or "", [n for n in note.get("parts") or [] if n is not None])
        _emit(
            {
                "event": "s3", "op": "write", "api": operation, "url": url, "etag": parsed.get("ETag"),
                "version_id": _version(parsed.get("VersionId")), "size": size, "checksums": _checksums(parsed),
                "parts": len(note.get("parts") or []),
            }
        )
    elif operation == "AbortMultipartUpload":
        _uploads.aborted(note.get("upload_id") or "")
    elif operation in ("CopyObject", "UploadPartCopy"):
        bucket, key, version = note.get("source") or (None, None, None)
        _emit(
            {
                "event": "s3", "op": "read", "api": operation, "url": _url(bucket, key), "version_id": version,
                "etag": (parsed.get("CopyPartResult") or {}).get("ETag") if operation == "UploadPartCopy" else None,
            }
        )
        if operation == "CopyObject":
            result = parsed.get("CopyObjectResult") or {}
            _emit(
                {
                    "event": "s3", "op": "write", "api": operation, "url": url, "etag": result.get("ETag"),
                    "version_id": _version(parsed.get("VersionId")), "checksums": _checksums(result),
                    "copied_from": _url(bucket, key),
                }
            )
        elif note.get("upload_id"):
            _uploads.part(note["upload_id"], -1, None)  # a copied part: the whole size is not known here
    elif operation == "DeleteObject":
        _emit({"event": "s3", "op": "delete", "api": operation, "url": url, "version_id": note.get("version_id")})
    elif operation == "DeleteObjects":
        for deleted in parsed.get("Deleted") or []:
            _emit(
                {
                    "event": "s3", "op": "delete", "api": operation,
                    "url": _url(note.get("bucket"), deleted.get("Key")), "version_id": deleted.get("VersionId"),
                }
            )


#: The operations recorded. Their ``before-parameter-build`` handlers go first: botocore's own
#: (e.g. turning a ``bytes`` body into a file object) would otherwise hide the body from us.
_OPERATIONS = (
    "PutObject", "GetObject", "HeadObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
    "AbortMultipartUpload", "CopyObject", "UploadPartCopy", "DeleteObject", "DeleteObjects",
)


def _initialize_session(session: Any) -> None:
    try:
        events = session.get_component("event_emitter")
        for operation in _OPERATIONS:
            events.register_first(
                f"before-parameter-build.s3.{operation}", _before_parameter_build, unique_id=f"roar-s3-{operation}"
            )
        events.register("after-call.s3", _after_call, unique_id="roar-s3-after-call")
    except Exception:
        spool.count("s3_capture_failed")


# ---------------------------------------------------------------------------------------------
# boto3's managed transfers: the object and the local file are the same bytes. The local file's
# BLAKE3 is the preload's (the upload read it, the download wrote it); an ``s3_transfer`` event
# names both so reconstitution gives the object that digest without hashing anything again.


def _transfer_wrapper(original: Any, direction: str) -> Any:
    import functools
    import inspect

    signature = inspect.signature(original)

    @functools.wraps(original)
    def transfer(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        try:
            bound = signature.bind(*args, **kwargs)
            filename = os.fspath(bound.arguments["filename"])
            _emit(
                {
                    "event": "s3_transfer", "direction": direction,
                    "url": _url(bound.arguments["bucket"], bound.arguments["key"]),
                    "path": os.path.abspath(filename),
                }
            )
        except Exception:
            spool.count("s3_capture_failed")
        return result

    transfer.__roar_s3_transfer__ = True  # type: ignore[attr-defined]
    return transfer


def on_boto3_transfer_imported(module: types.ModuleType) -> None:
    """``boto3.s3.transfer.S3Transfer``'s ``upload_file``/``download_file`` name their local file."""
    try:
        transfer = module.S3Transfer
        for name, direction in (("upload_file", "upload"), ("download_file", "download")):
            original = getattr(transfer, name)
            if not getattr(original, "__roar_s3_transfer__", False):
                setattr(transfer, name, _transfer_wrapper(original, direction))
    except Exception:
        spool.count("s3_capture_failed")


def on_botocore_imported(botocore: types.ModuleType) -> None:
    """Every botocore session made from now on records its S3 calls (once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _installed = True
    try:
        botocore.register_initializer(_initialize_session)
    except Exception:
        spool.count("s3_capture_failed")
