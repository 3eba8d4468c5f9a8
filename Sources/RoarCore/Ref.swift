/// A reference from a job to something it read or wrote: a file, an S3 object or a composite.
public struct Ref: Codable, Hashable, Sendable {
    public enum Kind: String, Codable, Hashable, Sendable {
        case file, s3, composite
    }

    /// Absolute local path, or `s3://bucket/key`.
    public var path: String
    public var kind: Kind
    /// Algorithm → lowercase hex digest: `blake3`, `sha256`, `etag`, `s3_version_id`, …
    /// Empty when the content could not be hashed (the file changed before roar saw it).
    public var hashes: [String: String]
    public var size: Int64?
    /// Which capture layer saw it: `native` (preload), `python`, `boto3`, `proxy`.
    public var capture: String?
    /// For files: which version of the file (inode and mtime), so a read is matched to the
    /// write that produced exactly that version — not merely to equal bytes.
    public var version: FileVersion?
    /// For files that exist only on a Ray cluster node (host-submit), not on this host.
    public var isClusterOnly: Bool
    /// For S3 reads: the `[start, end)` byte ranges read; `[]` when only the metadata was read
    /// (`HeadObject`); nil for a whole read (and for files).
    public var byteRanges: [[Int64]]?
    /// For composites: the parts, sorted by name (`Composite`); nil for files and objects.
    public var components: [CompositeComponent]?

    public init(
        path: String, kind: Kind = .file, hashes: [String: String] = [:], size: Int64? = nil,
        capture: String? = nil, version: FileVersion? = nil, isClusterOnly: Bool = false,
        byteRanges: [[Int64]]? = nil, components: [CompositeComponent]? = nil
    ) {
        self.path = path
        self.kind = kind
        self.hashes = hashes
        self.size = size
        self.capture = capture
        self.version = version
        self.isClusterOnly = isClusterOnly
        self.byteRanges = byteRanges
        self.components = components
    }

    /// The preferred digest for display and lineage: BLAKE3 (a composite's Merkle root), else SHA-256,
    /// else any.
    public var primaryHash: (algorithm: String, digest: String)? {
        for algorithm in ["blake3", Composite.algorithm, "sha256", "etag"] {
            if let digest = hashes[algorithm] { return (algorithm, digest) }
        }
        return hashes.sorted { $0.key < $1.key }.first.map { ($0.key, $0.value) }
    }
}

/// Identifies one version of a file on one machine: what `stat` said when it was read or
/// after it was written.
public struct FileVersion: Codable, Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var modifiedNanoseconds: Int64

    public init(device: UInt64, inode: UInt64, size: Int64, modifiedNanoseconds: Int64) {
        self.device = device
        self.inode = inode
        self.size = size
        self.modifiedNanoseconds = modifiedNanoseconds
    }
}

/// A job together with what it read and wrote: the unit that is merged into the store.
public struct RecordedJob: Codable, Hashable, Sendable {
    public var job: Job
    public var inputs: [Ref]
    public var outputs: [Ref]
    /// Paths the job deleted.
    public var deletes: [String]

    public init(job: Job, inputs: [Ref] = [], outputs: [Ref] = [], deletes: [String] = []) {
        self.job = job
        self.inputs = inputs
        self.outputs = outputs
        self.deletes = deletes
    }
}

/// `to` read what `from` wrote at `path`.
public struct LineageEdge: Codable, Hashable, Sendable {
    public var from: String
    public var to: String
    public var path: String

    public init(from: String, to: String, path: String) {
        self.from = from
        self.to = to
        self.path = path
    }
}
