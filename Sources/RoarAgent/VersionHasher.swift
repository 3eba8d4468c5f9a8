import CBLAKE3
#if canImport(Glibc)
    import Glibc
#endif
public import RoarCore

/// Hashes files on the node, one version at a time: the same rule as the host's
/// `HashingResolver` (stat, compare with the version wanted, hash, stat again, keep only a
/// stable result), memoised by version so a file read by a hundred tasks is hashed once.
public struct VersionHasher: Sendable {
    /// Digest (64 hex) per version hashed; nil for a version that could not be hashed.
    var memo: [FileVersion: String?] = [:]
    public private(set) var hashedFiles = 0
    public private(set) var failures = 0

    public init() {}

    /// The BLAKE3 of the file at `path` if its current version is `expected` (any version when
    /// nil); with the version hashed. Nil when the file is gone, changed, or unreadable.
    public mutating func digest(ofPath path: String, ifVersion expected: FileVersion?)
        -> (digest: String, version: FileVersion)?
    {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            if expected != nil { failures += 1 }
            return nil
        }
        defer { close(descriptor) }
        // fstat on the descriptor we hash: the name cannot be swapped between the check and the read.
        guard let version = FileSystem.version(ofDescriptor: descriptor) else { return nil }
        if let expected, expected != version {
            failures += 1  // the file changed since the task read it: that version is gone
            return nil
        }
        if let known = memo[version] {
            return known.map { ($0, version) }
        }
        var out = [UInt8](repeating: 0, count: Int(ROAR_BLAKE3_OUT_LEN))
        // One thread: the agent must leave the node's cores to the tasks.
        let status = out.withUnsafeMutableBufferPointer { roar_blake3_hash_fd(descriptor, 1, $0.baseAddress) }
        let stable = status == 0 && FileSystem.version(ofDescriptor: descriptor) == version
        guard stable else {
            failures += 1
            if expected != nil { memo[version] = .some(nil) }
            return nil
        }
        hashedFiles += 1
        let hex = Self.hex(out)
        memo[version] = hex
        return (hex, version)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
