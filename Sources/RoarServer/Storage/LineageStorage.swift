public import RoarCore

/// Where the server keeps lineage and tokens. One protocol, two backends: SQLite (the embedded
/// default, ``SQLiteLineageStorage``) and PostgreSQL for a shared team server. Every method is
/// one transaction: it lands entirely or not at all, and throws ``ServerError`` (`.storage`).
public protocol LineageStorage: FragmentSessionStorage {
    /// Where it keeps things, for messages: a file path, or a database URL without its password.
    var description: String { get }

    /// Creates the tables, or brings an older database up to this build's schema.
    func migrate() async throws(ServerError)

    /// The token whose SHA-256 is `digest`, unless it was revoked.
    func identity(tokenDigest: String) async throws(ServerError) -> Identity?
    /// Stores a new token (only its digest) with its grants.
    func createToken(name: String, digest: String, isAdmin: Bool, grants: [String: ProjectRole])
        async throws(ServerError)

    /// The projects `identity` may read, with their counts.
    func projects(visibleTo identity: Identity) async throws(ServerError) -> [ProjectSummary]
    /// Stores a batch of jobs and edges into `project` (created on first use). Idempotent: a job
    /// already there with the same document is left alone and counted unchanged.
    func register(_ batch: RegisterBatch, project: String) async throws(ServerError) -> RegisterOutcome

    /// The project's `roar run` jobs, newest first.
    func runs(project: String, page: PageRequest) async throws(ServerError) -> Page<JobSummary>
    /// One job's whole document, and the uids of the jobs whose parent it is.
    func job(project: String, uid: String) async throws(ServerError) -> JobDetail?
    /// Every recorded read, write or delete of a path, or of content with a digest (prefix ≥ 8).
    func artifactUses(project: String, query: ArtifactQuery, page: PageRequest) async throws(ServerError)
        -> Page<ArtifactUse>
    /// Jobs upstream (what the start came from) or downstream (what used it), up to `depth` edges away.
    func lineage(project: String, start: LineageStart, direction: LineageDirection, depth: Int)
        async throws(ServerError) -> LineageResult
    /// The job documents of one run — the run and every job under it by parent — and the edges
    /// among them; nil when there is no such job.
    func runDocuments(project: String, runUID: String) async throws(ServerError) -> RunDocuments?
    /// Jobs whose function or command contains `text`, or that read or wrote a path starting with it.
    func search(project: String, text: String, page: PageRequest) async throws(ServerError) -> Page<JobSummary>
    /// One more event of an OpenLineage run, in one transaction (`…+OpenLineage.swift` of each backend):
    /// `fold` gets the stored document of job `uid` (nil when there is none) and gives the job to store
    /// (nil: leave it), then the edges between that job and the jobs that used its paths are inferred by
    /// dataset name (``OpenLineageEdges``) and added. `project` is created on first use.
    func foldJob(uid: String, project: String, _ fold: @escaping @Sendable (String?) -> RegisteredJob?)
        async throws(ServerError) -> FoldOutcome
    /// After a registration: the edges between jobs OpenLineage producers sent (`ol-…`) and the jobs that
    /// used `paths` too, inferred as ``foldJob(uid:project:_:)`` infers them; how many were new. One cheap
    /// query when the project has no such job.
    func inferForeignEdges(project: String, paths: Set<String>) async throws(ServerError) -> Int
}

/// Who a bearer token is, and what it may do.
public struct Identity: Sendable, Hashable {
    public var tokenID: Int64
    public var name: String
    /// Reads and writes every project.
    public var isAdmin: Bool
    public var grants: [String: ProjectRole]

    public init(tokenID: Int64, name: String, isAdmin: Bool, grants: [String: ProjectRole]) {
        self.tokenID = tokenID
        self.name = name
        self.isAdmin = isAdmin
        self.grants = grants
    }

    public func may(_ role: ProjectRole, project: String) -> Bool {
        if isAdmin { return true }
        guard let granted = grants[project] else { return false }
        return granted >= role
    }
}

/// A token's role on a project: a writer also reads.
public enum ProjectRole: String, Sendable, Hashable, Codable, Comparable, CaseIterable {
    case reader, writer

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs == .reader && rhs == .writer }
}

public struct ProjectSummary: Sendable, Codable, Hashable {
    public var name: String
    public var jobs: Int
    public var runs: Int
    /// Seconds since the Unix epoch of the last registration.
    public var lastRegisteredAt: Double?

