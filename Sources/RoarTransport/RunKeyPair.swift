import Crypto

// FoundationEssentials where available: roar-agent links this statically and full Foundation brings ICU.
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The public half of a run's key: what agents seal batches to. Safe to put in the job's
/// environment (`ROAR_BATCH_PUBLIC_KEY`) or on a server.
public struct RunPublicKey: Hashable, Sendable {
    /// The environment variable that carries the key to the cluster, base64.
    public static let environmentVariable = "ROAR_BATCH_PUBLIC_KEY"

    /// The 32 raw bytes of the X25519 public key.
    public let rawRepresentation: [UInt8]

    public init(rawRepresentation: [UInt8]) throws(TransportError) {
        guard rawRepresentation.count == 32,
            (try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: rawRepresentation)) != nil
        else {
            throw TransportError(
                .invalidKey, detail: "a run public key is 32 bytes, got \(rawRepresentation.count)")
        }
        self.rawRepresentation = rawRepresentation
    }

    /// Decodes the base64 form (standard alphabet, padded), as found in `ROAR_BATCH_PUBLIC_KEY`.
    public init(base64: String) throws(TransportError) {
        let trimmed = base64.trimmingWhitespace()
        guard let data = Data(base64Encoded: trimmed) else {
            throw TransportError(
                .invalidKey,
                detail:
                    "'\(trimmed.prefix(60))' is not base64; expected the value roar printed for \(Self.environmentVariable)"
            )
        }
        try self.init(rawRepresentation: Array(data))
    }

    /// The key from `ROAR_BATCH_PUBLIC_KEY` in `environment`.
    public init(environment: [String: String]) throws(TransportError) {
        guard let value = environment[Self.environmentVariable], !value.isEmpty else {
            throw TransportError(
                .invalidKey, detail: "\(Self.environmentVariable) is not set: the host did not hand out a run key")
        }
        try self.init(base64: value)
    }

    public var base64: String { Data(rawRepresentation).base64EncodedString() }

    /// SHA-256 (hex) of the raw key: names the key on a lineage server's fragment session
    /// without giving the key itself away (docs/server-api.md).
    public var fingerprint: String {
        SHA256.hash(data: rawRepresentation).map { byte in
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]], as: UTF8.self)
        }.joined()
    }

    var cryptoKey: Curve25519.KeyAgreement.PublicKey {
        // Validated in init.
        try! Curve25519.KeyAgreement.PublicKey(rawRepresentation: rawRepresentation)
    }
}

/// A run's X25519 key pair, created on the host. Only ``publicKey`` leaves the host; the
/// private key is kept in a `0600` file under `.roar/` for the run's lifetime.
public struct RunKeyPair: Sendable {
    let privateKey: Curve25519.KeyAgreement.PrivateKey
    public let publicKey: RunPublicKey

    /// The schema line of a key file.
    static let fileSchema = "roar.run-key/1"

    init(privateKey: Curve25519.KeyAgreement.PrivateKey) {
        self.privateKey = privateKey
        // A key's own public half is always a valid key.
        self.publicKey = try! RunPublicKey(rawRepresentation: Array(privateKey.publicKey.rawRepresentation))
    }

    /// A fresh random key pair.
    public static func generate() -> RunKeyPair {
        RunKeyPair(privateKey: Curve25519.KeyAgreement.PrivateKey())
    }

    /// A key pair from the 32 raw bytes of its private key (test vectors, key files).
    public init(privateKeyRawRepresentation raw: [UInt8]) throws(TransportError) {
        guard raw.count == 32, let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw) else {
            throw TransportError(.invalidKey, detail: "a run private key is 32 bytes, got \(raw.count)")
        }
        self.init(privateKey: key)
    }

    /// Writes the key pair to `path` (created or replaced) with permissions `0600`:
    /// two lines, `roar.run-key/1` and the private key in base64.
    public func save(to path: String) throws(TransportError) {
        let text = Self.fileSchema + "\n" + privateKey.rawRepresentation.base64EncodedString() + "\n"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            throw TransportError(.keyFile, detail: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        // The file may have existed with looser permissions: tighten before writing the secret.
        guard fchmod(descriptor, 0o600) == 0 else {
            throw TransportError(.keyFile, detail: "cannot chmod 600 \(path): \(String(cString: strerror(errno)))")
        }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw TransportError(.keyFile, detail: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Reads a key file written by ``save(to:)``. Refuses a file that group or others can read.
    public static func load(from path: String) throws(TransportError) -> RunKeyPair {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw TransportError(.keyFile, detail: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        guard status.st_mode & 0o077 == 0 else {
            throw TransportError(
                .keyFile,
                detail:
                    "\(path) is accessible by group or others (mode \(String(status.st_mode & 0o777, radix: 8))); run chmod 600 \(path)"
            )
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw TransportError(.keyFile, detail: "cannot read \(path)")
        }
        let lines = text.split(separator: "\n").map { String($0).trimmingWhitespace() }
        guard lines.count >= 2, lines[0] == fileSchema, let raw = Data(base64Encoded: lines[1]) else {
            throw TransportError(.keyFile, detail: "\(path) is not a \(fileSchema) key file")
        }
        return try RunKeyPair(privateKeyRawRepresentation: Array(raw))
    }
}

extension String {
    /// Without leading and trailing ASCII whitespace (FoundationEssentials has no `trimmingCharacters`).
    func trimmingWhitespace() -> String {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || (0x09...0x0D).contains($0) }
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
