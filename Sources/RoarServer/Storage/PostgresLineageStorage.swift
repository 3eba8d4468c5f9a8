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

    static let schema: [String] = [
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

    public func migrate() async throws(ServerError) {
        try await transaction("migrate \(description)") { connection, logger in
            // One migrator at a time, whichever server starts first.
            try await connection.query("SELECT pg_advisory_xact_lock(7140700)", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS roar_schema (version INTEGER NOT NULL)", logger: logger)
            let versions = try await connection.query("SELECT version FROM roar_schema", logger: logger)
                .collect().map { try $0.decode(Int.self) }
            guard versions.isEmpty else {
                if let newest = versions.max(), newest > 1 {
                    throw ServerError(
                        .configuration, "\(self.description) was made by a newer roar (schema \(newest)): upgrade roar")
                }
                return
            }
            for statement in Self.schema {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            try await connection.query("INSERT INTO roar_schema (version) VALUES (1)", logger: logger)
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
            for job in batch.jobs {
                let digest = DocumentDigest.of(job.document)
                let step = job.step.map(Int64.init)
                let existing = try await connection.query(
                    "SELECT id, document_digest FROM jobs WHERE project = \(project) AND uid = \(job.uid)",
                    logger: logger
                ).collect()
                let jobID: Int64
                if let row = existing.first {
                    let (id, stored) = try row.decode((Int64, String).self)
                    if stored == digest {
                        outcome.unchanged += 1
                        continue
                    }
                    jobID = id
                    try await connection.query(
                        """
                        UPDATE jobs SET parent_uid = \(job.parentUID), step = \(step), role = \(job.role),
                            status = \(job.status), command = \(job.command), function = \(job.function),
                            started_at = \(job.startedAt), document = \(job.document), document_digest = \(digest)
                        WHERE id = \(id)
                        """, logger: logger)
                    try await connection.query("DELETE FROM refs WHERE job_id = \(id)", logger: logger)
                    outcome.updated += 1
                } else {
                    jobID = try await connection.query(
                        """
                        INSERT INTO jobs (project, uid, parent_uid, step, role, status, command, function, started_at,
                                          document, document_digest)
                        VALUES (\(project), \(job.uid), \(job.parentUID), \(step), \(job.role), \(job.status),
                                \(job.command), \(job.function), \(job.startedAt), \(job.document), \(digest))
                        RETURNING id
                        """, logger: logger
                    ).collect()[0].decode(Int64.self)
                    outcome.inserted += 1
                }
                for reference in job.references {
                    try await connection.query(
                        """
                        INSERT INTO refs (job_id, project, direction, path, kind, digest, size)
                        VALUES (\(jobID), \(project), \(reference.direction.rawValue), \(reference.path),
                                \(reference.kind), \(reference.digest), \(reference.size))
                        """, logger: logger)
                }
            }
            for edge in batch.edges {
                let inserted = try await connection.query(
                    """
                    INSERT INTO edges (project, from_uid, to_uid, path)
                    VALUES (\(project), \(edge.from), \(edge.to), \(edge.path))
                    ON CONFLICT DO NOTHING RETURNING 1
                    """, logger: logger
                ).collect()
                if inserted.isEmpty { outcome.edgesUnchanged += 1 } else { outcome.edgesInserted += 1 }
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
            while let uid = walk.nextToExpand() {
                let rows = try await connection.query(
                    direction == .upstream
                        ? "SELECT from_uid, from_uid, to_uid, path FROM edges WHERE project = \(project) AND to_uid = \(uid)"
                        : "SELECT to_uid, from_uid, to_uid, path FROM edges WHERE project = \(project) AND from_uid = \(uid)",
                    logger: logger
                ).collect()
                for row in rows {
                    let (next, from, to, path) = try row.decode((String, String, String, String).self)
                    guard walk.follow(LineageEdgeRecord(from: from, to: to, path: path), to: next) else { continue }
                    if let found = try await connection.query(
                        "SELECT \(unescaped: Self.summaryColumns) FROM jobs j WHERE j.project = \(project) AND j.uid = \(next)",
                        logger: logger
                    ).collect().first {
                        walk.found(try Self.summary(found).1)
                    }
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
