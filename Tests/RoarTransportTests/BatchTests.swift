import Crypto
import Foundation
import Testing

@testable import RoarTransport

@Suite("Sealed batches")
struct BatchTests {
    static let session = "sess-batch"
    static let producer = "node-7"

    static func payload() -> SegmentBatch {
        var batch = SegmentBatchTests.sample(final: true)
        batch.sessionID = session
        batch.producer = producer
        return batch
    }

    static func sealed(to keyPair: RunKeyPair, sequenceNumber: UInt64 = 5) throws -> [UInt8] {
        try BatchSealer(recipient: keyPair.publicKey, sessionID: session, producer: producer)
            .seal(payload(), sequenceNumber: sequenceNumber)
    }

    /// Byte ranges of each region of a batch sealed by `producer` for `session`.
    enum Region: String, CaseIterable {
        case magic, version, ephemeralKey, producerLength, producer, seq, sessionLength, session, payloadLength,
            payload, nonce, ciphertext, tag

        func range(in batch: [UInt8]) -> Range<Int> {
            let producerLength = BatchTests.producer.utf8.count
            let sessionLength = BatchTests.session.utf8.count
            let producerStart = 4 + 1 + 32 + 2
            let seqStart = producerStart + producerLength
            let sessionStart = seqStart + 8 + 2
            let payloadStart = sessionStart + sessionLength + 2
            let nonceStart = payloadStart + SegmentBatch.currentSchema.utf8.count
            return switch self {
            case .magic: 0..<4
            case .version: 4..<5
            case .ephemeralKey: 5..<37
            case .producerLength: 37..<39
            case .producer: producerStart..<seqStart
            case .seq: seqStart..<seqStart + 8
            case .sessionLength: seqStart + 8..<sessionStart
            case .session: sessionStart..<payloadStart - 2
            case .payloadLength: payloadStart - 2..<payloadStart
            case .payload: payloadStart..<nonceStart
            case .nonce: nonceStart..<nonceStart + 12
            case .ciphertext: nonceStart + 12..<batch.count - 16
            case .tag: batch.count - 16..<batch.count
            }
        }
    }

    @Test func sealAndOpenRoundTrip() throws {
        let keyPair = RunKeyPair.generate()
        let batch = try Self.sealed(to: keyPair, sequenceNumber: 5)
        #expect(Array(batch.prefix(4)) == Array("RBAT".utf8))
        let opened = try BatchOpener(keyPair: keyPair, expectedSessionID: Self.session).open(batch)
        #expect(opened.name == BatchName(producer: Self.producer, sequenceNumber: 5))
        #expect(opened.sessionID == Self.session)
        #expect(opened.batch == Self.payload())
    }

    @Test func theHeaderNamesThePayloadType() throws {
        let batch = try Self.sealed(to: RunKeyPair.generate())
        #expect(batch[4] == 2, "envelope version 2: the header has a payload type")
        #expect(Array(batch[Region.payload.range(in: batch)]) == Array("roar.segments/1".utf8))
    }

    @Test func everyBatchUsesAFreshEphemeralKey() throws {
        let keyPair = RunKeyPair.generate()
        let first = try Self.sealed(to: keyPair)
        let second = try Self.sealed(to: keyPair)
        #expect(first[Region.ephemeralKey.range(in: first)] != second[Region.ephemeralKey.range(in: second)])
        #expect(first != second)
    }

