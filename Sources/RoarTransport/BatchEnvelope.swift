import Crypto
import Foundation

/// The byte layout of a sealed batch (`docs/batch-format.md`):
///
///     "RBAT" | version u8 | ephemeral X25519 public key (32) | producer length u16 BE | producer
///     | seq u64 BE | session length u16 BE | session | nonce (12) | ciphertext | tag (16)
///
/// Every byte before the nonce is the AEAD's associated data, so none of it can be changed
/// (nor the batch replayed under another producer, seq or session) without failing authentication.
enum BatchEnvelope {
    static let magic: [UInt8] = Array("RBAT".utf8)
    static let version: UInt8 = 1
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
        var name: BatchName?
        func need(_ count: Int, _ what: String) throws(TransportError) {
            guard bytes.count - offset >= count else {
                throw TransportError(
                    .truncated, batch: name,
                    detail: "the batch ends inside its \(what) (\(bytes.count) bytes in all); it was cut short in transit or on disk")
            }
        }
        try need(4, "magic")
        guard Array(bytes[0..<4]) == magic else {
            throw TransportError(.badMagic, detail: "the first bytes are not 'RBAT': this is not a roar batch")
        }
        offset = 4
        try need(1, "version")
        guard bytes[offset] == version else {
            throw TransportError(
                .unsupportedVersion,
                detail: "batch format version \(bytes[offset]) is not supported (this roar reads \(version)); upgrade roar on the host")
        }
        offset += 1
        try need(keyLength, "ephemeral public key")
        let ephemeral = Array(bytes[offset..<offset + keyLength])
        offset += keyLength
        let producer = try readField(bytes, offset: &offset, what: "producer id", need: need)
        name = BatchName(producer: producer, sequenceNumber: 0)
        try need(8, "seq")
        var sequenceNumber: UInt64 = 0
        for byte in bytes[offset..<offset + 8] { sequenceNumber = sequenceNumber << 8 | UInt64(byte) }
        offset += 8
        name = BatchName(producer: producer, sequenceNumber: sequenceNumber)
        let session = try readField(bytes, offset: &offset, what: "session id", need: need)
        return Header(ephemeralPublicKey: ephemeral, producer: producer, sequenceNumber: sequenceNumber, sessionID: session)
    }

    static func readField(
        _ bytes: [UInt8], offset: inout Int, what: String, need: (Int, String) throws(TransportError) -> Void
    ) throws(TransportError) -> String {
        try need(2, "\(what) length")
        let length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
        offset += 2
        try need(length, what)
        let field = bytes[offset..<offset + length]
        offset += length
        // Not rejected here even if not UTF-8: authentication decides whether the header is genuine.
        return String(decoding: field, as: UTF8.self)
    }
}
