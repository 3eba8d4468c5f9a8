import Crypto
import Foundation
import RoarCore
import Testing

@testable import RoarTransport

/// The shared sealed-batch vector (`Tests/vectors/segments/`, `Tests/vectors/README.md`), also opened by
/// `python/tests/test_shared_vectors.py` with `cryptography`.
@Suite("Shared segment batch vector")
struct SegmentVectorTests {
    static let directory = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: "vectors/segments")

    /// `seal.json`: the fixed, test-only keys and inputs of the sealed batch.
    struct Inputs: Decodable {
        var recipientPrivateKeyBase64: String
        var recipientPublicKeyBase64: String
        var ephemeralPrivateKeyBase64: String
        var nonceHex: String
        var producer: String
        var seq: UInt64
        var sessionId: String
        var payload: String
        var plaintextFile: String
        var sealedFile: String
        var reassembles: String
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appending(path: name)))
    }

    static func inputs() throws -> Inputs {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Inputs.self, from: Data(try bytes("seal.json")))
    }

    @Test func sealsToTheStoredBytesAndOpens() throws {
        let inputs = try Self.inputs()
        let keyPair = try RunKeyPair(
            privateKeyRawRepresentation: Array(try #require(Data(base64Encoded: inputs.recipientPrivateKeyBase64))))
        #expect(keyPair.publicKey.base64 == inputs.recipientPublicKeyBase64)
        let batch = try SegmentBatch.decode(from: try Self.bytes(inputs.plaintextFile))
        #expect(inputs.payload == SegmentBatch.currentSchema)
        let ephemeral = try Curve25519.KeyAgreement.PrivateKey(
            rawRepresentation: try #require(Data(base64Encoded: inputs.ephemeralPrivateKeyBase64)))
        let nonce = stride(from: 0, to: inputs.nonceHex.count, by: 2).map { offset in
            let start = inputs.nonceHex.index(inputs.nonceHex.startIndex, offsetBy: offset)
            return UInt8(inputs.nonceHex[start...inputs.nonceHex.index(after: start)], radix: 16)!
        }
        let sealed = try BatchSealer(
            recipient: keyPair.publicKey, sessionID: inputs.sessionId, producer: inputs.producer
        )
        .seal(batch, sequenceNumber: inputs.seq, ephemeralKey: ephemeral, nonce: try ChaChaPoly.Nonce(data: nonce))
        let file = Self.directory.appending(path: inputs.sealedFile)
        if ProcessInfo.processInfo.environment["ROAR_WRITE_VECTORS"] == "1" {
            try Data(sealed).write(to: file)
        }
        let stored = try Self.bytes(inputs.sealedFile)
        #expect(stored == sealed, "sealing is deterministic given the ephemeral key and nonce")

        let opened = try BatchOpener(keyPair: keyPair, expectedSessionID: inputs.sessionId).open(stored)
        #expect(opened.name == BatchName(producer: inputs.producer, sequenceNumber: inputs.seq))
        #expect(opened.batch == batch)
    }

    @Test func segmentsReassembleTheSpoolFile() throws {
        let inputs = try Self.inputs()
        let batch = try SegmentBatch.decode(from: try Self.bytes(inputs.plaintextFile))
        var file: [UInt8] = []
        for segment in batch.segments {
            #expect(segment.offset == Int64(file.count))
            file += segment.data
        }
        let spool = try Self.bytes(inputs.reassembles)
        let lastNewline = try #require(spool.lastIndex(of: UInt8(ascii: "\n")))
        #expect(file == Array(spool[...lastNewline]), "complete lines only: the unfinished last line waits")
        #expect(batch.isFinal && batch.pathMap?.packages.first?.hostPath == "/home/u/proj")
        #expect(
            batch.readDigests.map(\.version) == [
                FileVersion(device: 2049, inode: 77, size: 8, modifiedNanoseconds: 1_794_999_999_000_000_001)
            ])
        #expect(batch.stats.bytes == file.count)
    }
}
