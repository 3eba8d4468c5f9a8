"""The shared TaskFragment and batch vectors (``Tests/RoarTransportTests/vectors/``), checked from Python.

Fragments are validated against ``docs/fragment.schema.json`` with ``jsonschema`` (skipped when it is not
installed). The sealed batch is opened with ``cryptography`` (skipped when not installed) following
``docs/batch-format.md`` byte by byte, so that the Swift sealer and a Python reader agree on the format.
The keys in ``batch-test.json`` are fixed, test-only keys.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "Tests" / "RoarTransportTests" / "vectors"
SCHEMA = REPO / "docs" / "fragment.schema.json"

VALID = sorted(VECTORS.glob("valid-*.json"))
INVALID = sorted(VECTORS.glob("invalid-*.json"))


def _validator():  # type: ignore[no-untyped-def]
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_vectors_exist() -> None:
    assert VALID and INVALID
    assert (VECTORS / "batch-test.json").is_file()


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_fragment_matches_schema(path: Path) -> None:
    _validator().validate(json.loads(path.read_text()))


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_fragment_is_rejected_by_schema(path: Path) -> None:
    errors = list(_validator().iter_errors(json.loads(path.read_text())))
    assert errors, f"{path.name} should not validate"


def _open_batch(data: bytes, recipient_private: bytes) -> tuple[str, int, str, bytes]:
    """Opens a sealed batch per docs/batch-format.md: (producer, seq, session_id, plaintext)."""
    x25519 = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.x25519")
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    hashes = pytest.importorskip("cryptography.hazmat.primitives.hashes")
    hkdf = pytest.importorskip("cryptography.hazmat.primitives.kdf.hkdf")
    aead = pytest.importorskip("cryptography.hazmat.primitives.ciphers.aead")

    assert data[:4] == b"RBAT"
    assert data[4] == 1
    offset = 5
    ephemeral = data[offset : offset + 32]
    offset += 32
    (producer_length,) = struct.unpack_from(">H", data, offset)
    offset += 2
    producer = data[offset : offset + producer_length].decode()
    offset += producer_length
    (seq,) = struct.unpack_from(">Q", data, offset)
    offset += 8
    (session_length,) = struct.unpack_from(">H", data, offset)
    offset += 2
    session = data[offset : offset + session_length].decode()
    offset += session_length
    associated_data = data[:offset]
    nonce = data[offset : offset + 12]
    ciphertext_and_tag = data[offset + 12 :]

    private = x25519.X25519PrivateKey.from_private_bytes(recipient_private)
    recipient_public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    shared = private.exchange(x25519.X25519PublicKey.from_public_bytes(ephemeral))
    key = hkdf.HKDF(
        algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient_public, info=b"roar.batch/1"
    ).derive(shared)
    plaintext = aead.ChaCha20Poly1305(key).decrypt(nonce, ciphertext_and_tag, associated_data)
    return producer, seq, session, plaintext


def test_sealed_batch_opens_and_holds_valid_fragments() -> None:
    inputs = json.loads((VECTORS / "batch-test.json").read_text())
    data = (VECTORS / inputs["sealed_file"]).read_bytes()
    producer, seq, session, plaintext = _open_batch(
        data, base64.b64decode(inputs["recipient_private_key_base64"])
    )
    assert (producer, seq, session) == (inputs["producer"], inputs["seq"], inputs["session_id"])
    assert data[5:37] == base64.b64decode(inputs["ephemeral_public_key_base64"])
    fragments = json.loads(plaintext)
    expected = [json.loads((VECTORS / name).read_text()) for name in inputs["fragments"]]
    assert [f["job_uid"] for f in fragments] == [e["job_uid"] for e in expected]
    assert [f["seq"] for f in fragments] == [e["seq"] for e in expected]
    validator = _validator()
    for fragment in fragments:
        validator.validate(fragment)
        assert fragment["session_id"] == session


def test_tampered_batch_fails_authentication() -> None:
    exceptions = pytest.importorskip("cryptography.exceptions")
    inputs = json.loads((VECTORS / "batch-test.json").read_text())
    data = bytearray((VECTORS / inputs["sealed_file"]).read_bytes())
    seq_offset = 5 + 32 + 2 + len(inputs["producer"].encode())
    data[seq_offset + 7] ^= 1  # replay under another seq
    with pytest.raises(exceptions.InvalidTag):
        _open_batch(bytes(data), base64.b64decode(inputs["recipient_private_key_base64"]))
