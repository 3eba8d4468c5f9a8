public import RoarCore

/// The recording session jobs belong to. One per project for now.
public struct StoreSession: Hashable, Sendable {
    /// 16 lowercase hex digits, random.
    public var uid: String
    /// Seconds since the Unix epoch.
    public var createdAt: Double

    public init(uid: String, createdAt: Double) {
        self.uid = uid
        self.createdAt = createdAt
    }
}

/// What one ``RoarStore/merge(_:)`` did.
public struct MergeResult: Hashable, Sendable {
    /// Jobs whose uid was new to the store.
    public var insertedJobs: Int
    /// Jobs whose uid was already stored with other content: their row and their reads,
    /// writes and deletes were replaced by the merged ones.
    public var replacedJobs: Int
    /// Jobs already stored exactly as merged: nothing was written for them.
    public var unchangedJobs: Int

    public init(insertedJobs: Int = 0, replacedJobs: Int = 0, unchangedJobs: Int = 0) {
        self.insertedJobs = insertedJobs
        self.replacedJobs = replacedJobs
        self.unchangedJobs = unchangedJobs
    }
}

/// One artifact — one content, known by one or more digests — and where it was seen.
public struct ArtifactSummary: Hashable, Sendable {
    /// The kind of the first ref that created the artifact.
    public var kind: Ref.Kind
    public var size: Int64?
    /// Every identifying digest known for this content, by algorithm (`blake3`, `sha256`, `etag`…).
    public var hashes: [String: String]
    /// Paths at which it was read or written, sorted.
    public var paths: [String]
    /// Uids of the jobs that wrote it, in history order (step, then start time).
    public var producers: [String]
    /// Uids of the jobs that read it, in history order.
    public var consumers: [String]

    public init(
        kind: Ref.Kind, size: Int64?, hashes: [String: String], paths: [String], producers: [String],
        consumers: [String]
    ) {
        self.kind = kind
        self.size = size
        self.hashes = hashes
        self.paths = paths
        self.producers = producers
        self.consumers = consumers
    }

    /// The digest to show: BLAKE3, else SHA-256, else ETag, else any.
    public var primaryHash: (algorithm: String, digest: String)? {
        Ref(path: "", hashes: hashes).primaryHash
    }
}

/// Counts for `roar status`.
public struct StoreSummary: Hashable, Sendable {
    public var jobCount: Int
    public var jobsByStatus: [Job.Status: Int]
    public var jobsByRole: [Job.Role: Int]
    public var artifactCount: Int
    /// Distinct step numbers in use.
    public var stepCount: Int
    /// The highest step, `nil` when no job has one.
    public var lastStep: Int?
    /// When the most recently started job started (seconds since the Unix epoch).
    public var lastStartedAt: Double?
    /// When the last job to finish finished: the largest `startedAt + durationSeconds`.
    public var lastFinishedAt: Double?
    /// Reads whose content could not be hashed: lineage through them rests on the file version only.
    public var unhashedReadCount: Int
    /// The jobs' `coverage` counters summed by kind: events the tracer could not attribute or record.
    public var coverage: [String: Int]

    public init(
        jobCount: Int = 0, jobsByStatus: [Job.Status: Int] = [:], jobsByRole: [Job.Role: Int] = [:],
        artifactCount: Int = 0, stepCount: Int = 0, lastStep: Int? = nil, lastStartedAt: Double? = nil,
        lastFinishedAt: Double? = nil, unhashedReadCount: Int = 0, coverage: [String: Int] = [:]
    ) {
        self.jobCount = jobCount
        self.jobsByStatus = jobsByStatus
        self.jobsByRole = jobsByRole
        self.artifactCount = artifactCount
        self.stepCount = stepCount
        self.lastStep = lastStep
        self.lastStartedAt = lastStartedAt
        self.lastFinishedAt = lastFinishedAt
        self.unhashedReadCount = unhashedReadCount
        self.coverage = coverage
    }
}
