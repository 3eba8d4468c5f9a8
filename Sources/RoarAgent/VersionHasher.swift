public import RoarCore
import RoarHash

#if canImport(Glibc)
    import Glibc
#endif

/// Hashes files on the node, one version at a time: the same rule as the host's
/// `HashingResolver` (stat, compare with the version wanted, hash, stat again, keep only a
/// stable result), memoised by version so a file read by a hundred tasks is hashed once.
///
/// Through `RoarHash.FileHasher` in ``FileReading/pread`` mode on one thread: user tasks run on this
/// node, so the agent never maps their files (a task truncating one would SIGBUS the agent), never
/// takes a lease on them (a task's non-blocking open for writing would fail), and leaves the cores
/// to the tasks.
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
        // O_NONBLOCK: a FIFO put where a file was must not hang the agent.
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
        let digest = try? FileHasher.digest(
            ofFileDescriptor: descriptor, path: path, algorithm: .blake3, threads: 1, reading: .pread)
        guard let digest, FileSystem.version(ofDescriptor: descriptor) == version else {
            failures += 1
            if expected != nil { memo[version] = .some(nil) }
            return nil
        }
        hashedFiles += 1
        memo[version] = digest.hex
        return (digest.hex, version)
    }
}
