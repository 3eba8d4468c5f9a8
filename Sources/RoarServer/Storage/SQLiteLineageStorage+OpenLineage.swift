import Foundation
import GRDB
import RoarCore

extension SQLiteLineageStorage {
    public func foldJob(uid: String, project: String, _ fold: @escaping @Sendable (String?) -> RegisteredJob?)
        async throws(ServerError) -> FoldOutcome
    {
        try await writing("store an OpenLineage event of job \(uid) into \(project)") { db in
            let now = Date().timeIntervalSince1970
            try db.execute(
                sql: """
                    INSERT INTO projects (name, created_at, last_registered_at) VALUES (?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET last_registered_at = excluded.last_registered_at
                    """,
                arguments: [project, now, now])
            let stored = try Row.fetchOne(
                db, sql: "SELECT id, document, document_digest FROM jobs WHERE project = ? AND uid = ?",
                arguments: [project, uid])
            guard let job = fold(stored?["document"]) else {
                return FoldOutcome(job: uid, stored: .ignored, edgesInserted: 0)
            }
            let digest = DocumentDigest.of(job.document)
            var outcome = FoldOutcome(job: uid, stored: .unchanged, edgesInserted: 0)
            if let stored, (stored["document_digest"] as String) == digest {
                outcome.stored = .unchanged
            } else {
                let jobID: Int64
                if let stored {
                    jobID = stored["id"]
                    try db.execute(
                        sql: """
                            UPDATE jobs SET parent_uid = ?, step = ?, role = ?, status = ?, command = ?, function = ?,
                                            started_at = ?, document = ?, document_digest = ?
                            WHERE id = ?
                            """,
                        arguments: [
                            job.parentUID, job.step, job.role, job.status, job.command, job.function, job.startedAt,
                            job.document, digest, jobID,
                        ])
                    try db.execute(sql: "DELETE FROM refs WHERE job_id = ?", arguments: [jobID])
                    outcome.stored = .updated
                } else {
                    try db.execute(
                        sql: """
                            INSERT INTO jobs (project, uid, parent_uid, step, role, status, command, function,
                                              started_at, document, document_digest)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [
                            project, uid, job.parentUID, job.step, job.role, job.status, job.command, job.function,
                            job.startedAt, job.document, digest,
                        ])
                    jobID = db.lastInsertedRowID
                    outcome.stored = .inserted
                }
                let insertRef = try db.cachedStatement(
                    sql: """
                        INSERT INTO refs (job_id, project, direction, path, kind, digest, size)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """)
                for reference in job.references {
                    try insertRef.execute(arguments: [
                        jobID, project, reference.direction.rawValue, reference.path, reference.kind,
                        reference.digest, reference.size,
                    ])
                }
            }
            // Edges are inferred even for an unchanged job: re-sending an event after the readers were
            // registered joins them.
            let paths = Set(job.references.filter { $0.direction != .delete }.map(\.path))
            let uses = try Self.uses(of: paths, project: project, db)
            let insertEdge = try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO edges (project, from_uid, to_uid, path) VALUES (?, ?, ?, ?)")
            for edge in OpenLineageEdges.edges(involving: uid, uses: uses) {
                try insertEdge.execute(arguments: [project, edge.from, edge.to, edge.path])
                if db.changesCount > 0 { outcome.edgesInserted += 1 }
            }
            return outcome
        }
    }

    public func inferForeignEdges(project: String, paths: Set<String>) async throws(ServerError) -> Int {
        guard !paths.isEmpty else { return 0 }
        return try await writing("join \(project)'s OpenLineage jobs to a registration") { db in
            // The uid range `ol-` … `ol.` is the prefix, read from the (project, uid) index.
            let foreignPaths = try String.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT r.path FROM jobs j JOIN refs r ON r.job_id = j.id
                    WHERE j.project = ? AND j.uid >= 'ol-' AND j.uid < 'ol.' AND r.direction IN ('input', 'output')
                    """,
                arguments: [project])
            let shared = paths.intersection(foreignPaths)
            guard !shared.isEmpty else { return 0 }
            let insertEdge = try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO edges (project, from_uid, to_uid, path) VALUES (?, ?, ?, ?)")
            var inserted = 0
            for edge in OpenLineageEdges.foreignEdges(among: try Self.uses(of: shared, project: project, db)) {
                try insertEdge.execute(arguments: [project, edge.from, edge.to, edge.path])
                inserted += db.changesCount
            }
            return inserted
        }
    }

    /// Every read and write of `paths` in `project`, with its job's uid and start.
    static func uses(of paths: Set<String>, project: String, _ db: Database) throws -> [OpenLineageEdges.Use] {
        let usesOfPath = try db.cachedStatement(
            sql: """
                SELECT j.uid, j.started_at, r.direction, r.path, r.digest FROM refs r JOIN jobs j ON j.id = r.job_id
                WHERE r.project = ? AND r.path = ? AND r.direction IN ('input', 'output')
                """)
        var uses: [OpenLineageEdges.Use] = []
        for path in paths.sorted() {
            for row in try Row.fetchAll(usesOfPath, arguments: [project, path]) {
                uses.append(
                    OpenLineageEdges.Use(
                        uid: row["uid"], startedAt: row["started_at"],
                        isOutput: (row["direction"] as String) == "output", path: row["path"],
                        digest: row["digest"]))
            }
        }
        return uses
    }
}
