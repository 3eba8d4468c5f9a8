"""A small reader of the spool format (docs/spool-format.md) for the tests.

Fields are unescaped to bytes (`%XX` → the byte); paths are given as `bytes` (`path`) and as `str`
decoded with the file-system encoding and surrogateescape (`fspath`), so non-UTF-8 names survive.
Truncated lines (no final newline) and corrupt lines are collected in `warnings`, never raised.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

_ESCAPE = re.compile(rb"%([0-9A-F]{2})")

# Fields after the type letter, as named in docs/spool-format.md. X and C have variable tails.
FIELDS: dict[str, tuple[str, ...]] = {
    "H": ("version", "pid", "ppid", "start_ns", "exe", "cwd"),
    "F": ("tag", "open_ns", "close_ns", "mode", "bytes_read", "bytes_written", "dev", "ino", "size",
          "mtime_ns", "hash", "path"),
    "O": ("tag", "ns", "mode", "path"),
    "M": ("tag", "ns", "old_path", "new_path"),
    "L": ("tag", "ns", "old_path", "new_path"),
    "D": ("tag", "ns", "path"),
    "T": ("tag", "ns", "path", "length"),
    "X": ("tag", "ns", "path"),
    "P": ("tag", "ns", "child_pid"),
    "W": ("tag", "ns", "kind", "detail"),
    "E": ("tag", "ns", "json"),
    "C": ("ns",),
    "Z": ("ns",),
}
INTEGER_FIELDS = {"version", "pid", "ppid", "start_ns", "open_ns", "close_ns", "bytes_read", "bytes_written",
                  "dev", "ino", "size", "mtime_ns", "ns", "length", "child_pid"}
PATH_FIELDS = {"path", "old_path", "new_path", "exe", "cwd"}
TEXT_FIELDS = {"tag", "mode", "hash", "kind", "detail", "json"}


def unescape(raw: bytes) -> bytes:
    return _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)


@dataclass
class Record:
    type: str
    values: dict[str, object]
    extra: list[bytes]  # X: argv; C: key=value
    file: Path
    line: int

    def __getattr__(self, name: str) -> object:
        try:
            return self.values[name]
        except KeyError as e:
            raise AttributeError(name) from e

    @property
    def argv(self) -> list[str]:
        return [os.fsdecode(a) for a in self.extra]

    @property
    def counters(self) -> dict[str, int]:
        out = {}
        for kv in self.extra:
            k, _, v = kv.partition(b"=")
            out[k.decode()] = int(v)
        return out


@dataclass
class SpoolFile:
    path: Path
    records: list[Record] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def header(self) -> Record:
        return self.records[0]


def parse_file(path: Path) -> SpoolFile:
    sf = SpoolFile(Path(path))
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    if tail:
        sf.warnings.append(f"{path}:{len(lines) + 1}: truncated line skipped")
    for number, raw in enumerate(lines, start=1):
        rec = _parse_line(raw, Path(path), number)
        if rec is None:
            sf.warnings.append(f"{path}:{number}: corrupt line skipped")
        else:
            sf.records.append(rec)
    if sf.records and sf.records[0].type != "H":
        sf.warnings.append(f"{path}: first record is not H")
    return sf


def _parse_line(raw: bytes, path: Path, number: int) -> Record | None:
    parts = raw.split(b"\t")
    kind = parts[0].decode("ascii", "replace")
    names = FIELDS.get(kind)
    if names is None or len(parts) - 1 < len(names):
        return None
    if kind not in ("X", "C") and len(parts) - 1 != len(names):
        return None
    values: dict[str, object] = {}
    try:
        for name, rawv in zip(names, parts[1:], strict=False):
            v = unescape(rawv)
            if name in INTEGER_FIELDS:
                values[name] = int(v)
            elif name in PATH_FIELDS:
                values[name] = v
                values["fs" + name] = os.fsdecode(v)
            else:
                values[name] = v.decode("utf-8", "surrogateescape")
    except ValueError:
        return None
    extra = [unescape(p) for p in parts[1 + len(names):]]
    return Record(kind, values, extra, path, number)


class Spool:
    """All spool files of one directory."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.files = [parse_file(p) for p in sorted(self.directory.glob("*.spool"))]

    @property
    def warnings(self) -> list[str]:
        return [w for f in self.files for w in f.warnings]

    def records(self, kind: str | None = None) -> list[Record]:
        out = [r for f in self.files for r in f.records if kind is None or r.type == kind]
        out.sort(key=lambda r: r.values.get("ns", r.values.get("close_ns", r.values.get("start_ns", 0))))
        return out

    def files_of(self, kind: str) -> Iterator[Record]:
        return iter(self.records(kind))

    def f_records(self, path: str | bytes | os.PathLike | None = None) -> list[Record]:
        recs = self.records("F")
        if path is None:
            return recs
        want = os.fsencode(path)
        return [r for r in recs if r.path == want]

    def writes(self, path: str | bytes | os.PathLike) -> list[Record]:
        return [r for r in self.f_records(path) if "w" in r.mode]

    def reads(self, path: str | bytes | os.PathLike) -> list[Record]:
        return [r for r in self.f_records(path) if "w" not in r.mode]

    def of_type(self, record_type: str, **match: object) -> list[Record]:
        out = []
        for r in self.records(record_type):
            ok = True
            for k, v in match.items():
                have = r.values.get(k)
                if isinstance(v, (str, os.PathLike)) and isinstance(have, bytes):
                    v = os.fsencode(v)
                if have != v:
                    ok = False
                    break
            if ok:
                out.append(r)
        return out

    def counters(self) -> list[dict[str, int]]:
        """The last C record of every file."""
        out = []
        for f in self.files:
            cs = [r for r in f.records if r.type == "C"]
            if cs:
                out.append(cs[-1].counters)
        return out


def all_records(spools: Iterable[Spool]) -> list[Record]:
    return [r for s in spools for r in s.records()]
