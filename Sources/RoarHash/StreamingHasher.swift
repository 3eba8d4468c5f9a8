/// An incremental hash function, shaped like swift-crypto's `HashFunction`: create, feed bytes, finalize.
///
/// Hashers are values: copying one forks the computation, and `finalize()` leaves the hasher usable, so a
/// digest of a prefix can be taken and more bytes added afterwards.
public protocol StreamingHasher: Sendable {
    /// The algorithm this hasher computes.
    static var algorithm: HashAlgorithm { get }

    init()

    /// Adds the bytes in `bufferPointer`.
    mutating func update(bufferPointer: UnsafeRawBufferPointer)

    /// The digest of everything added so far.
    func finalize() -> Digest
}

extension StreamingHasher {
    /// Adds `data`, without copying when its storage is contiguous.
    public mutating func update(data: some Sequence<UInt8>) {
        let handled: Void? = data.withContiguousStorageIfAvailable { buffer in
            update(bufferPointer: UnsafeRawBufferPointer(buffer))
        }
        if handled == nil {
            var chunk = [UInt8]()
            chunk.reserveCapacity(16 * 1024)
            for byte in data {
                chunk.append(byte)
                if chunk.count == 16 * 1024 {
                    chunk.withUnsafeBytes { update(bufferPointer: $0) }
                    chunk.removeAll(keepingCapacity: true)
                }
            }
            chunk.withUnsafeBytes { update(bufferPointer: $0) }
        }
    }

    /// Adds the bytes of `data`.
    public mutating func update(data: [UInt8]) {
        data.withUnsafeBytes { update(bufferPointer: $0) }
    }

    /// The digest of `bytes`, in one call.
    public static func hash(bytes: some Sequence<UInt8>) -> Digest {
        var hasher = Self()
        hasher.update(data: bytes)
        return hasher.finalize()
    }

    /// The digest of the bytes in `bufferPointer`, in one call.
    public static func hash(bufferPointer: UnsafeRawBufferPointer) -> Digest {
        var hasher = Self()
        hasher.update(bufferPointer: bufferPointer)
        return hasher.finalize()
    }
}

extension HashAlgorithm {
    /// The digest of `bytes` with this algorithm.
    public func hash(bytes: some Sequence<UInt8>) -> Digest {
        hasherType.hash(bytes: bytes)
    }
}
