// FoundationEssentials where available: roar-agent links this statically and full Foundation brings ICU.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import RoarCore

/// What one Ray task (or the driver) did, as seen by one producer at one moment: the unit an
/// agent ships to the host (`docs/fragment-format.md`, schema `docs/fragment.schema.json`).
///
/// Fragments are cumulative: a later fragment of the same `jobUID` (higher `sequenceNumber` from
/// the same producer) replaces the earlier one. The fragment with `isFinal` marks the task complete.
public struct TaskFragment: Codable, Hashable, Sendable {
    /// The only schema this roar writes and reads.
    public static let currentSchema = "roar.fragment/1"

    public enum Status: String, Codable, Hashable, Sendable, CaseIterable {
        case running, ok, failed, killed
    }

    public var schema: String
    public var sessionID: String
    /// Stable per task: derived from the session id and the task's tag (Ray task id and attempt).
    public var jobUID: String
    public var parentJobUID: String?
    public var rayTaskID: String?
    public var rayAttempt: Int?
    public var rayActorID: String?
    public var rayNodeID: String?
    public var rayWorkerID: String?
    public var rayJobID: String?
    /// Qualified name of the remote function or actor method, e.g. `pipeline.Counter.add`.
    public var functionName: String?
    public var pid: Int?
    /// Seconds since the Unix epoch.
    public var startedAt: Double?
    /// Seconds since the Unix epoch; absent while the task runs.
    public var endedAt: Double?
    public var status: Status
    public var exitCode: Int?
    /// `"<ExceptionType>: <message>"` for failed tasks.
    public var error: String?
    /// Position in the producer's stream of fragments: strictly increasing per producer.
    public var sequenceNumber: UInt64
    /// The task ended (a `task_end` was seen): no later fragment of this job will follow.
    public var isFinal: Bool
    public var reads: [FragmentRef]
    public var writes: [FragmentRef]
    /// Counters of events seen and lost, by kind (`static-exec`, `lost`, …).
    public var coverage: [String: Int]

    enum CodingKeys: String, CodingKey {
        case schema, pid, status, error, reads, writes, coverage
        case sessionID = "session_id"
        case jobUID = "job_uid"
        case parentJobUID = "parent_job_uid"
        case rayTaskID = "ray_task_id"
        case rayAttempt = "ray_attempt"
        case rayActorID = "ray_actor_id"
        case rayNodeID = "ray_node_id"
        case rayWorkerID = "ray_worker_id"
        case rayJobID = "ray_job_id"
        case functionName = "function_name"
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case exitCode = "exit_code"
        case sequenceNumber = "seq"
        case isFinal = "final"
    }

    public init(
        sessionID: String, jobUID: String, parentJobUID: String? = nil, rayTaskID: String? = nil,
        rayAttempt: Int? = nil, rayActorID: String? = nil, rayNodeID: String? = nil, rayWorkerID: String? = nil,
        rayJobID: String? = nil, functionName: String? = nil, pid: Int? = nil, startedAt: Double? = nil,
        endedAt: Double? = nil, status: Status, exitCode: Int? = nil, error: String? = nil,
        sequenceNumber: UInt64 = 0, isFinal: Bool, reads: [FragmentRef] = [], writes: [FragmentRef] = [],
        coverage: [String: Int] = [:]
    ) {
        self.schema = Self.currentSchema
        self.sessionID = sessionID
        self.jobUID = jobUID
        self.parentJobUID = parentJobUID
        self.rayTaskID = rayTaskID
        self.rayAttempt = rayAttempt
        self.rayActorID = rayActorID
        self.rayNodeID = rayNodeID
        self.rayWorkerID = rayWorkerID
        self.rayJobID = rayJobID
        self.functionName = functionName
        self.pid = pid
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.status = status
        self.exitCode = exitCode
        self.error = error
        self.sequenceNumber = sequenceNumber
        self.isFinal = isFinal
        self.reads = reads
        self.writes = writes
        self.coverage = coverage
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        schema = try container.decode(String.self, forKey: .schema)
        guard schema == Self.currentSchema else {
            throw DecodingError.dataCorruptedError(
                forKey: .schema, in: container,
                debugDescription: "schema '\(schema)' is not supported (expected '\(Self.currentSchema)')")
        }
        sessionID = try container.decode(String.self, forKey: .sessionID)
        jobUID = try container.decode(String.self, forKey: .jobUID)
        parentJobUID = try container.decodeIfPresent(String.self, forKey: .parentJobUID)
        rayTaskID = try container.decodeIfPresent(String.self, forKey: .rayTaskID)
        rayAttempt = try container.decodeIfPresent(Int.self, forKey: .rayAttempt)
        rayActorID = try container.decodeIfPresent(String.self, forKey: .rayActorID)
        rayNodeID = try container.decodeIfPresent(String.self, forKey: .rayNodeID)
        rayWorkerID = try container.decodeIfPresent(String.self, forKey: .rayWorkerID)
        rayJobID = try container.decodeIfPresent(String.self, forKey: .rayJobID)
        functionName = try container.decodeIfPresent(String.self, forKey: .functionName)
        pid = try container.decodeIfPresent(Int.self, forKey: .pid)
        startedAt = try container.decodeIfPresent(Double.self, forKey: .startedAt)
        endedAt = try container.decodeIfPresent(Double.self, forKey: .endedAt)
        status = try container.decode(Status.self, forKey: .status)
        exitCode = try container.decodeIfPresent(Int.self, forKey: .exitCode)
        error = try container.decodeIfPresent(String.self, forKey: .error)
        sequenceNumber = try container.decode(UInt64.self, forKey: .sequenceNumber)
        isFinal = try container.decode(Bool.self, forKey: .isFinal)
        reads = try container.decode([FragmentRef].self, forKey: .reads)
        writes = try container.decode([FragmentRef].self, forKey: .writes)
        coverage = try container.decode([String: Int].self, forKey: .coverage)
    }

