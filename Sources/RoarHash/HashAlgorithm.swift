/// A content hash roar records: BLAKE3 by default, SHA-256 where a consumer needs it.
public enum HashAlgorithm: String, Sendable, CaseIterable, Codable {
    case blake3
    case sha256

    /// Length of a digest in bytes (both algorithms produce 32).
    public var digestByteCount: Int { 32 }

    /// The streaming hasher type that computes this algorithm.
    public var hasherType: any StreamingHasher.Type {
        switch self {
        case .blake3: BLAKE3Hasher.self
        case .sha256: SHA256Hasher.self
        }
    }
}
