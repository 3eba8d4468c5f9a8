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

/// A row of `jobs`.
///
/// This struct and `RefRow` map their columns by hand instead of through `Codable` and GRDB's
/// persistence methods: a merge writes one of each per job and per ref, and the generic path
/// took over half of a 10,000-job merge (measured with `perf`, debug build). Columns are
/// listed once, in `columns`, which both the insert and the select use.
struct JobRow: FetchableRecord {
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
    /// `JobFingerprint` of what the last merge of this job wrote (migration v2).
    var fingerprint: Int64?

    /// Every column but `id`, in the order of `arguments`.
    static let columns = [
        "uid", "session_id", "step", "role", "command", "cwd", "git_commit", "git_branch", "git_dirty",
        "started_at", "duration_s", "exit_code", "status", "parent_uid", "error", "hostname", "coverage",
        "ray_task_id", "ray_attempt", "ray_actor_id", "ray_node_id", "ray_worker_id", "ray_job_id", "ray_function",
        "fingerprint",
    ]
    static let selection = "id, " + columns.joined(separator: ", ")
    /// Inserts a new uid; does nothing for a stored one (see `save`).
    static let insertSQL = """
        INSERT INTO jobs (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))
        ON CONFLICT (uid) DO NOTHING
        """
    static let updateSQL = "UPDATE jobs SET \(columns.map { "\($0) = ?" }.joined(separator: ", ")) WHERE id = ?"

    var arguments: StatementArguments {
        [
            uid, sessionID, step, role, command, cwd, gitCommit, gitBranch, gitDirty, startedAt, durationSeconds,
            exitCode, status, parentUID, error, hostname, coverage, rayTaskID, rayAttempt, rayActorID, rayNodeID,
            rayWorkerID, rayJobID, rayFunction, fingerprint,
        ]
    }

    /// Reads a row selected with `selection`. A value of the wrong type (a hand-edited file)
    /// throws rather than traps.
    init(row: Row) throws {
        id = try row.decode(atIndex: 0)
        uid = try row.decode(atIndex: 1)
        sessionID = try row.decode(atIndex: 2)
        step = try row.decode(atIndex: 3)
        role = try row.decode(atIndex: 4)
        command = try row.decode(atIndex: 5)
        cwd = try row.decode(atIndex: 6)
        gitCommit = try row.decode(atIndex: 7)
        gitBranch = try row.decode(atIndex: 8)
        gitDirty = try row.decode(atIndex: 9)
        startedAt = try row.decode(atIndex: 10)
        durationSeconds = try row.decode(atIndex: 11)
        exitCode = try row.decode(atIndex: 12)
        status = try row.decode(atIndex: 13)
        parentUID = try row.decode(atIndex: 14)
        error = try row.decode(atIndex: 15)
        hostname = try row.decode(atIndex: 16)
        coverage = try row.decode(atIndex: 17)
        rayTaskID = try row.decode(atIndex: 18)
        rayAttempt = try row.decode(atIndex: 19)
        rayActorID = try row.decode(atIndex: 20)
        rayNodeID = try row.decode(atIndex: 21)
        rayWorkerID = try row.decode(atIndex: 22)
        rayJobID = try row.decode(atIndex: 23)
        rayFunction = try row.decode(atIndex: 24)
        fingerprint = try row.decode(atIndex: 25)
    }

    enum SaveOutcome {
        /// A new uid: the row was inserted.
        case inserted
        /// The stored row with this uid has the same fingerprint: nothing was written.
        case unchanged
        /// The stored row with this uid was updated; its refs are to be replaced.
        case updated
    }

