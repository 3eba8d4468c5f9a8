import Foundation
import GRDB
import RoarCore

/// The embedded backend: one SQLite database, `<data>/lineage.db`, in WAL mode behind a GRDB
/// `DatabasePool` (<https://www.sqlite.org/wal.html>): readers run concurrently with the one
/// writer, so queries never wait for a registration.
public final class SQLiteLineageStorage: LineageStorage {
    public let path: String
    let pool: DatabasePool

    public var description: String { path }

    /// Opens (creating when missing) the database at `path`; ``migrate()`` makes its tables.
    public init(path: String) throws(ServerError) {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw ServerError(
                .configuration, "cannot open the server database \(path): \(error)", underlyingError: error)
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: projects, tokens, jobs, refs, edges") { db in
            try db.execute(
                sql: """
                    CREATE TABLE projects (
                        name TEXT PRIMARY KEY,
                        created_at REAL NOT NULL,
                        last_registered_at REAL
                    );
                    CREATE TABLE tokens (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL,
                        digest TEXT NOT NULL UNIQUE,
                        is_admin INTEGER NOT NULL,
                        created_at REAL NOT NULL,
                        revoked_at REAL
                    );
                    CREATE TABLE grants (
                        token_id INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
                        project TEXT NOT NULL,
                        role TEXT NOT NULL,
                        PRIMARY KEY (token_id, project)
                    );
                    CREATE TABLE jobs (
                        id INTEGER PRIMARY KEY,
                        project TEXT NOT NULL REFERENCES projects(name),
                        uid TEXT NOT NULL,
                        parent_uid TEXT,
                        step INTEGER,
                        role TEXT NOT NULL,
                        status TEXT NOT NULL,
                        command TEXT NOT NULL,
                        function TEXT,
                        started_at REAL NOT NULL,
                        document TEXT NOT NULL,
                        document_digest TEXT NOT NULL,
                        UNIQUE (project, uid)
                    );
                    CREATE INDEX jobs_by_role ON jobs(project, role, started_at);
                    CREATE INDEX jobs_by_parent ON jobs(project, parent_uid);
                    CREATE TABLE refs (
                        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                        project TEXT NOT NULL,
                        direction TEXT NOT NULL,
                        path TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        digest TEXT,
                        size INTEGER
                    );
                    CREATE INDEX refs_by_job ON refs(job_id);
                    CREATE INDEX refs_by_path ON refs(project, path);
                    CREATE INDEX refs_by_digest ON refs(project, digest);
                    CREATE TABLE edges (
                        project TEXT NOT NULL,
                        from_uid TEXT NOT NULL,
                        to_uid TEXT NOT NULL,
                        path TEXT NOT NULL,
                        PRIMARY KEY (project, from_uid, to_uid, path)
                    ) WITHOUT ROWID;
                    CREATE INDEX edges_by_target ON edges(project, to_uid);
                    """)
        }
        migrator.registerMigration("v2: fragment sessions") { db in
            try db.execute(
                sql: """
                    CREATE TABLE sessions (
                        id TEXT PRIMARY KEY,
                        project TEXT NOT NULL,
                        run_id TEXT NOT NULL,
                        key_fingerprint TEXT NOT NULL,
                        capability_digest TEXT NOT NULL UNIQUE,
                        created_at REAL NOT NULL,
                        expires_at REAL NOT NULL,
                        closed_at REAL
                    );
                    CREATE INDEX sessions_by_expiry ON sessions(expires_at);
                    CREATE TABLE session_batches (
                        cursor INTEGER PRIMARY KEY,
                        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                        producer TEXT NOT NULL,
                        seq INTEGER NOT NULL,
                        sha256 TEXT NOT NULL,
                        size INTEGER NOT NULL,
                        data BLOB NOT NULL,
                        UNIQUE (session_id, producer, seq)
                    );
                    """)
        }
        return migrator
    }

    public func migrate() async throws(ServerError) {
        do {
            try Self.migrator.migrate(pool)
        } catch {
            throw ServerError(.storage, "cannot migrate \(path): \(error)", underlyingError: error)
        }
    }

    // MARK: - Tokens

    public func identity(tokenDigest: String) async throws(ServerError) -> Identity? {
        try await reading("look up a token") { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT id, name, is_admin FROM tokens WHERE digest = ? AND revoked_at IS NULL",
                    arguments: [tokenDigest])
            else { return nil }
            let id: Int64 = row["id"]
            var grants: [String: ProjectRole] = [:]
            for grant in try Row.fetchAll(
                db, sql: "SELECT project, role FROM grants WHERE token_id = ?", arguments: [id])
            {
                if let role = ProjectRole(rawValue: grant["role"]) { grants[grant["project"]] = role }
            }
            return Identity(tokenID: id, name: row["name"], isAdmin: row["is_admin"], grants: grants)
        }
    }

    public func createToken(name: String, digest: String, isAdmin: Bool, grants: [String: ProjectRole])
        async throws(ServerError)
    {
        try await writing("create a token") { db in
            try db.execute(
                sql: "INSERT INTO tokens (name, digest, is_admin, created_at) VALUES (?, ?, ?, ?)",
                arguments: [name, digest, isAdmin, Date().timeIntervalSince1970])
            let id = db.lastInsertedRowID
            for (project, role) in grants.sorted(by: { $0.key < $1.key }) {
                try db.execute(
                    sql: "INSERT INTO grants (token_id, project, role) VALUES (?, ?, ?)",
                    arguments: [id, project, role.rawValue])
            }
        }
    }

    // MARK: - Registration

    public func projects(visibleTo identity: Identity) async throws(ServerError) -> [ProjectSummary] {
        try await reading("list projects") { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT p.name, p.last_registered_at,
                           (SELECT COUNT(*) FROM jobs j WHERE j.project = p.name) AS jobs,
                           (SELECT COUNT(*) FROM jobs j WHERE j.project = p.name AND j.role = 'run') AS runs
                    FROM projects p ORDER BY p.name
                    """)
            return rows.compactMap { row -> ProjectSummary? in
                let name: String = row["name"]
                guard identity.may(.reader, project: name) else { return nil }
                return ProjectSummary(
                    name: name, jobs: row["jobs"], runs: row["runs"], lastRegisteredAt: row["last_registered_at"])
            }
        }
    }

    public func register(_ batch: RegisterBatch, project: String) async throws(ServerError) -> RegisterOutcome {
        try await writing("register \(batch.jobs.count) jobs into \(project)") { db in
            var outcome = RegisterOutcome()
            let now = Date().timeIntervalSince1970
            try db.execute(
                sql: """
                    INSERT INTO projects (name, created_at, last_registered_at) VALUES (?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET last_registered_at = excluded.last_registered_at
                    """,
                arguments: [project, now, now])
            let existing = try db.cachedStatement(
                sql: "SELECT id, document_digest FROM jobs WHERE project = ? AND uid = ?")
            let insertJob = try db.cachedStatement(
                sql: """
                    INSERT INTO jobs (project, uid, parent_uid, step, role, status, command, function, started_at,
                                      document, document_digest)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            let updateJob = try db.cachedStatement(
                sql: """
                    UPDATE jobs SET parent_uid = ?, step = ?, role = ?, status = ?, command = ?, function = ?,
                                    started_at = ?, document = ?, document_digest = ?
                    WHERE id = ?
                    """)
            let deleteRefs = try db.cachedStatement(sql: "DELETE FROM refs WHERE job_id = ?")
            let insertRef = try db.cachedStatement(
                sql:
                    "INSERT INTO refs (job_id, project, direction, path, kind, digest, size) VALUES (?, ?, ?, ?, ?, ?, ?)"
            )
            for job in batch.jobs {
                let digest = DocumentDigest.of(job.document)
                let jobID: Int64
                if let row = try Row.fetchOne(existing, arguments: [project, job.uid]) {
                    if (row["document_digest"] as String) == digest {
                        outcome.unchanged += 1
                        continue
                    }
                    jobID = row["id"]
                    try updateJob.execute(arguments: [
                        job.parentUID, job.step, job.role, job.status, job.command, job.function, job.startedAt,
                        job.document, digest, jobID,
                    ])
                    try deleteRefs.execute(arguments: [jobID])
                    outcome.updated += 1
                } else {
                    try insertJob.execute(arguments: [
                        project, job.uid, job.parentUID, job.step, job.role, job.status, job.command, job.function,
                        job.startedAt, job.document, digest,
                    ])
                    jobID = db.lastInsertedRowID
                    outcome.inserted += 1
                }
                for reference in job.references {
                    try insertRef.execute(arguments: [
                        jobID, project, reference.direction.rawValue, reference.path, reference.kind,
                        reference.digest, reference.size,
                    ])
                }
            }
            let insertEdge = try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO edges (project, from_uid, to_uid, path) VALUES (?, ?, ?, ?)")
            for edge in batch.edges {
                try insertEdge.execute(arguments: [project, edge.from, edge.to, edge.path])
                if db.changesCount > 0 { outcome.edgesInserted += 1 } else { outcome.edgesUnchanged += 1 }
            }
            return outcome
        }
    }

    // MARK: - Queries

    static let summaryColumns =
        "j.id, j.uid, j.step, j.role, j.status, j.command, j.function, j.parent_uid, j.started_at"

    static func summary(_ row: Row) -> JobSummary {
        JobSummary(
            uid: row["uid"], step: row["step"], role: row["role"], status: row["status"], command: row["command"],
            function: row["function"], parentUID: row["parent_uid"], startedAt: row["started_at"])
    }

    public func runs(project: String, page: PageRequest) async throws(ServerError) -> Page<JobSummary> {
        try await reading("list runs") { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.summaryColumns) FROM jobs j
                    WHERE j.project = ? AND j.role = 'run' AND j.id < ?
                    ORDER BY j.id DESC LIMIT ?
                    """,
                arguments: [project, page.after ?? Int64.max, page.limit + 1])
            return Self.page(rows, limit: page.limit, item: Self.summary)
        }
    }

    public func job(project: String, uid: String) async throws(ServerError) -> JobDetail? {
        try await reading("read job \(uid)") { db in
            guard
                let document = try String.fetchOne(
                    db, sql: "SELECT document FROM jobs WHERE project = ? AND uid = ?", arguments: [project, uid])
            else { return nil }
            let children = try String.fetchAll(
                db, sql: "SELECT uid FROM jobs WHERE project = ? AND parent_uid = ? ORDER BY started_at, uid",
                arguments: [project, uid])
            return JobDetail(document: document, children: children)
        }
    }

    public func runDocuments(project: String, runUID: String) async throws(ServerError) -> RunDocuments? {
        try await reading("read run \(runUID)") { db in
            let tree = """
                WITH RECURSIVE tree(uid) AS (
                    SELECT uid FROM jobs WHERE project = ?1 AND uid = ?2
                    UNION SELECT j.uid FROM jobs j JOIN tree t ON j.parent_uid = t.uid WHERE j.project = ?1)
                """
            let documents = try String.fetchAll(
                db,
                sql: tree + " SELECT document FROM jobs WHERE project = ?1 AND uid IN tree ORDER BY started_at, uid",
                arguments: [project, runUID])
            guard !documents.isEmpty else { return nil }
            let edges = try Row.fetchAll(
                db,
                sql: tree
                    + " SELECT from_uid, to_uid, path FROM edges WHERE project = ?1 AND to_uid IN tree AND from_uid IN tree",
                arguments: [project, runUID]
            ).map { LineageEdgeRecord(from: $0["from_uid"], to: $0["to_uid"], path: $0["path"]) }
            return RunDocuments(documents: documents, edges: edges)
        }
    }

    public func artifactUses(project: String, query: ArtifactQuery, page: PageRequest) async throws(ServerError)
        -> Page<ArtifactUse>
    {
        try await reading("look up an artifact") { db in
            let (condition, argument) = Self.referenceCondition(query)
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT r.rowid AS cursor, r.direction, r.path, r.kind, r.digest, r.size, \(Self.summaryColumns)
                    FROM refs r JOIN jobs j ON j.id = r.job_id
                    WHERE r.project = ? AND \(condition) AND r.rowid > ?
                    ORDER BY r.rowid LIMIT ?
                    """,
                arguments: [project, argument, page.after ?? 0, page.limit + 1])
            return Self.page(rows, limit: page.limit, cursorColumn: "cursor") { row in
                ArtifactUse(
                    job: Self.summary(row),
                    direction: RegisteredReference.Direction(rawValue: row["direction"]) ?? .input,
                    path: row["path"], kind: row["kind"], digest: row["digest"], size: row["size"])
            }
        }
    }

    /// `refs` rows matching a path or a digest (prefix), without or with its `algorithm:`.
    static func referenceCondition(_ query: ArtifactQuery) -> (String, String) {
        switch query {
        case .path(let path):
            return ("r.path = ?", path)
        case .digest(let digest):
            let pattern = LikePattern.escaping(digest) + "%"
            return digest.contains(":")
                ? ("r.digest LIKE ? ESCAPE '\\'", pattern)
                : ("substr(r.digest, instr(r.digest, ':') + 1) LIKE ? ESCAPE '\\'", pattern)
        }
    }

    public func lineage(project: String, start: LineageStart, direction: LineageDirection, depth: Int)
        async throws(ServerError) -> LineageResult
    {
        try await reading("walk the lineage") { db in
            let startRows: [Row]
            switch start {
            case .job(let uid):
                startRows = try Row.fetchAll(
                    db, sql: "SELECT \(Self.summaryColumns) FROM jobs j WHERE j.project = ? AND j.uid = ?",
                    arguments: [project, uid])
            case .path(let path):
                // Upstream of a path: its latest writer; downstream: every job that read it.
                startRows = try Self.jobsUsing(
                    db, project: project, .path(path), direction: direction, latestOnly: direction == .upstream)
            case .digest(let digest):
                startRows = try Self.jobsUsing(
                    db, project: project, .digest(digest), direction: direction, latestOnly: false)
            }
            var walk = LineageWalk(starts: startRows.map(Self.summary), depth: depth)
            // One statement per job expanded: its edges, each with the summary of the job at the other end
            // (NULL columns when that job was never registered).
            let (next, here) = direction == .upstream ? ("from_uid", "to_uid") : ("to_uid", "from_uid")
            let step = try db.cachedStatement(
                sql: """
                    SELECT e.\(next) AS next, e.from_uid, e.to_uid, e.path, \(Self.summaryColumns)
                    FROM edges e LEFT JOIN jobs j ON j.project = e.project AND j.uid = e.\(next)
                    WHERE e.project = ? AND e.\(here) = ?
                    """)
            while let uid = walk.nextToExpand() {
                for row in try Row.fetchAll(step, arguments: [project, uid]) {
                    let edge = LineageEdgeRecord(from: row["from_uid"], to: row["to_uid"], path: row["path"])
                    guard walk.follow(edge, to: row["next"]) else { continue }
                    if row["id"] as Int64? != nil { walk.found(Self.summary(row)) }
                }
            }
            return walk.result()
        }
    }

    /// The jobs that wrote (upstream) or read (downstream) what `query` names, newest first.
    static func jobsUsing(
        _ db: Database, project: String, _ query: ArtifactQuery, direction: LineageDirection, latestOnly: Bool
    ) throws -> [Row] {
        let (condition, argument) = referenceCondition(query)
        return try Row.fetchAll(
            db,
            sql: """
                SELECT DISTINCT \(summaryColumns) FROM refs r JOIN jobs j ON j.id = r.job_id
                WHERE r.project = ? AND \(condition) AND r.direction = ?
                ORDER BY j.started_at DESC, j.uid \(latestOnly ? "LIMIT 1" : "")
                """,
            arguments: [project, argument, direction == .upstream ? "output" : "input"])
    }

    public func search(project: String, text: String, page: PageRequest) async throws(ServerError)
        -> Page<JobSummary>
    {
        try await reading("search") { db in
            let contains = "%" + LikePattern.escaping(text) + "%"
            let prefix = LikePattern.escaping(text) + "%"
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.summaryColumns) FROM jobs j
                    WHERE j.project = ? AND j.id > ? AND (
                        j.function LIKE ? ESCAPE '\\' OR j.command LIKE ? ESCAPE '\\'
                        OR EXISTS (SELECT 1 FROM refs r WHERE r.job_id = j.id AND r.path LIKE ? ESCAPE '\\'))
                    ORDER BY j.id LIMIT ?
                    """,
                arguments: [project, page.after ?? 0, contains, contains, prefix, page.limit + 1])
            return Self.page(rows, limit: page.limit, item: Self.summary)
        }
    }

    // MARK: - Plumbing

    static func page<Item>(_ rows: [Row], limit: Int, cursorColumn: String = "id", item: (Row) -> Item) -> Page<Item> {
        let shown = rows.prefix(limit)
        let next = rows.count > limit ? shown.last.map { String($0[cursorColumn] as Int64) } : nil
        return Page(items: shown.map(item), next: next)
    }

    func reading<T: Sendable>(_ what: String, _ body: @Sendable @escaping (Database) throws -> T)
        async throws(ServerError) -> T
    {
        do {
            return try await pool.read(body)
        } catch let error as ServerError {
            throw error
        } catch {
            throw ServerError(.storage, "could not \(what): \(error)", underlyingError: error)
        }
    }

    func writing<T: Sendable>(_ what: String, _ body: @Sendable @escaping (Database) throws -> T)
        async throws(ServerError) -> T
    {
        do {
            return try await pool.write(body)
        } catch let error as ServerError {
            throw error
        } catch {
            throw ServerError(.storage, "could not \(what): \(error)", underlyingError: error)
        }
    }
}

/// `LIKE` patterns that match their text literally (`%`, `_` and `\` escaped).
enum LikePattern {
    static func escaping(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
