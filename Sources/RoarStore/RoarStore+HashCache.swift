import GRDB
public import RoarCore

extension RoarStore {
    /// The digest recorded for exactly this file version (device, inode, size, mtime), or `nil`.
    ///
    /// A file rewritten in place keeps its inode but gets a new mtime (and usually a new size),
    /// so its old digest is not returned. A file whose mtime was set back by hand (`touch -d`)
    /// with the same size would be: the cache trusts `stat`, as `make` does.
    public func cachedDigest(for version: FileVersion, algorithm: String) throws(StoreError) -> String? {
        try read("read the hash cache of") { db in
            try String.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT digest FROM hash_cache
                        WHERE dev = ? AND ino = ? AND size = ? AND mtime_ns = ? AND algorithm = ?
                        """),
                arguments: [
                    Int64(bitPattern: version.device), Int64(bitPattern: version.inode), version.size,
                    version.modifiedNanoseconds, algorithm,
                ])
        }
    }

    /// Records `digest` as the `algorithm` digest of this file version, replacing an earlier one.
    public func cacheDigest(_ digest: String, for version: FileVersion, algorithm: String) throws(StoreError) {
        try cacheDigests([(version, algorithm, digest)])
    }

    /// Records many digests in one transaction (one commit instead of one per file).
    public func cacheDigests(_ entries: [(version: FileVersion, algorithm: String, digest: String)])
        throws(StoreError)
    {
        if entries.isEmpty { return }
        try write("write the hash cache of") { db in
            for entry in entries {
                try HashCacheRow(entry.version, algorithm: entry.algorithm, digest: entry.digest)
                    .insert(db, onConflict: .replace)
            }
        }
    }
}
