import Crypto

/// SHA-256 through swift-crypto (BoringSSL's assembly, with the SHA extensions where the CPU has them).
public struct SHA256Hasher: StreamingHasher {
    public static var algorithm: HashAlgorithm { .sha256 }

    private var state = Crypto.SHA256()

    public init() {}

    public mutating func update(bufferPointer: UnsafeRawBufferPointer) {
        state.update(bufferPointer: bufferPointer)
    }

    public func finalize() -> Digest {
        Digest(algorithm: .sha256, bytes: Array(state.finalize()))
    }
}