    @Test(arguments: Region.allCases)
    func tamperingIsDetected(region: Region) throws {
        let keyPair = RunKeyPair.generate()
        let batch = try Self.sealed(to: keyPair, sequenceNumber: 5)
        let range = region.range(in: batch)
        for index in Set([range.lowerBound, (range.lowerBound + range.upperBound) / 2, range.upperBound - 1]) {
            var tampered = batch
            tampered[index] ^= 0x01
            let error = try #require(throws: TransportError.self) {
                try BatchOpener(keyPair: keyPair).open(tampered)
            }
            switch region {
            case .magic:
                #expect(error.code == .badMagic)
            case .version:
                #expect(error.code == .unsupportedVersion)
            case .producerLength, .sessionLength, .payloadLength:
                // A changed length moves every later field: the header then ends early or fails the AEAD.
                #expect([.truncated, .authenticationFailed].contains(error.code), "\(error)")
            case .producer:
                #expect(error.code == .authenticationFailed)
                #expect(error.batch?.sequenceNumber == 5)
                #expect(error.batch?.producer != Self.producer, "names the batch as it claims to be")
            case .seq:
                #expect(error.code == .authenticationFailed)
                #expect(error.batch?.producer == Self.producer)
                #expect(error.batch?.sequenceNumber != 5)
            case .ephemeralKey, .session, .payload, .nonce, .ciphertext, .tag:
                #expect(error.code == .authenticationFailed, "\(error)")
                #expect(error.batch == BatchName(producer: Self.producer, sequenceNumber: 5))
            }
            #expect("\(error)".contains(error.code.rawValue))
        }
    }

    @Test func wrongKeyFailsAuthentication() throws {
        let batch = try Self.sealed(to: RunKeyPair.generate(), sequenceNumber: 9)
        let error = try #require(throws: TransportError.self) {
            try BatchOpener(keyPair: RunKeyPair.generate()).open(batch)
        }
        #expect(error.code == .authenticationFailed)
        #expect(error.batch == BatchName(producer: Self.producer, sequenceNumber: 9))
        #expect("\(error)".hasPrefix("batch node-7#9: authentication failed"))
    }

    @Test func truncatedBatchesAreRefusedClearly() throws {
        let keyPair = RunKeyPair.generate()
        let batch = try Self.sealed(to: keyPair, sequenceNumber: 3)
        let nonceStart = Region.nonce.range(in: batch).lowerBound
        for length in [0, 2, 4, 5, 20, 38, 45, 50, 58, nonceStart - 1, nonceStart, nonceStart + 27] {
            let error = try #require(throws: TransportError.self) {
                try BatchOpener(keyPair: keyPair).open(Array(batch.prefix(length)))
            }
            #expect(error.code == .truncated, "cut at \(length): \(error)")
            #expect(error.detail.contains("\(length) bytes"))
            if length >= 56 { #expect(error.batch == BatchName(producer: Self.producer, sequenceNumber: 3)) }
        }
        // Cut inside the ciphertext: the AEAD is what notices.
        let error = try #require(throws: TransportError.self) {
            try BatchOpener(keyPair: keyPair).open(Array(batch.dropLast(1)))
        }
        #expect(error.code == .authenticationFailed)
    }

    @Test func payloadTypesThisRoarDoesNotOpenAreRefused() throws {
        let keyPair = RunKeyPair.generate()
        let sealer = BatchSealer(recipient: keyPair.publicKey, sessionID: Self.session, producer: Self.producer)
        let plaintext = try Self.payload().encoded()
        for payload in ["roar.segments/2", "roar.fragment/1"] {
            let batch = try sealer.seal(
                plaintext: plaintext, payload: payload, sequenceNumber: 11, ephemeralKey: .init(), nonce: .init())
            let error = try #require(throws: TransportError.self) { try BatchOpener(keyPair: keyPair).open(batch) }
            #expect(error.code == .undecodablePayload)
            #expect(error.batch == BatchName(producer: Self.producer, sequenceNumber: 11))
            #expect(error.detail.contains(payload) && error.detail.contains("roar.segments/1"), "\(error)")
        }
    }

    @Test func batchesOfVersionOneAreRefused() throws {
        var batch = try Self.sealed(to: RunKeyPair.generate())
        batch[4] = 1
        let error = try #require(throws: TransportError.self) { try BatchOpener(keyPair: .generate()).open(batch) }
        #expect(error.code == .unsupportedVersion)
    }

    @Test func otherSessionsAreRefused() throws {
        let keyPair = RunKeyPair.generate()
        let batch = try Self.sealed(to: keyPair)
        let error = try #require(throws: TransportError.self) {
            try BatchOpener(keyPair: keyPair, expectedSessionID: "another-run").open(batch)
        }
        #expect(error.code == .sessionMismatch)
        let sealer = BatchSealer(recipient: keyPair.publicKey, sessionID: "another-run", producer: Self.producer)
        #expect(throws: TransportError.self) { try sealer.seal(Self.payload(), sequenceNumber: 0) }
    }

    @Test func invalidHeaderFieldsAreRefusedWhenSealing() throws {
        let keyPair = RunKeyPair.generate()
        var payload = Self.payload()
        payload.producer = ""
        let sealer = BatchSealer(recipient: keyPair.publicKey, sessionID: Self.session, producer: "")
        let error = try #require(throws: TransportError.self) { try sealer.seal(payload, sequenceNumber: 0) }
        #expect(error.code == .invalidHeader)
        let untyped = try #require(throws: TransportError.self) {
            try BatchSealer(recipient: keyPair.publicKey, sessionID: Self.session, producer: Self.producer).seal(
                plaintext: [], payload: "", sequenceNumber: 0, ephemeralKey: .init(), nonce: .init())
        }
        #expect(untyped.code == .invalidHeader)
    }

    // MARK: - Keys

    @Test func keyFileRoundTripWithPrivatePermissions() throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "roar-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appending(path: "run.key").path
        let keyPair = RunKeyPair.generate()
        try keyPair.save(to: path)
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
        let loaded = try RunKeyPair.load(from: path)
        #expect(loaded.publicKey == keyPair.publicKey)
        #expect(try BatchOpener(keyPair: loaded).open(try Self.sealed(to: keyPair)).batch == Self.payload())

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        let error = try #require(throws: TransportError.self) { try RunKeyPair.load(from: path) }
        #expect(error.code == .keyFile && error.detail.contains("chmod 600"))
        try keyPair.save(to: path)  // saving again tightens the permissions
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
    }

    @Test func publicKeyTravelsAsBase64() throws {
        let keyPair = RunKeyPair.generate()
        let text = keyPair.publicKey.base64
        #expect(try RunPublicKey(base64: text) == keyPair.publicKey)
        #expect(try RunPublicKey(environment: [RunPublicKey.environmentVariable: text]) == keyPair.publicKey)
        #expect(throws: TransportError.self) { try RunPublicKey(environment: [:]) }
        #expect(throws: TransportError.self) { try RunPublicKey(base64: "not base64!") }
        #expect(throws: TransportError.self) { try RunPublicKey(base64: Data([1, 2, 3]).base64EncodedString()) }
    }
}
