// RoarReconstitute: a run's spools → jobs (JobAssembler: one per Ray task or actor call, grouped by tag), their
// file and S3 inputs, outputs and deletes (S3Activity), read digests (HashingResolver, NodeDigestResolver) and
// steps (StepPlanner); Reconstituter merges the result into the store. The same path for local and host-submit.

public import RoarCore
import RoarHash
public import RoarStore

#if canImport(Glibc)
    import Glibc
#endif

/// Hashes files that jobs read, on this host, through the store's hash cache: a file whose
/// device, inode, size and mtime are unchanged is never hashed twice.
public final class HashingResolver: ReadDigestResolver {
    let store: RoarStore
    /// Digests found in this run, so a file read by many tasks is looked up once.
    var memo: [FileVersion: String] = [:]
    /// Newly computed digests, written to the cache in one transaction by ``saveCache()``.
    var computed: [(version: FileVersion, algorithm: String, digest: String)] = []

    public init(store: RoarStore) {
        self.store = store
    }

    public func currentDigest(ofPath path: String, ifVersion expected: FileVersion?) -> (
        digest: String, version: FileVersion
    )? {
        guard let version = Self.version(ofFileAt: path) else { return nil }
        if let expected, expected != version { return nil }
        if let digest = memo[version] { return (digest, version) }
        if let cached = try? store.cachedDigest(for: version, algorithm: "blake3") {
            memo[version] = cached
            return (cached, version)
        }
        guard let digest = try? FileHasher.digest(ofFileAt: path, algorithm: .blake3) else { return nil }
        // The file may have changed while it was hashed: only a stable version is cached.
        guard Self.version(ofFileAt: path) == version else { return nil }
        computed.append((version, "blake3", digest.hex))
        memo[version] = digest.hex
        return (digest.hex, version)
    }

    /// Writes the digests computed so far to the store's hash cache.
    public func saveCache() throws(StoreError) {
        guard !computed.isEmpty else { return }
        try store.cacheDigests(computed)
        computed.removeAll()
    }

    /// What `stat` says of a regular file now; nil for anything else.
    public static func version(ofFileAt path: String) -> FileVersion? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return FileVersion(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            modifiedNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
    }
}
