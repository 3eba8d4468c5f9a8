import Crypto
import Foundation
import RoarCore
import Testing

@testable import RoarTransport

@Suite("Segment batches (roar.segments/1)")
struct SegmentBatchTests {
    static let session = "sess-segments"
    static let producer = "node-9"

    static func sample(final: Bool = false) -> SegmentBatch {
        let version = FileVersion(device: 65024, inode: 77, size: 8, modifiedNanoseconds: 1_795_000_000_123_456_789)
        return SegmentBatch(
            sessionID: session, producer: producer, isFinal: final,
            pathMap: PathRestorer(packages: [
                .init(name: "_ray_pkg_ab12", kind: .workingDirectory, hostPath: "/home/u/p")
            ]),
            segments: [
                .init(file: "1-2-aa.spool", offset: 0, data: Array("H\t1\t1\t0\t5\t/usr/bin/python3\t/\n".utf8)),
                .init(file: "sub/3-4-bb.spool", offset: 4096, data: [0x45, 0x09, 0xFF, 0x00, 0x0A]),
            ],
            readDigests: [
                .init(path: "/tmp/ray/x/data.csv", version: version, blake3: String(repeating: "0f", count: 32))
            ],
            currentDigests: final
                ? [.init(path: "/tmp/ray/x/out.csv", version: version, blake3: String(repeating: "a1", count: 32))]
                : [],
            stats: .init(files: 2, bytes: 40, hashedFiles: 1, hashFailures: 0))
    }

    @Test func sealAndOpenRoundTrip() throws {
        let keyPair = RunKeyPair.generate()
        let sealer = BatchSealer(recipient: keyPair.publicKey, sessionID: Self.session, producer: Self.producer)
        for final in [false, true] {
            let sealed = try sealer.seal(Self.sample(final: final), sequenceNumber: 42)
            let opened = try BatchOpener(keyPair: keyPair, expectedSessionID: Self.session).open(sealed)
            #expect(opened.name == BatchName(producer: Self.producer, sequenceNumber: 42))
            #expect(opened.sessionID == Self.session)
            #expect(opened.batch == Self.sample(final: final))
        }
    }

    @Test func jsonUsesTheDocumentedKeys() throws {
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(Self.sample(final: true).encoded())) as? [String: Any])
        #expect(
            Set(object.keys) == [
                "schema", "session_id", "producer", "final", "path_map", "segments", "read_digests", "current_digests",
                "stats",
            ])
        #expect(object["schema"] as? String == "roar.segments/1")
        let segment = try #require((object["segments"] as? [[String: Any]])?.last)
        #expect(segment["file"] as? String == "sub/3-4-bb.spool")
        #expect(segment["offset"] as? Int == 4096)
        #expect(segment["data"] as? String == Data([0x45, 0x09, 0xFF, 0x00, 0x0A]).base64EncodedString())
        let digest = try #require((object["read_digests"] as? [[String: Any]])?.first)
        #expect(Set(digest.keys) == ["path", "dev", "ino", "size", "mtime_ns", "blake3"])
        #expect(digest["mtime_ns"] as? Int == 1_795_000_000_123_456_789)
        let stats = try #require(object["stats"] as? [String: Int])
        #expect(stats == ["files": 2, "bytes": 40, "hashed_files": 1, "hash_failures": 0])
        let packages = try #require((object["path_map"] as? [String: Any])?["packages"] as? [[String: String]])
        #expect(packages == [["name": "_ray_pkg_ab12", "kind": "working_dir", "host_path": "/home/u/p"]])

        var withoutMap = Self.sample()
        withoutMap.pathMap = nil
        let text = String(decoding: try withoutMap.encoded(), as: UTF8.self)
        #expect(text.contains(#""path_map":null"#))
        #expect(try SegmentBatch.decode(from: withoutMap.encoded()) == withoutMap)
    }

    @Test func tamperingIsDetected() throws {
        let keyPair = RunKeyPair.generate()
        let sealer = BatchSealer(recipient: keyPair.publicKey, sessionID: Self.session, producer: Self.producer)
        let sealed = try sealer.seal(Self.sample(), sequenceNumber: 7)
        for index in [10, 45, sealed.count / 2, sealed.count - 1] {
            var tampered = sealed
            tampered[index] ^= 0x01
            let error = try #require(throws: TransportError.self) {
                try BatchOpener(keyPair: keyPair).open(tampered)
            }
            #expect(error.code == .authenticationFailed || error.code == .truncated, "\(error)")
        }
        let wrongKey = try #require(throws: TransportError.self) {
            try BatchOpener(keyPair: RunKeyPair.generate()).open(sealed)
        }
        #expect(wrongKey.code == .authenticationFailed)
        #expect("\(wrongKey)".hasPrefix("batch node-9#7: authentication failed"))
    }

    @Test func undecodableAndForeignPayloadsAreNamed() throws {
        let keyPair = RunKeyPair.generate()
        let sealer = BatchSealer(recipient: keyPair.publicKey, sessionID: Self.session, producer: Self.producer)
        for plaintext in [
            "not json", #"{"schema":"roar.segments/2","session_id":"sess-segments","producer":"node-9"}"#,
            #"{"schema":"roar.segments/1","session_id":"sess-segments","producer":"node-9","segments":[{"file":"a","offset":0,"data":"%%%"}]}"#,
            #"{"schema":"roar.segments/1","session_id":"sess-segments","producer":"node-1"}"#,
        ] {
            let batch = try sealer.seal(
                plaintext: Array(plaintext.utf8), payload: SegmentBatch.currentSchema, sequenceNumber: 11,
                ephemeralKey: .init(), nonce: .init())
            let error = try #require(throws: TransportError.self) { try BatchOpener(keyPair: keyPair).open(batch) }
            #expect(error.code == .undecodablePayload, "\(plaintext): \(error)")
            #expect(error.batch == BatchName(producer: Self.producer, sequenceNumber: 11))
        }
        // A minimal final marker decodes: absent lists are empty.
        let marker = try sealer.seal(
            plaintext: Array(
                #"{"schema":"roar.segments/1","session_id":"sess-segments","producer":"node-9","final":true}"#.utf8),
            payload: SegmentBatch.currentSchema, sequenceNumber: 12, ephemeralKey: .init(), nonce: .init())
        let opened = try BatchOpener(keyPair: keyPair).open(marker)
        #expect(opened.batch.isFinal && opened.batch.segments.isEmpty && opened.batch.pathMap == nil)
    }

    @Test func otherSessionsAreRefused() throws {
        let keyPair = RunKeyPair.generate()
        let sealer = BatchSealer(recipient: keyPair.publicKey, sessionID: Self.session, producer: Self.producer)
        let sealed = try sealer.seal(Self.sample(), sequenceNumber: 3)
        let error = try #require(throws: TransportError.self) {
            try BatchOpener(keyPair: keyPair, expectedSessionID: "another-run").open(sealed)
        }
        #expect(error.code == .sessionMismatch)

        var stranger = Self.sample()
        stranger.sessionID = "another-run"
        #expect(throws: TransportError.self) { try sealer.seal(stranger, sequenceNumber: 4) }
        let inside = try sealer.seal(
            plaintext: try stranger.encoded(), payload: SegmentBatch.currentSchema, sequenceNumber: 5,
            ephemeralKey: .init(), nonce: .init())
        let mismatch = try #require(throws: TransportError.self) { try BatchOpener(keyPair: keyPair).open(inside) }
        #expect(mismatch.code == .sessionMismatch)
    }
}
