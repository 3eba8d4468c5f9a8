import Foundation
import GRDB
import RoarCore

// Records: one Codable struct per table, internal to the module. The public API speaks in
// RoarCore's value types; these structs translate.
//
// SQLite integers are signed 64-bit; `dev` and `ino` are `UInt64` in `FileVersion`, so they are
// stored as the same 64 bits read as `Int64` (`Int64(bitPattern:)`) and read back the same way.

struct SessionRow: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "sessions"

    var id: Int64?
    var uid: String
    var createdAt: Double

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case id, uid
        case createdAt = "created_at"
    }

    mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

struct JobRow: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "jobs"

    var id: Int64?
    var uid: String
    var sessionID: Int64
    var step: Int?
    var role: String
    var command: String
    var cwd: String?
    var gitCommit: String?
    var gitBranch: String?
    var gitDirty: Bool?
    var startedAt: Double
    var durationSeconds: Double?
    var exitCode: Int?
    var status: String
    var parentUID: String?
    var error: String?
    var hostname: String?
    var coverage: String
    var rayTaskID: String?
    var rayAttempt: Int?
    var rayActorID: String?
    var rayNodeID: String?
    var rayWorkerID: String?
    var rayJobID: String?
    var rayFunction: String?

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case id, uid, step, role, command, cwd, status, error, hostname, coverage
        case sessionID = "session_id"
        case gitCommit = "git_commit"
        case gitBranch = "git_branch"
        case gitDirty = "git_dirty"
        case startedAt = "started_at"
        case durationSeconds = "duration_s"
        case exitCode = "exit_code"
        case parentUID = "parent_uid"
        case rayTaskID = "ray_task_id"
        case rayAttempt = "ray_attempt"
        case rayActorID = "ray_actor_id"
        case rayNodeID = "ray_node_id"
        case rayWorkerID = "ray_worker_id"
        case rayJobID = "ray_job_id"
        case rayFunction = "ray_function"
    }

    mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    init(_ job: Job, id: Int64?, sessionID: Int64, coverage: String) {
        self.id = id
        self.uid = job.uid
        self.sessionID = sessionID
        self.step = job.step
        self.role = job.role.rawValue
        self.command = job.command
        self.cwd = job.cwd
        self.gitCommit = job.git?.commit
        self.gitBranch = job.git?.branch
        self.gitDirty = job.git?.isDirty
        self.startedAt = job.startedAt
        self.durationSeconds = job.durationSeconds
        self.exitCode = job.exitCode
        self.status = job.status.rawValue
        self.parentUID = job.parentUID
        self.error = job.error
        self.hostname = job.hostname
        self.coverage = coverage
        self.rayTaskID = job.ray?.taskID
        self.rayAttempt = job.ray?.attempt
        self.rayActorID = job.ray?.actorID
        self.rayNodeID = job.ray?.nodeID
        self.rayWorkerID = job.ray?.workerID
        self.rayJobID = job.ray?.jobID
        self.rayFunction = job.ray?.function
    }

    /// The job this row stores; throws `RowContentError` when a column holds a value this build
    /// cannot read.
    func job(decoder: JSONDecoder) throws -> Job {
        guard let role = Job.Role(rawValue: role) else {
            throw RowContentError(table: "jobs", key: uid, column: "role", value: role)
        }
        guard let status = Job.Status(rawValue: status) else {
            throw RowContentError(table: "jobs", key: uid, column: "status", value: status)
        }
        let coverage: [String: Int]
        do {
            coverage = try decoder.decode([String: Int].self, from: Data(self.coverage.utf8))
        } catch {
            throw RowContentError(table: "jobs", key: uid, column: "coverage", value: self.coverage)
        }
        var git: GitState?
        if let gitCommit {
            git = GitState(commit: gitCommit, branch: gitBranch, isDirty: gitDirty ?? false)
        }
        var ray: RayIdentity?
        if let rayTaskID {
            ray = RayIdentity(
                taskID: rayTaskID, attempt: rayAttempt ?? 0, actorID: rayActorID, nodeID: rayNodeID,
                workerID: rayWorkerID, jobID: rayJobID, function: rayFunction ?? "")
        }
        return Job(
            uid: uid, step: step, role: role, command: command, cwd: cwd, git: git, startedAt: startedAt,
            durationSeconds: durationSeconds, exitCode: exitCode, status: status, parentUID: parentUID, ray: ray,
            error: error, hostname: hostname, coverage: coverage)
    }
}

