import Foundation
import RoarTransport

/// The shared test vectors (`vectors/`), also read by `python/tests/test_fragment_vectors.py`.
enum Vectors {
    static let directory = URL(filePath: #filePath).deletingLastPathComponent().appending(path: "vectors")

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appending(path: name)))
    }

    static func names(prefix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".json") }.sorted()
    }

    /// `batch-test.json`: the fixed, test-only keys and inputs of the sealed batch vector.
    struct BatchInputs: Decodable {
        var recipientPrivateKeyBase64: String
        var recipientPublicKeyBase64: String
        var ephemeralPrivateKeyBase64: String
        var nonceHex: String
        var producer: String
        var seq: UInt64
        var sessionId: String
        var fragments: [String]
        var sealedFile: String
    }

    static func batchInputs() throws -> BatchInputs {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(BatchInputs.self, from: Data(try bytes("batch-test.json")))
    }
}