    enum CodingKeys: String, CodingKey {
        case name, jobs, runs
        case lastRegisteredAt = "last_registered_at"
    }
}

/// What `roar register` sends: `roar.dag/1` job documents and edges, checked
/// (``RegisterPayload``) before they reach storage.
public struct RegisterBatch: Sendable {
    public var jobs: [RegisteredJob]
    public var edges: [LineageEdge]

    public init(jobs: [RegisteredJob], edges: [LineageEdge]) {
        self.jobs = jobs
        self.edges = edges
    }
}

/// One job of a batch: the columns the queries need, and the whole document as it came.
public struct RegisteredJob: Sendable {
    public var uid: String
    public var parentUID: String?
    public var step: Int?
    public var role: String
    public var status: String
    public var command: String
    public var function: String?
    public var startedAt: Double
    public var references: [RegisteredReference]
    /// The job's `roar.dag/1` object, compact with sorted keys.
    public var document: String
}

public struct RegisteredReference: Sendable, Hashable {
    public enum Direction: String, Sendable, Codable { case input, output, delete }
    public var direction: Direction
    public var path: String
    public var kind: String
    /// The content's main digest (`blake3`, else `blake3_merkle`, `sha256`, `etag`), as
    /// `algorithm:hex`; nil for a delete or content that was never hashed.
    public var digest: String?
    public var size: Int64?
}

public struct RegisterOutcome: Sendable, Codable, Hashable {
    public var inserted = 0
    public var updated = 0
    public var unchanged = 0
    public var edgesInserted = 0
    public var edgesUnchanged = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case inserted, updated, unchanged
        case edgesInserted = "edges_inserted"
        case edgesUnchanged = "edges_unchanged"
    }
}

/// Keyset pagination: `after` is the `next` cursor of the previous page.
public struct PageRequest: Sendable, Hashable {
    public static let defaultLimit = 100
    public static let maximumLimit = 1000
    public var limit: Int
    public var after: Int64?

    public init(limit: Int = Self.defaultLimit, after: Int64? = nil) {
        self.limit = limit
        self.after = after
    }
}

public struct Page<Item: Sendable & Codable>: Sendable, Codable {
    public var items: [Item]
    /// Pass as `after` for the next page; nil on the last one.
    public var next: String?
}

public struct JobSummary: Sendable, Codable, Hashable {
    public var uid: String
    public var step: Int?
    public var role: String
    public var status: String
    public var command: String
    public var function: String?
    public var parentUID: String?
    public var startedAt: Double

    enum CodingKeys: String, CodingKey {
        case uid, step, role, status, command, function
        case parentUID = "parent_uid"
        case startedAt = "started_at"
    }
}

public struct RunDocuments: Sendable {
    /// `roar.dag/1` job objects as registered.
    public var documents: [String]
    public var edges: [LineageEdgeRecord]
}

public struct JobDetail: Sendable {
    /// The `roar.dag/1` job object as registered.
    public var document: String
    public var children: [String]
}

public enum ArtifactQuery: Sendable, Hashable {
    case path(String)
    /// A digest or a prefix of one (hex, ≥ 8 characters), with or without its `algorithm:`.
    case digest(String)
}

public struct ArtifactUse: Sendable, Codable, Hashable {
    public var job: JobSummary
    public var direction: RegisteredReference.Direction
    public var path: String
    public var kind: String
    public var digest: String?
    public var size: Int64?
}

public enum LineageStart: Sendable, Hashable {
    case path(String)
    case digest(String)
    case job(String)
}

public enum LineageDirection: String, Sendable, Hashable, CaseIterable {
    case upstream, downstream
}

public struct LineageResult: Sendable, Codable {
    /// The jobs the walk starts from: the latest writer of a path, every writer of a digest, or the job.
    public var start: [JobSummary]
    public var jobs: [LineageJob]
    public var edges: [LineageEdgeRecord]
    /// True when `depth` stopped the walk before it ran out of edges.
    public var truncated: Bool
}

public struct LineageJob: Sendable, Codable, Hashable {
    public var job: JobSummary
    /// Edges from the start.
    public var depth: Int
}

public struct LineageEdgeRecord: Sendable, Codable, Hashable {
    public var from: String
    public var to: String
    public var path: String
}
