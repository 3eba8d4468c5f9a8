/// Which digests reconstitution needs for what a run's tasks read, and where each comes from: the
/// one rule for the host (`JobAssembler`) and for the node (`roar-agent`'s `Shipper`, which hashes on
/// the node what the host will ask for, since only the node has the files).
///
/// - A **read** is an `F` record opened for reading and not for writing. A read of a version that a
///   write of the run produced (equal versions: ``VersionMatch/version(_:_:)``) takes the BLAKE3 that
///   write recorded in its `F` record: ``writtenDigest(of:)``.
/// - Any other read needs the digest of the file itself, taken only while the file is still the
///   version read: ``needsFileDigest(forRead:)``. On the host, `ReadDigestResolver` hashes it (local)
///   or looks up what the agent sent (`read_digests`); the agent hashes exactly these.
/// - A truncate, a link or rename target, and an open for writing change a file outside an `F` record:
///   reconstitution hashes that file as found (``pathHashedAsFound(by:)``; the agent sends them as
///   `current_digests` in its final batch).
///
/// Paths are filtered by the caller with the host's `PathFilter` on the restored path. The agent sees
/// the spool a piece at a time, so it may hash a read whose version a later line shows written: a
/// digest the host does not need, never one missing.
public struct ReadDigestPolicy: Sendable {
    var writtenDigests: [FileVersion: String] = [:]

    public init() {}

    /// Takes note of a write: its `blake3` digest becomes the digest of the version it produced.
    public mutating func note(_ access: FileAccess) {
        if access.isWrite, let hash = access.hash, hash.algorithm == "blake3" {
            writtenDigests[access.version] = hash.digest
        }
    }

    /// The digest a write of the run recorded for `version`, if any.
    public func writtenDigest(of version: FileVersion) -> String? {
        writtenDigests[version]
    }

    /// Whether `access` is a read whose digest must come from the file itself.
    public func needsFileDigest(forRead access: FileAccess) -> Bool {
        access.isRead && !access.isWrite && writtenDigests[access.version] == nil
    }

    /// The digest of what the read `access` saw: the written digest of its version, else what
    /// `digestOfFile(path, version)` finds (nil when the file is no longer that version).
    public func digest(
        ofRead access: FileAccess, digestOfFile: (_ path: String, _ version: FileVersion) -> String?
    ) -> String? {
        if let written = writtenDigests[access.version] { return written }
        return needsFileDigest(forRead: access) ? digestOfFile(access.path, access.version) : nil
    }

    /// The file a record changed outside an `F` record, which reconstitution hashes as found: a
    /// truncate's path, a link's or rename's target, an open for writing (the host uses the last
    /// only for a file still open when its process ended).
    public static func pathHashedAsFound(by record: SpoolRecord) -> String? {
        switch record {
        case .truncate(_, _, let path, _), .link(_, _, _, let path), .rename(_, _, _, let path),
            .openForWrite(_, _, _, let path):
            path
        default: nil
        }
    }
}
