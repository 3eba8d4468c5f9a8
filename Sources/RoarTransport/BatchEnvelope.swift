// RoarTransport: what crosses from a cluster node to the host — run keys (X25519) and the sealed batch envelope
// (docs/batch-format.md) of roar.segments/1 payloads: sealed on the node, opened only on the host.

import Crypto

// FoundationEssentials where available: roar-agent links this statically and full Foundation brings ICU.
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The byte layout of a sealed batch (`docs/batch-format.md`):
///
///     "RBAT" | version u8 (2) | ephemeral X25519 public key (32) | producer length u16 BE | producer
///     | seq u64 BE | session length u16 BE | session | payload length u16 BE | payload type
///     | nonce (12) | ciphertext | tag (16)
///
/// Every byte before the nonce is the AEAD's associated data, so none of it can be changed
/// (nor the batch replayed under another producer, seq or session, nor its payload passed off as
/// another type) without failing authentication.
enum BatchEnvelope {
    static let magic: [UInt8] = Array("RBAT".utf8)
    /// 2: the header names the payload type (version 1 had no payload field).
    static let version: UInt8 = 2
    static let info: [UInt8] = Array("roar.batch/1".utf8)
    static let keyLength = 32
    static let nonceLength = 12
    static let tagLength = 16
    static let maximumFieldLength = 1024

    struct Header {
        var ephemeralPublicKey: [UInt8]
        var producer: String
        var sequenceNumber: UInt64
        var sessionID: String
        /// What the plaintext is, e.g. `roar.segments/1`.
        var payload: String

        var name: BatchName { BatchName(producer: producer, sequenceNumber: sequenceNumber) }

        /// The header bytes: also the associated data.
        func encoded() -> [UInt8] {
            var bytes = BatchEnvelope.magic
            bytes.append(BatchEnvelope.version)
            bytes += ephemeralPublicKey
            BatchEnvelope.appendField(Array(producer.utf8), to: &bytes)
            for shift in stride(from: 56, through: 0, by: -8) {
                bytes.append(UInt8(truncatingIfNeeded: sequenceNumber >> UInt64(shift)))
            }
            BatchEnvelope.appendField(Array(sessionID.utf8), to: &bytes)
            BatchEnvelope.appendField(Array(payload.utf8), to: &bytes)
            return bytes
        }
    }

    static func appendField(_ field: [UInt8], to bytes: inout [UInt8]) {
        bytes.append(UInt8(field.count >> 8))
        bytes.append(UInt8(field.count & 0xFF))
        bytes += field
    }

    /// The symmetric key of one batch: HKDF-SHA256 over the X25519 shared secret,
    /// salt = ephemeral public key || recipient public key, info = `roar.batch/1`.
    static func batchKey(sharedSecret: SharedSecret, ephemeralPublicKey: [UInt8], recipientPublicKey: [UInt8])
        -> SymmetricKey
    {
        sharedSecret.hkdfDerivedSymmetricKey(
            using: SHA256.self, salt: ephemeralPublicKey + recipientPublicKey, sharedInfo: info, outputByteCount: 32)
    }

    /// Reads the header; `offset` is left at the nonce.
    static func parseHeader(_ bytes: [UInt8], offset: inout Int) throws(TransportError) -> Header {
        var reader = HeaderReader(bytes: bytes)
        let header = try reader.read()
        offset = reader.offset
        return header
    }

    /// Walks a header, knowing as much of the batch's name as it has read (for errors).
    struct HeaderReader {
        var bytes: [UInt8]
        var offset = 0
        var name: BatchName?

        func need(_ count: Int, _ what: String) throws(TransportError) {
            guard bytes.count - offset >= count else {
                throw TransportError(
                    .truncated, batch: name,
                    detail:
                        "the batch ends inside its \(what) (\(bytes.count) bytes in all); it was cut short in transit or on disk"
                )
            }
        }

        mutating func take(_ count: Int, _ what: String) throws(TransportError) -> ArraySlice<UInt8> {
            try need(count, what)
            defer { offset += count }
            return bytes[offset..<offset + count]
        }

        mutating func field(_ what: String) throws(TransportError) -> String {
            let length = try take(2, "\(what) length").reduce(0) { $0 << 8 | Int($1) }
            // Not rejected here even if not UTF-8: authentication decides whether the header is genuine.
            return String(decoding: try take(length, what), as: UTF8.self)
        }

        mutating func read() throws(TransportError) -> Header {
            guard Array(try take(4, "magic")) == BatchEnvelope.magic else {
                throw TransportError(.badMagic, detail: "the first bytes are not 'RBAT': this is not a roar batch")
            }
            let version = try take(1, "version").first!
            guard version == BatchEnvelope.version else {
                throw TransportError(
                    .unsupportedVersion,
                    detail:
                        "batch format version \(version) is not supported (this roar reads \(BatchEnvelope.version)); the host and the cluster's roar-agent must come from the same roar"
                )
            }
            let ephemeral = Array(try take(BatchEnvelope.keyLength, "ephemeral public key"))
            let producer = try field("producer id")
            name = BatchName(producer: producer, sequenceNumber: 0)
            let sequenceNumber = try take(8, "seq").reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            name = BatchName(producer: producer, sequenceNumber: sequenceNumber)
            let session = try field("session id")
            let payload = try field("payload type")
            return Header(
                ephemeralPublicKey: ephemeral, producer: producer, sequenceNumber: sequenceNumber, sessionID: session,
                payload: payload)
        }
    }
}
