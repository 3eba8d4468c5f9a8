"""The shared vectors of the live formats (``Tests/vectors/``), checked from Python; Swift checks the same
files (``SpoolVectorTests``, ``SegmentVectorTests``).

- ``spool/records.spool`` read with the tests' spool reader (``spool.py``) gives ``spool/records.json``.
- ``spool/events.json``: ``roar_runtime.spool`` (no preload library: its own spool file) writes exactly
  these ``E`` lines.
- ``segments/batch.rbat`` opens with ``cryptography`` following ``docs/batch-format.md`` byte by byte, holds
  ``segments/batch.json``, and its segments reassemble ``spool/records.spool``.

The keys in ``segments/seal.json`` are fixed, test-only keys.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

import pytest
from sealed_batches import open_batch
from spool import parse_file

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "Tests" / "vectors"

sys.path.insert(0, str(REPO / "python"))

from roar_runtime import spool as runtime_spool  # noqa: E402


def _text(raw: bytes) -> str:
    """A path as the vectors write it: UTF-8 as is, otherwise every non-ASCII byte as ``\\xNN``."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(chr(b) if b < 0x80 else "\\x%02x" % b for b in raw)


def _fields(record) -> dict[str, object]:  # type: ignore[no-untyped-def]
    out: dict[str, object] = {"line": record.line, "type": record.type}
    for name, value in record.values.items():
        if name.startswith("fs"):
            continue
        out[name] = _text(value) if isinstance(value, bytes) else value
    if record.type == "X":
        out["argv"] = [_text(a) for a in record.extra]
    if record.type == "C":
        out["counters"] = record.counters
    return out


def test_spool_records_read_as_the_vector_says() -> None:
    expected = json.loads((VECTORS / "spool" / "records.json").read_text())
    parsed = parse_file(VECTORS / "spool" / expected["file"])
    got = [_fields(r) for r in parsed.records]
    wanted = [{k: v for k, v in r.items() if k != "event"} for r in expected["records"]]
    assert got == wanted
    problems = sorted((p["line"], p["kind"]) for p in expected["problems"])
    kinds = {"truncated line": "truncated", "corrupt line": "corrupt"}
    warnings = sorted(
        (int(w.split(":")[1]), kind) for w in parsed.warnings for text, kind in kinds.items() if text in w
    )
    assert warnings == problems


def test_event_records_hold_what_a_reader_decodes() -> None:
    expected = json.loads((VECTORS / "spool" / "records.json").read_text())
    for record in expected["records"]:
        if record["type"] != "E":
            continue
        source = json.loads(record["json"])
        if record["event"] is None:  # a kind readers do not know: ignored
            assert source["event"] not in {"task_begin", "task_end", "task_submit", "driver", "config"}
            continue
        assert record["event"] == {k: source[k] for k in record["event"]}
        dropped = set(source) - set(record["event"])
        assert all(source[k] is None or k == "v" or k not in _READ_FIELDS for k in dropped)


_READ_FIELDS = {"event", "tag", "task_id", "attempt", "kind", "function", "actor_id", "parent_task_id",
                "parent_attempt", "node_id", "worker_id", "job_id", "pid", "status", "error"}


def test_runtime_writes_the_event_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vectors = json.loads((VECTORS / "spool" / "events.json").read_text())["events"]
    writer = runtime_spool._OwnFile(str(tmp_path))
    for event in vectors:
        monkeypatch.setattr(runtime_spool.time, "time_ns", lambda ns=event["ns"]: ns)
        writer.set_tag(event["tag"])
        writer.emit(event["json"])
    (name,) = os.listdir(tmp_path)
    lines = (tmp_path / name).read_bytes().split(b"\n")
    assert lines[0].startswith(b"H\t1\t%d\t" % os.getpid())
    assert [line + b"\n" for line in lines[1:-1]] == [e["line"].encode() for e in vectors]
    spool_lines = (VECTORS / "spool" / "records.spool").read_bytes().split(b"\n")
    expected = json.loads((VECTORS / "spool" / "records.json").read_text())
    event_lines = [spool_lines[r["line"] - 1] + b"\n" for r in expected["records"] if r["type"] == "E"]
    assert event_lines == [e["line"].encode() for e in vectors]


def _inputs() -> dict:  # type: ignore[type-arg]
    return json.loads((VECTORS / "segments" / "seal.json").read_text())


def test_sealed_batch_opens_and_reassembles_the_spool() -> None:
    inputs = _inputs()
    data = (VECTORS / "segments" / inputs["sealed_file"]).read_bytes()
    producer, seq, session, payload, plaintext = open_batch(
        data, base64.b64decode(inputs["recipient_private_key_base64"])
    )
    assert (producer, seq, session, payload) == (
        inputs["producer"], inputs["seq"], inputs["session_id"], inputs["payload"]
    )
    assert data[5:37] == base64.b64decode(inputs["ephemeral_public_key_base64"])
    batch = json.loads(plaintext)
    assert batch == json.loads((VECTORS / "segments" / inputs["plaintext_file"]).read_text())
    assert batch["schema"] == payload == "roar.segments/1"
    assert (batch["session_id"], batch["producer"]) == (session, producer)
    reassembled = bytearray()
    for segment in batch["segments"]:
        assert segment["offset"] == len(reassembled)
        reassembled += base64.b64decode(segment["data"])
    spool_bytes = (VECTORS / "segments" / inputs["reassembles"]).read_bytes()
    assert bytes(reassembled) == spool_bytes[: spool_bytes.rindex(b"\n") + 1]


@pytest.mark.parametrize("what", ["seq", "payload"])
def test_tampered_header_fails_authentication(what: str) -> None:
    exceptions = pytest.importorskip("cryptography.exceptions")
    inputs = _inputs()
    data = bytearray((VECTORS / "segments" / inputs["sealed_file"]).read_bytes())
    seq_offset = 5 + 32 + 2 + len(inputs["producer"].encode())
    payload_offset = seq_offset + 8 + 2 + len(inputs["session_id"].encode()) + 2
    data[seq_offset + 7 if what == "seq" else payload_offset + 5] ^= 1  # replayed under another seq / type
    with pytest.raises(exceptions.InvalidTag):
        open_batch(bytes(data), base64.b64decode(inputs["recipient_private_key_base64"]))


def test_composite_digests_follow_the_documented_formula() -> None:
    from roar_cli import composite_digest

    vectors = json.loads((VECTORS / "composites" / "digests.json").read_text())
    assert len(vectors["cases"]) >= 5
    for case in vectors["cases"]:
        assert composite_digest(case["components"]) == case["digest"], case["case"]
        assert case["sorted_names"] == sorted((c["name"] for c in case["components"]), key=str.encode)