struct ArtifactRow: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "artifacts"

    var id: Int64?
    var kind: String
    var size: Int64?

    mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

struct ArtifactHashRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "artifact_hashes"

    var artifactID: Int64
    var algorithm: String
    var digest: String

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case algorithm, digest
        case artifactID = "artifact_id"
    }
}

/// Which side of a job a ref row is on; chooses the table.
protocol RefDirection: Sendable {
    static var tableName: String { get }
}

enum InputDirection: RefDirection {
    static let tableName = "job_inputs"
}

enum OutputDirection: RefDirection {
    static let tableName = "job_outputs"
}

/// A row of `job_inputs` or `job_outputs`: one `Ref` of one job.
struct RefRow<Direction: RefDirection>: Codable, FetchableRecord, PersistableRecord {
    static var databaseTableName: String { Direction.tableName }

    var jobID: Int64
    var artifactID: Int64?
    var path: String
    var kind: String
    /// The ref's hashes exactly as recorded: a JSON object with sorted keys.
    var hashes: String
    var size: Int64?
    var capture: String?
    var device: Int64?
    var inode: Int64?
    var versionSize: Int64?
    var modifiedNanoseconds: Int64?
    var isClusterOnly: Bool

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case path, kind, hashes, size, capture
        case jobID = "job_id"
        case artifactID = "artifact_id"
        case device = "dev"
        case inode = "ino"
        case versionSize = "version_size"
        case modifiedNanoseconds = "mtime_ns"
        case isClusterOnly = "cluster_only"
    }

    init(_ ref: Ref, jobID: Int64, artifactID: Int64?, hashes: String) {
        self.jobID = jobID
        self.artifactID = artifactID
        self.path = ref.path
        self.kind = ref.kind.rawValue
        self.hashes = hashes
        self.size = ref.size
        self.capture = ref.capture
        self.device = ref.version.map { Int64(bitPattern: $0.device) }
        self.inode = ref.version.map { Int64(bitPattern: $0.inode) }
        self.versionSize = ref.version?.size
        self.modifiedNanoseconds = ref.version?.modifiedNanoseconds
        self.isClusterOnly = ref.isClusterOnly
    }

    func ref(decoder: JSONDecoder) throws -> Ref {
        guard let kind = Ref.Kind(rawValue: kind) else {
            throw RowContentError(table: Direction.tableName, key: path, column: "kind", value: kind)
        }
        let hashes: [String: String]
        do {
            hashes = try decoder.decode([String: String].self, from: Data(self.hashes.utf8))
        } catch {
            throw RowContentError(table: Direction.tableName, key: path, column: "hashes", value: self.hashes)
        }
        var version: FileVersion?
        if let device, let inode, let versionSize, let modifiedNanoseconds {
            version = FileVersion(
                device: UInt64(bitPattern: device), inode: UInt64(bitPattern: inode), size: versionSize,
                modifiedNanoseconds: modifiedNanoseconds)
        }
        return Ref(
            path: path, kind: kind, hashes: hashes, size: size, capture: capture, version: version,
            isClusterOnly: isClusterOnly)
    }
}

struct DeleteRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "job_deletes"

    var jobID: Int64
    var path: String

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case path
        case jobID = "job_id"
    }
}

struct HashCacheRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "hash_cache"

    var device: Int64
    var inode: Int64
    var size: Int64
    var modifiedNanoseconds: Int64
    var algorithm: String
    var digest: String

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case size, algorithm, digest
        case device = "dev"
        case inode = "ino"
        case modifiedNanoseconds = "mtime_ns"
    }

    init(_ version: FileVersion, algorithm: String, digest: String) {
        self.device = Int64(bitPattern: version.device)
        self.inode = Int64(bitPattern: version.inode)
        self.size = version.size
        self.modifiedNanoseconds = version.modifiedNanoseconds
        self.algorithm = algorithm
        self.digest = digest
    }
}

/// A stored value this build cannot read (an unknown enum case, malformed JSON). Wrapped in a
/// `StoreError` with code `.corrupt`.
struct RowContentError: Error, CustomStringConvertible {
    var table: String
    var key: String
    var column: String
    var value: String

    var description: String {
        "\(table) row \(String(reflecting: key)): column \(column) holds \(String(reflecting: value)), "
            + "which this roar cannot read"
    }
}