    // MARK: - JSON

    /// Canonical JSON of one fragment: sorted keys, absent values omitted.
    public func encoded() throws -> [UInt8] {
        Array(try Self.encoder.encode(self))
    }

    public static func decode(from json: [UInt8]) throws -> TaskFragment {
        try JSONDecoder().decode(TaskFragment.self, from: Data(json))
    }

    /// A batch's plaintext: a JSON array of fragments.
    public static func encode(batch fragments: [TaskFragment]) throws -> [UInt8] {
        Array(try encoder.encode(fragments))
    }

    public static func decode(batch json: [UInt8]) throws -> [TaskFragment] {
        try JSONDecoder().decode([TaskFragment].self, from: Data(json))
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// One file or S3 object a task read or wrote.
public struct FragmentRef: Codable, Hashable, Sendable {
    /// Absolute local path (on the node that ran the task), or `s3://bucket/key`.
    public var path: String
    /// Algorithm → digest: `blake3`, `sha256` (lowercase hex), `etag`, `s3_version_id`, …
    /// Empty when the content could not be hashed.
    public var hashes: [String: String]
    public var size: Int64?
    /// Which capture layer saw it: `native`, `python`, `boto3`, `proxy`, …
    public var capture: String?
    /// The parts read or written, when not the whole object.
    public var byteRanges: [ByteRange]?
    /// For local files: the version (`stat`) read or produced, on the node that ran the task.
    public var version: FileVersion?

    /// A half-open byte range `[offset, offset + length)`.
    public struct ByteRange: Codable, Hashable, Sendable {
        public var offset: Int64
        public var length: Int64

        public init(offset: Int64, length: Int64) {
            self.offset = offset
            self.length = length
        }
    }

    enum CodingKeys: String, CodingKey {
        case path, hashes, size, capture, version
        case byteRanges = "byte_ranges"
    }

    enum VersionKeys: String, CodingKey {
        case device = "dev"
        case inode = "ino"
        case size
        case modifiedNanoseconds = "mtime_ns"
    }

    public init(
        path: String, hashes: [String: String] = [:], size: Int64? = nil, capture: String? = nil,
        byteRanges: [ByteRange]? = nil, version: FileVersion? = nil
    ) {
        self.path = path
        self.hashes = hashes
        self.size = size
        self.capture = capture
        self.byteRanges = byteRanges
        self.version = version
    }

    /// Not serialized: `s3` for `s3://` paths, otherwise `file`.
    public var kind: Ref.Kind { path.hasPrefix("s3://") ? .s3 : .file }

    /// The store's view of this reference. Files from a cluster node are marked cluster-only
    /// by the caller when they do not exist on the host.
    public var ref: Ref {
        Ref(path: path, kind: kind, hashes: hashes, size: size, capture: capture, version: version)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        path = try container.decode(String.self, forKey: .path)
        hashes = try container.decode([String: String].self, forKey: .hashes)
        size = try container.decodeIfPresent(Int64.self, forKey: .size)
        capture = try container.decodeIfPresent(String.self, forKey: .capture)
        byteRanges = try container.decodeIfPresent([ByteRange].self, forKey: .byteRanges)
        if try container.contains(.version) && !container.decodeNil(forKey: .version) {
            let fields = try container.nestedContainer(keyedBy: VersionKeys.self, forKey: .version)
            version = FileVersion(
                device: try fields.decode(UInt64.self, forKey: .device),
                inode: try fields.decode(UInt64.self, forKey: .inode),
                size: try fields.decode(Int64.self, forKey: .size),
                modifiedNanoseconds: try fields.decode(Int64.self, forKey: .modifiedNanoseconds))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(path, forKey: .path)
        try container.encode(hashes, forKey: .hashes)
        try container.encodeIfPresent(size, forKey: .size)
        try container.encodeIfPresent(capture, forKey: .capture)
        try container.encodeIfPresent(byteRanges, forKey: .byteRanges)
        if let version {
            var fields = container.nestedContainer(keyedBy: VersionKeys.self, forKey: .version)
            try fields.encode(version.device, forKey: .device)
            try fields.encode(version.inode, forKey: .inode)
            try fields.encode(version.size, forKey: .size)
            try fields.encode(version.modifiedNanoseconds, forKey: .modifiedNanoseconds)
        }
    }
}