    /// Inserts the row, or updates the stored row with the same uid unless its fingerprint shows
    /// it is the same. Returns the row's id and what was done.
    ///
    /// Trying the insert first saves a look-up per new job, the common case of a merge.
    func save(_ db: Database) throws -> (id: Int64, outcome: SaveOutcome) {
        try db.cachedStatement(sql: Self.insertSQL).execute(arguments: arguments)
        if db.changesCount == 1 { return (db.lastInsertedRowID, .inserted) }
        let stored = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT id, fingerprint FROM jobs WHERE uid = ?"), arguments: [uid])!
        let id: Int64 = try stored.decode(atIndex: 0)
        if let fingerprint, try stored.decode(Int64?.self, atIndex: 1) == fingerprint {
            return (id, .unchanged)
        }
        var arguments = self.arguments
        arguments += [id]
        try db.cachedStatement(sql: Self.updateSQL).execute(arguments: arguments)
        return (id, .updated)
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
        self.fingerprint = nil
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
            coverage = try JSONText.decode(self.coverage, as: [String: Int].self, decoder: decoder)
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

struct ArtifactRow: Codable, FetchableRecord, TableRecord {
    static let databaseTableName = "artifacts"

    var id: Int64
    var kind: String
    var size: Int64?
}

/// Which side of a job a ref row is on; chooses the table.
protocol RefDirection: Sendable {
    static var tableName: String { get }
    /// `RefRow.insertSQL(into: tableName)`, built once (a generic type cannot store it).
    static var insertSQL: String { get }
}

enum InputDirection: RefDirection {
    static let tableName = "job_inputs"
    static let insertSQL = RefRow<Self>.insertSQL(into: tableName)
}

enum OutputDirection: RefDirection {
    static let tableName = "job_outputs"
    static let insertSQL = RefRow<Self>.insertSQL(into: tableName)
}

/// A row of `job_inputs` or `job_outputs`: one `Ref` of one job. Columns mapped by hand, as
/// for `JobRow`.
struct RefRow<Direction: RefDirection>: FetchableRecord {
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
    /// `Ref.byteRanges` as JSON text (migration v3).
    var byteRanges: String?

    /// Every column but `id`, in the order of `arguments` and of `init(row:)`.
    static var columns: String {
        "job_id, artifact_id, path, kind, hashes, size, capture, dev, ino, version_size, mtime_ns, cluster_only, byte_ranges"
    }
    /// Inserts a row unless the job already has one for the same path and content.
    static func insertSQL(into table: String) -> String {
        "INSERT OR IGNORE INTO \(table) (\(columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    }

    var arguments: StatementArguments {
        [
            jobID, artifactID, path, kind, hashes, size, capture, device, inode, versionSize, modifiedNanoseconds,
            isClusterOnly, byteRanges,
        ]
    }

    /// Reads a row selected with `columns`.
    init(row: Row) throws {
        jobID = try row.decode(atIndex: 0)
        artifactID = try row.decode(atIndex: 1)
        path = try row.decode(atIndex: 2)
        kind = try row.decode(atIndex: 3)
        hashes = try row.decode(atIndex: 4)
        size = try row.decode(atIndex: 5)
        capture = try row.decode(atIndex: 6)
        device = try row.decode(atIndex: 7)
        inode = try row.decode(atIndex: 8)
        versionSize = try row.decode(atIndex: 9)
        modifiedNanoseconds = try row.decode(atIndex: 10)
        isClusterOnly = try row.decode(atIndex: 11)
        byteRanges = try row.decode(atIndex: 12)
    }

    func insert(_ db: Database) throws {
        try db.cachedStatement(sql: Direction.insertSQL).execute(arguments: arguments)
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
        self.byteRanges = ref.byteRanges.map(Self.rangesText)
    }

    /// `[[0,2],[5,9]]`: the ranges as JSON, written by hand (sorted integers need no encoder).
    static func rangesText(_ ranges: [[Int64]]) -> String {
        "[" + ranges.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
    }

    func ref(decoder: JSONDecoder) throws -> Ref {
        guard let kind = Ref.Kind(rawValue: kind) else {
            throw RowContentError(table: Direction.tableName, key: path, column: "kind", value: kind)
        }
        let hashes: [String: String]
        do {
            hashes = try JSONText.decode(self.hashes, as: [String: String].self, decoder: decoder)
        } catch {
            throw RowContentError(table: Direction.tableName, key: path, column: "hashes", value: self.hashes)
        }
        var version: FileVersion?
        if let device, let inode, let versionSize, let modifiedNanoseconds {
            version = FileVersion(
                device: UInt64(bitPattern: device), inode: UInt64(bitPattern: inode), size: versionSize,
                modifiedNanoseconds: modifiedNanoseconds)
        }
        var ranges: [[Int64]]?
        if let byteRanges {
            do {
                ranges = try decoder.decode([[Int64]].self, from: Data(byteRanges.utf8))
            } catch {
                throw RowContentError(table: Direction.tableName, key: path, column: "byte_ranges", value: byteRanges)
            }
        }
        return Ref(
            path: path, kind: kind, hashes: hashes, size: size, capture: capture, version: version,
            isClusterOnly: isClusterOnly, byteRanges: ranges)
    }
}

struct DeleteRow: Codable, FetchableRecord {

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
