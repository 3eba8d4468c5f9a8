/// "B read the version A wrote": the one rule that links a read to a write. `StepPlanner` orders
/// tasks by it; `RoarStore.edges()` is the same rule in SQL (SQL cannot call Swift: it mirrors
/// ``isRead(_:ofVersionWrittenBy:)`` clause by clause, and `LineageTests` checks that the two agree
/// on a table of cases; change both together). `ReadDigestPolicy` uses its version half: a read of a
/// version a write produced takes that write's digest.
///
/// A read saw what a write produced when the path is the same, no evidence says otherwise, and some
/// evidence says so:
/// - **version**: both carry a file version (device, inode, size, mtime) and they are equal — so two
///   writes of equal bytes (two empty files) are not confused: the reader is linked to the writer of
///   the version it saw;
/// - **content**: both carry identifying digests and they are the same content (the store's
///   artifact: a digest of one algorithm in common, none that differs).
///
/// An unhashed read (its content changed before it could be hashed) is linked by its version alone; a
/// read with neither a digest nor a version is linked to nothing. Refs without versions (S3 objects)
/// are matched by content, so two jobs that wrote the same bytes to one key are both linked to its
/// readers. Time is not compared (clocks of cluster nodes differ).
public enum VersionMatch {
    /// What one kind of evidence says about a read and a write.
    public enum Evidence: Sendable, Equatable {
        case agrees, differs, missing
    }

    /// Digest algorithms that identify content (the store's artifacts), most trusted first.
    /// `s3_version_id` and the like name an object's version, not its bytes.
    public static let identifyingAlgorithms = [
        "blake3", Composite.algorithm, "sha256", "sha512", "sha1", "md5", "etag",
    ]

    /// Equal file versions; `missing` when either has none.
    public static func version(_ read: FileVersion?, _ write: FileVersion?) -> Evidence {
        guard let read, let write else { return .missing }
        return read == write ? .agrees : .differs
    }

    /// The same content: a digest in common, and no identifying algorithm with two different
    /// digests; `missing` when either has no identifying digest.
    public static func content(_ read: [String: String], _ write: [String: String]) -> Evidence {
        let readIdentity = identifyingAlgorithms.filter { read[$0] != nil }
        let writeIdentity = identifyingAlgorithms.filter { write[$0] != nil }
        guard !readIdentity.isEmpty, !writeIdentity.isEmpty else { return .missing }
        var shared = false
        for algorithm in readIdentity {
            guard let other = write[algorithm] else { continue }
            if other != read[algorithm] { return .differs }
            shared = true
        }
        return shared ? .agrees : .differs
    }

    /// Whether the read `read` saw the content that the write `write` produced.
    public static func isRead(_ read: Ref, ofVersionWrittenBy write: Ref) -> Bool {
        guard read.path == write.path else { return false }
        let evidence = [version(read.version, write.version), content(read.hashes, write.hashes)]
        return !evidence.contains(.differs) && evidence.contains(.agrees)
    }
}
