import Foundation
public import Logging
import PostgresNIO
import RoarCore

/// The team backend: a PostgreSQL database (`roar serve --database postgres://user:pw@host/db`),
/// through postgres-nio's connection pool. The same tables and answers as
/// ``SQLiteLineageStorage``; several `roar serve` processes may share one database (migrations
/// take an advisory lock, registrations are transactions).
public final class PostgresLineageStorage: LineageStorage {
    public let description: String
    let client: PostgresClient
    let logger: Logger
    let running: Task<Void, Never>

    /// Connects lazily (the pool runs from now on); `url` is `postgres://user[:password]@host[:port]/database`.
    public init(url: String, logger: Logger = Logger(label: "roar.serve.postgres")) throws(ServerError) {
        guard let parsed = URLComponents(string: url), ["postgres", "postgresql"].contains(parsed.scheme ?? ""),
            let host = parsed.host, !host.isEmpty, let user = parsed.user, !user.isEmpty
        else {
            throw ServerError(.configuration, "--database: expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        let database = String(parsed.path.drop { $0 == "/" })
        let configuration = PostgresClient.Configuration(
            host: host, port: parsed.port ?? 5432, username: user, password: parsed.password,
            database: database.isEmpty ? user : database, tls: .disable)
        description = "postgres://\(user)@\(host):\(parsed.port ?? 5432)/\(database.isEmpty ? user : database)"
        client = PostgresClient(configuration: configuration)
        self.logger = logger
        let pool = client
        running = Task { await pool.run() }
    }

    deinit { running.cancel() }

    /// The schema's versions, each a list of statements applied in one transaction.
    static var migrations: [[String]] { [schemaVersion1, schemaVersion2] }

    static let schemaVersion1: [String] = [
        """
        CREATE TABLE projects (
            name TEXT PRIMARY KEY, created_at DOUBLE PRECISION NOT NULL, last_registered_at DOUBLE PRECISION)
        """,
        """
        CREATE TABLE tokens (
            id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, digest TEXT NOT NULL UNIQUE, is_admin BOOLEAN NOT NULL,
            created_at DOUBLE PRECISION NOT NULL, revoked_at DOUBLE PRECISION)
        """,
        """
        CREATE TABLE grants (
            token_id BIGINT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE, project TEXT NOT NULL,
            role TEXT NOT NULL, PRIMARY KEY (token_id, project))
        """,
        """
        CREATE TABLE jobs (
            id BIGSERIAL PRIMARY KEY, project TEXT NOT NULL REFERENCES projects(name), uid TEXT NOT NULL,
            parent_uid TEXT, step BIGINT, role TEXT NOT NULL, status TEXT NOT NULL, command TEXT NOT NULL,
            function TEXT, started_at DOUBLE PRECISION NOT NULL, document TEXT NOT NULL,
            document_digest TEXT NOT NULL, UNIQUE (project, uid))
        """,
        "CREATE INDEX jobs_by_role ON jobs(project, role, started_at)",
        "CREATE INDEX jobs_by_parent ON jobs(project, parent_uid)",
        """
        CREATE TABLE refs (
            id BIGSERIAL PRIMARY KEY, job_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            project TEXT NOT NULL, direction TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL, digest TEXT,
            size BIGINT)
        """,
        "CREATE INDEX refs_by_job ON refs(job_id)",
        "CREATE INDEX refs_by_path ON refs(project, path)",
        "CREATE INDEX refs_by_digest ON refs(project, digest)",
        """
        CREATE TABLE edges (
            project TEXT NOT NULL, from_uid TEXT NOT NULL, to_uid TEXT NOT NULL, path TEXT NOT NULL,
            PRIMARY KEY (project, from_uid, to_uid, path))
        """,
        "CREATE INDEX edges_by_target ON edges(project, to_uid)",
    ]

    static let schemaVersion2: [String] = [
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY, project TEXT NOT NULL, run_id TEXT NOT NULL, key_fingerprint TEXT NOT NULL,
            capability_digest TEXT NOT NULL UNIQUE, created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL, closed_at DOUBLE PRECISION)
        """,
        "CREATE INDEX sessions_by_expiry ON sessions(expires_at)",
        """
        CREATE TABLE session_batches (
            cursor BIGSERIAL PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            producer TEXT NOT NULL, seq BIGINT NOT NULL, sha256 TEXT NOT NULL, size BIGINT NOT NULL,
            data BYTEA NOT NULL, UNIQUE (session_id, producer, seq))
        """,
    ]

    public func migrate() async throws(ServerError) {
        try await transaction("migrate \(description)") { connection, logger in
            // One migrator at a time, whichever server starts first.
            try await connection.query("SELECT pg_advisory_xact_lock(7140700)", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS roar_schema (version INTEGER NOT NULL)", logger: logger)
            let applied =
                try await connection.query("SELECT version FROM roar_schema", logger: logger)
                .collect().map { try $0.decode(Int.self) }.max() ?? 0
            guard applied <= Self.migrations.count else {
                throw ServerError(
                    .configuration, "\(self.description) was made by a newer roar (schema \(applied)): upgrade roar")
            }
            for (index, statements) in Self.migrations.enumerated() where index + 1 > applied {
                for statement in statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO roar_schema (version) VALUES (\(index + 1))", logger: logger)
            }
        }
    }

    // MARK: - Tokens

    public func identity(tokenDigest: String) async throws(ServerError) -> Identity? {
        try await run("look up a token") { connection, logger in
            let rows = try await connection.query(
                "SELECT id, name, is_admin FROM tokens WHERE digest = \(tokenDigest) AND revoked_at IS NULL",
                logger: logger
            ).collect()
            guard let row = rows.first else { return nil }
            let (id, name, isAdmin) = try row.decode((Int64, String, Bool).self)
            var grants: [String: ProjectRole] = [:]
            for grant in try await connection.query(
                "SELECT project, role FROM grants WHERE token_id = \(id)", logger: logger
            ).collect() {
                let (project, role) = try grant.decode((String, String).self)
                if let role = ProjectRole(rawValue: role) { grants[project] = role }
            }
            return Identity(tokenID: id, name: name, isAdmin: isAdmin, grants: grants)
        }
    }

    public func createToken(name: String, digest: String, isAdmin: Bool, grants: [String: ProjectRole])
        async throws(ServerError)
    {
        try await transaction("create a token") { connection, logger in
            let now = Date().timeIntervalSince1970
            let id = try await connection.query(
                """
                INSERT INTO tokens (name, digest, is_admin, created_at) VALUES (\(name), \(digest), \(isAdmin), \(now))
                RETURNING id
                """, logger: logger
            ).collect()[0].decode(Int64.self)
            for (project, role) in grants.sorted(by: { $0.key < $1.key }) {
                try await connection.query(
                    "INSERT INTO grants (token_id, project, role) VALUES (\(id), \(project), \(role.rawValue))",
                    logger: logger)
            }
        }
    }

    // MARK: - Registration

    public func projects(visibleTo identity: Identity) async throws(ServerError) -> [ProjectSummary] {
        try await run("list projects") { connection, logger in
            let rows = try await connection.query(
                """
                SELECT p.name, p.last_registered_at,
                       (SELECT COUNT(*) FROM jobs j WHERE j.project = p.name),
                       (SELECT COUNT(*) FROM jobs j WHERE j.project = p.name AND j.role = 'run')
                FROM projects p ORDER BY p.name
                """, logger: logger
            ).collect()
            return try rows.compactMap { row -> ProjectSummary? in
                let (name, last, jobs, runs) = try row.decode((String, Double?, Int64, Int64).self)
                guard identity.may(.reader, project: name) else { return nil }
                return ProjectSummary(name: name, jobs: Int(jobs), runs: Int(runs), lastRegisteredAt: last)
            }
        }
    }

    public func register(_ batch: RegisterBatch, project: String) async throws(ServerError) -> RegisterOutcome {
        try await transaction("register \(batch.jobs.count) jobs into \(project)") { connection, logger in
            var outcome = RegisterOutcome()
            let now = Date().timeIntervalSince1970
            try await connection.query(
                """
                INSERT INTO projects (name, created_at, last_registered_at) VALUES (\(project), \(now), \(now))
                ON CONFLICT (name) DO UPDATE SET last_registered_at = excluded.last_registered_at
                """, logger: logger)
            // A few statements per batch, whatever its size: each is a round trip to the database.
            var stored: [String: RegisterPlan.Stored] = [:]
            for row in try await connection.query(
                """
                SELECT uid, id, document_digest FROM jobs
                WHERE project = \(project) AND uid = ANY(\(batch.jobs.map(\.uid)))
                """, logger: logger
            ).collect() {
                let (uid, id, digest) = try row.decode((String, Int64, String).self)
                stored[uid] = RegisterPlan.Stored(id: id, digest: digest)
            }
            let plan = RegisterPlan(jobs: batch.jobs, stored: stored)
            outcome = plan.outcome
            var written: [(jobID: Int64, pending: RegisterPlan.Pending)] = []
            for (id, pending) in plan.updates {
                let job = pending.job
                try await connection.query(
                    """
                    UPDATE jobs SET parent_uid = \(job.parentUID), step = \(job.step.map(Int64.init)),
                        role = \(job.role), status = \(job.status), command = \(job.command),
                        function = \(job.function), started_at = \(job.startedAt), document = \(job.document),
                        document_digest = \(pending.digest)
                    WHERE id = \(id)
                    """, logger: logger)
                written.append((id, pending))
            }
            if !plan.updates.isEmpty {
                try await connection.query(
                    "DELETE FROM refs WHERE job_id = ANY(\(plan.updates.map(\.id)))", logger: logger)
            }
            if !plan.inserts.isEmpty {
                let jobs = plan.inserts.map(\.job)
                var ids: [String: Int64] = [:]
                for row in try await connection.query(
                    """
                    INSERT INTO jobs (project, uid, parent_uid, step, role, status, command, function, started_at,
                                      document, document_digest)
                    SELECT \(project), u.uid, CASE WHEN u.has_parent THEN u.parent_uid END,
                           CASE WHEN u.has_step THEN u.step END, u.role, u.status, u.command,
                           CASE WHEN u.has_function THEN u.function END, u.started_at, u.document, u.digest
                    FROM unnest(\(jobs.map(\.uid)), \(jobs.map { $0.parentUID ?? "" }), \(jobs.map { $0.parentUID != nil }),
                                \(jobs.map { Int64($0.step ?? 0) }), \(jobs.map { $0.step != nil }), \(jobs.map(\.role)),
                                \(jobs.map(\.status)), \(jobs.map(\.command)), \(jobs.map { $0.function ?? "" }),
                                \(jobs.map { $0.function != nil }), \(jobs.map(\.startedAt)), \(jobs.map(\.document)),
                                \(plan.inserts.map(\.digest)))
                         AS u(uid, parent_uid, has_parent, step, has_step, role, status, command, function,
                              has_function, started_at, document, digest)
                    RETURNING uid, id
                    """, logger: logger
                ).collect() {
                    let (uid, id) = try row.decode((String, Int64).self)
                    ids[uid] = id
                }
                for pending in plan.inserts {
                    guard let id = ids[pending.job.uid] else {
                        throw ServerError(.storage, "job \(pending.job.uid) was not inserted into \(project)")
                    }
                    written.append((id, pending))
                }
            }
            // Refs in the order their jobs came in the batch, as if the jobs were written one by one.
            let references = written.sorted { $0.pending.position < $1.pending.position }.flatMap { entry in
                entry.pending.job.references.map { (entry.jobID, $0) }
            }
            if !references.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO refs (job_id, project, direction, path, kind, digest, size)
                    SELECT u.job_id, \(project), u.direction, u.path, u.kind,
                           CASE WHEN u.has_digest THEN u.digest END, CASE WHEN u.has_size THEN u.size END
                    FROM unnest(\(references.map(\.0)), \(references.map(\.1.direction.rawValue)),
                                \(references.map(\.1.path)), \(references.map(\.1.kind)),
                                \(references.map { $0.1.digest ?? "" }), \(references.map { $0.1.digest != nil }),
                                \(references.map { $0.1.size ?? 0 }), \(references.map { $0.1.size != nil }))
                         AS u(job_id, direction, path, kind, digest, has_digest, size, has_size)
                    """, logger: logger)
            }
            if !batch.edges.isEmpty {
                // ON CONFLICT DO NOTHING also skips an edge that comes twice in the batch: unchanged, as one by one.
                let inserted = try await connection.query(
                    """
                    INSERT INTO edges (project, from_uid, to_uid, path)
                    SELECT \(project), u.from_uid, u.to_uid, u.path
                    FROM unnest(\(batch.edges.map(\.from)), \(batch.edges.map(\.to)), \(batch.edges.map(\.path)))
                         AS u(from_uid, to_uid, path)
                    ON CONFLICT DO NOTHING RETURNING 1
                    """, logger: logger
                ).collect().count
                outcome.edgesInserted = inserted
                outcome.edgesUnchanged = batch.edges.count - inserted
            }
            return outcome
        }
    }

    // MARK: - Queries

    static let summaryColumns =
        "j.id, j.uid, j.step, j.role, j.status, j.command, j.function, j.parent_uid, j.started_at"

    /// A row that starts with ``summaryColumns``: its id (the cursor) and the summary.
    static func summary(_ row: PostgresRow) throws -> (Int64, JobSummary) {
        let (id, uid, step, role, status, command, function, parent, started) = try row.decode(
            (Int64, String, Int64?, String, String, String, String?, String?, Double).self)
        return (
            id,
            JobSummary(
                uid: uid, step: step.map(Int.init), role: role, status: status, command: command, function: function,
                parentUID: parent, startedAt: started)
        )
    }

    static func page<Item>(_ rows: [(Int64, Item)], limit: Int) -> Page<Item> {
        let shown = rows.prefix(limit)
        return Page(items: shown.map(\.1), next: rows.count > limit ? shown.last.map { String($0.0) } : nil)
    }

    public func runs(project: String, page: PageRequest) async throws(ServerError) -> Page<JobSummary> {
        try await run("list runs") { connection, logger in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: Self.summaryColumns) FROM jobs j
                WHERE j.project = \(project) AND j.role = 'run' AND j.id < \(page.after ?? Int64.max)
                ORDER BY j.id DESC LIMIT \(page.limit + 1)
                """, logger: logger
            ).collect()
            return Self.page(try rows.map(Self.summary), limit: page.limit)
        }
    }

    public func job(project: String, uid: String) async throws(ServerError) -> JobDetail? {
        try await run("read job \(uid)") { connection, logger in
            let rows = try await connection.query(
                "SELECT document FROM jobs WHERE project = \(project) AND uid = \(uid)", logger: logger
            ).collect()
            guard let row = rows.first else { return nil }
            let children = try await connection.query(
                "SELECT uid FROM jobs WHERE project = \(project) AND parent_uid = \(uid) ORDER BY started_at, uid",
                logger: logger
            ).collect().map { try $0.decode(String.self) }
            return JobDetail(document: try row.decode(String.self), children: children)
        }
    }

    public func runDocuments(project: String, runUID: String) async throws(ServerError) -> RunDocuments? {
        try await run("read run \(runUID)") { connection, logger in
            let tree = """
                WITH RECURSIVE tree(uid) AS (
                    SELECT uid FROM jobs WHERE project = $1 AND uid = $2
                    UNION SELECT j.uid FROM jobs j JOIN tree t ON j.parent_uid = t.uid WHERE j.project = $1)
                """
            var binds = PostgresBindings()
            binds.append(project)
            binds.append(runUID)
            let documents = try await connection.query(
                PostgresQuery(
                    unsafeSQL: tree + " SELECT document FROM jobs WHERE project = $1 AND uid IN (SELECT uid FROM tree)"
                        + " ORDER BY started_at, uid", binds: binds), logger: logger
            ).collect().map { try $0.decode(String.self) }
            guard !documents.isEmpty else { return nil }
            let edges = try await connection.query(
                PostgresQuery(
                    unsafeSQL: tree + " SELECT from_uid, to_uid, path FROM edges WHERE project = $1"
                        + " AND to_uid IN (SELECT uid FROM tree) AND from_uid IN (SELECT uid FROM tree)", binds: binds),
                logger: logger
            ).collect().map { row in
                let (from, to, path) = try row.decode((String, String, String).self)
                return LineageEdgeRecord(from: from, to: to, path: path)
            }
            return RunDocuments(documents: documents, edges: edges)
        }
    }

    /// The `refs` condition for a path or a digest (prefix), with `$` placeholders from `first`.
    static func referenceCondition(_ query: ArtifactQuery) -> (String, String) {
        switch query {
        case .path(let path):
            return ("r.path = ", path)
        case .digest(let digest):
            let pattern = LikePattern.escaping(digest) + "%"
            return digest.contains(":")
                ? ("r.digest LIKE ", pattern) : ("substr(r.digest, strpos(r.digest, ':') + 1) LIKE ", pattern)
        }
    }

    public func artifactUses(project: String, query: ArtifactQuery, page: PageRequest) async throws(ServerError)
        -> Page<ArtifactUse>
    {
        try await run("look up an artifact") { connection, logger in
            let (condition, argument) = Self.referenceCondition(query)
            let rows = try await connection.query(
                """
                SELECT \(unescaped: Self.summaryColumns), r.id, r.direction, r.path, r.kind, r.digest, r.size
                FROM refs r JOIN jobs j ON j.id = r.job_id
                WHERE r.project = \(project) AND \(unescaped: condition)\(argument) AND r.id > \(page.after ?? 0)
                ORDER BY r.id LIMIT \(page.limit + 1)
                """, logger: logger
            ).collect()
            let uses = try rows.map { row -> (Int64, ArtifactUse) in
                let (_, job) = try Self.summary(row)
                let columns = row.makeRandomAccess()
                let cursor = try columns[9].decode(Int64.self)
                let use = ArtifactUse(
                    job: job,
                    direction: RegisteredReference.Direction(rawValue: try columns[10].decode(String.self)) ?? .input,
                    path: try columns[11].decode(String.self), kind: try columns[12].decode(String.self),
                    digest: try columns[13].decode(String?.self), size: try columns[14].decode(Int64?.self))
                return (cursor, use)
            }
            return Self.page(uses, limit: page.limit)
        }
    }

    public func lineage(project: String, start: LineageStart, direction: LineageDirection, depth: Int)
        async throws(ServerError) -> LineageResult
    {
        try await run("walk the lineage") { connection, logger in
            let starts: [JobSummary]
            switch start {
            case .job(let uid):
                starts = try await connection.query(
                    "SELECT \(unescaped: Self.summaryColumns) FROM jobs j WHERE j.project = \(project) AND j.uid = \(uid)",
                    logger: logger
                ).collect().map { try Self.summary($0).1 }
            case .path(let path):
                starts = try await Self.jobsUsing(
                    connection, logger, project: project, .path(path), direction: direction,
                    latestOnly: direction == .upstream)
            case .digest(let digest):
                starts = try await Self.jobsUsing(
                    connection, logger, project: project, .digest(digest), direction: direction, latestOnly: false)
            }
            var walk = LineageWalk(starts: starts, depth: depth)
            // One query per job expanded: its edges, each with the summary of the job at the other end
            // (NULL columns when that job was never registered).
            let (next, here) = direction == .upstream ? ("from_uid", "to_uid") : ("to_uid", "from_uid")
            while let uid = walk.nextToExpand() {
                let rows = try await connection.query(
                    """
                    SELECT \(unescaped: Self.summaryColumns), e.\(unescaped: next), e.from_uid, e.to_uid, e.path
                    FROM edges e LEFT JOIN jobs j ON j.project = e.project AND j.uid = e.\(unescaped: next)
                    WHERE e.project = \(project) AND e.\(unescaped: here) = \(uid)
                    """,
                    logger: logger
                ).collect()
                for row in rows {
                    let columns = row.makeRandomAccess()
                    let (next, from, to, path) = (
                        try columns[9].decode(String.self), try columns[10].decode(String.self),
                        try columns[11].decode(String.self), try columns[12].decode(String.self)
                    )
                    guard walk.follow(LineageEdgeRecord(from: from, to: to, path: path), to: next) else { continue }
                    if try columns[0].decode(Int64?.self) != nil { walk.found(try Self.summary(row).1) }
                }
            }
            return walk.result()
        }
    }

    static func jobsUsing(
        _ connection: PostgresConnection, _ logger: Logger, project: String, _ query: ArtifactQuery,
        direction: LineageDirection, latestOnly: Bool
    ) async throws -> [JobSummary] {
        let (condition, argument) = referenceCondition(query)
        let wanted = direction == .upstream ? "output" : "input"
        let rows = try await connection.query(
            """
            SELECT DISTINCT \(unescaped: summaryColumns) FROM refs r JOIN jobs j ON j.id = r.job_id
            WHERE r.project = \(project) AND \(unescaped: condition)\(argument) AND r.direction = \(wanted)
            ORDER BY j.started_at DESC, j.uid \(unescaped: latestOnly ? "LIMIT 1" : "")
            """, logger: logger
        ).collect()
        return try rows.map { try summary($0).1 }
    }

    public func search(project: String, text: String, page: PageRequest) async throws(ServerError)
        -> Page<JobSummary>
    {
        try await run("search") { connection, logger in
            let contains = "%" + LikePattern.escaping(text) + "%"
            let prefix = LikePattern.escaping(text) + "%"
            let rows = try await connection.query(
                """
                SELECT \(unescaped: Self.summaryColumns) FROM jobs j
                WHERE j.project = \(project) AND j.id > \(page.after ?? 0) AND (
                    j.function LIKE \(contains) OR j.command LIKE \(contains)
                    OR EXISTS (SELECT 1 FROM refs r WHERE r.job_id = j.id AND r.path LIKE \(prefix)))
                ORDER BY j.id LIMIT \(page.limit + 1)
                """, logger: logger
            ).collect()
            return Self.page(try rows.map(Self.summary), limit: page.limit)
        }
    }

    // MARK: - Plumbing

    func run<T: Sendable>(
        _ what: String, _ body: (PostgresConnection, Logger) async throws -> sending T
    ) async throws(ServerError) -> T {
        do {
            let logger = self.logger
            return try await client.withConnection { connection in try await body(connection, logger) }
        } catch let error as ServerError {
            throw error
        } catch {
            throw ServerError(
                .storage, "could not \(what) in \(description): \(String(reflecting: error))", underlyingError: error)
        }
    }

    func transaction<T: Sendable>(
        _ what: String, _ body: (PostgresConnection, Logger) async throws -> sending T
    ) async throws(ServerError) -> T {
        do {
            let logger = self.logger
            return try await client.withTransaction(logger: logger) { connection in try await body(connection, logger) }
        } catch let error as ServerError {
            throw error
        } catch let error as PostgresTransactionError {
            let cause = error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError
            if let cause = cause as? ServerError { throw cause }
            throw ServerError(
                .storage, "could not \(what) in \(description): \(String(reflecting: cause as Any))",
                underlyingError: error)
        } catch {
            throw ServerError(
                .storage, "could not \(what) in \(description): \(String(reflecting: error))", underlyingError: error)
        }
    }
}
