"""Sealed batches (docs/batch-format.md) made and opened with ``cryptography``, byte by byte as the
format says: the tests' independent second implementation of what ``RoarTransport`` does."""

from __future__ import annotations

import os
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers import aead
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PAYLOAD = "roar.segments/1"


def _field(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">H", len(raw)) + raw


def _raw(public: x25519.X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=b"roar.batch/1").derive(shared)


def seal(plaintext: bytes, recipient_public: bytes, producer: str, seq: int, session: str,
         payload: str = PAYLOAD) -> bytes:
    """A sealed batch of ``plaintext`` to the run's public key (raw 32 bytes)."""
    ephemeral = x25519.X25519PrivateKey.generate()
    ephemeral_public = _raw(ephemeral.public_key())
    shared = ephemeral.exchange(x25519.X25519PublicKey.from_public_bytes(recipient_public))
    header = (b"RBAT" + bytes([2]) + ephemeral_public + _field(producer) + struct.pack(">Q", seq) + _field(session)
              + _field(payload))
    nonce = os.urandom(12)
    sealed = aead.ChaCha20Poly1305(_key(shared, ephemeral_public, recipient_public)).encrypt(nonce, plaintext, header)
    return header + nonce + sealed


def open_batch(data: bytes, recipient_private: bytes) -> tuple[str, int, str, str, bytes]:
    """Opens a sealed batch: (producer, seq, session_id, payload, plaintext)."""
    assert data[:4] == b"RBAT"
    assert data[4] == 2
    offset = 5
    ephemeral = data[offset : offset + 32]
    offset += 32

    def field() -> str:
        nonlocal offset
        (length,) = struct.unpack_from(">H", data, offset)
        offset += 2
        value = data[offset : offset + length].decode()
        offset += length
        return value

    producer = field()
    (seq,) = struct.unpack_from(">Q", data, offset)
    offset += 8
    session = field()
    payload = field()
    associated_data = data[:offset]
    nonce = data[offset : offset + 12]
    private = x25519.X25519PrivateKey.from_private_bytes(recipient_private)
    shared = private.exchange(x25519.X25519PublicKey.from_public_bytes(ephemeral))
    key = _key(shared, ephemeral, _raw(private.public_key()))
    plaintext = aead.ChaCha20Poly1305(key).decrypt(nonce, data[offset + 12 :], associated_data)
    return producer, seq, session, payload, plaintext


def new_run_key() -> tuple[bytes, bytes]:
    """(private, public) raw bytes of a fresh run key pair."""
    private = x25519.X25519PrivateKey.generate()
    return private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption()), _raw(private.public_key())
