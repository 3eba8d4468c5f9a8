import Foundation
import Logging
import PostgresNIO
import RoarCore

extension PostgresLineageStorage {
    public func foldJob(uid: String, project: String, _ fold: @escaping @Sendable (String?) -> RegisteredJob?)
        async throws(ServerError) -> FoldOutcome
    {
        try await transaction("store an OpenLineage event of job \(uid) into \(project)") { connection, logger in
            let now = Date().timeIntervalSince1970
            try await connection.query(
                """
                INSERT INTO projects (name, created_at, last_registered_at) VALUES (\(project), \(now), \(now))
                ON CONFLICT (name) DO UPDATE SET last_registered_at = excluded.last_registered_at
                """, logger: logger)
            // Two events of one run at once would both see no job: one waits for the other here.
            try await connection.query(
                "SELECT pg_advisory_xact_lock(7140701, hashtext(\(project + "/" + uid)))", logger: logger)
            let rows = try await connection.query(
                "SELECT id, document, document_digest FROM jobs WHERE project = \(project) AND uid = \(uid)",
                logger: logger
            ).collect()
            let stored = try rows.first.map { try $0.decode((Int64, String, String).self) }
            guard let job = fold(stored?.1) else { return FoldOutcome(job: uid, stored: .ignored, edgesInserted: 0) }
            let digest = DocumentDigest.of(job.document)
            var outcome = FoldOutcome(job: uid, stored: .unchanged, edgesInserted: 0)
            if stored?.2 != digest {
                let jobID: Int64
                let step = job.step.map(Int64.init)
                if let (id, _, _) = stored {
                    jobID = id
                    try await connection.query(
                        """
                        UPDATE jobs SET parent_uid = \(job.parentUID), step = \(step), role = \(job.role),
                            status = \(job.status), command = \(job.command), function = \(job.function),
                            started_at = \(job.startedAt), document = \(job.document), document_digest = \(digest)
                        WHERE id = \(id)
                        """, logger: logger)
                    try await connection.query("DELETE FROM refs WHERE job_id = \(id)", logger: logger)
                    outcome.stored = .updated
                } else {
                    jobID = try await connection.query(
                        """
                        INSERT INTO jobs (project, uid, parent_uid, step, role, status, command, function, started_at,
                                          document, document_digest)
                        VALUES (\(project), \(uid), \(job.parentUID), \(step), \(job.role), \(job.status),
                                \(job.command), \(job.function), \(job.startedAt), \(job.document), \(digest))
                        RETURNING id
                        """, logger: logger
                    ).collect()[0].decode(Int64.self)
                    outcome.stored = .inserted
                }
                let references = job.references
                if !references.isEmpty {
                    try await connection.query(
                        """
                        INSERT INTO refs (job_id, project, direction, path, kind, digest, size)
                        SELECT \(jobID), \(project), u.direction, u.path, u.kind,
                               CASE WHEN u.has_digest THEN u.digest END, CASE WHEN u.has_size THEN u.size END
                        FROM unnest(\(references.map(\.direction.rawValue)), \(references.map(\.path)),
                                    \(references.map(\.kind)), \(references.map { $0.digest ?? "" }),
                                    \(references.map { $0.digest != nil }), \(references.map { $0.size ?? 0 }),
                                    \(references.map { $0.size != nil }))
                             WITH ORDINALITY AS u(direction, path, kind, digest, has_digest, size, has_size, position)
                        ORDER BY u.position
                        """, logger: logger)
                }
            }
            // Inferred even for an unchanged job: re-sending an event after the readers were registered joins them.
            let paths = Set(job.references.filter { $0.direction != .delete }.map(\.path))
            guard !paths.isEmpty else { return outcome }
            let uses = try await Self.uses(of: paths, project: project, connection, logger)
            let edges = OpenLineageEdges.edges(involving: uid, uses: uses)
            outcome.edgesInserted = try await Self.insert(edges, project: project, connection, logger)
            return outcome
        }
    }

    public func inferForeignEdges(project: String, paths: Set<String>) async throws(ServerError) -> Int {
        guard !paths.isEmpty else { return 0 }
        return try await transaction("join \(project)'s OpenLineage jobs to a registration") { connection, logger in
            // The uid range `ol-` … `ol.` is the prefix, read from the (project, uid) index.
            let foreignPaths = try await connection.query(
                """
                SELECT DISTINCT r.path FROM jobs j JOIN refs r ON r.job_id = j.id
                WHERE j.project = \(project) AND j.uid >= 'ol-' AND j.uid < 'ol.' AND r.direction IN ('input', 'output')
                """, logger: logger
            ).collect().map { try $0.decode(String.self) }
            let shared = paths.intersection(foreignPaths)
            guard !shared.isEmpty else { return 0 }
            let uses = try await Self.uses(of: shared, project: project, connection, logger)
            return try await Self.insert(
                OpenLineageEdges.foreignEdges(among: uses), project: project, connection, logger)
        }
    }

    /// Every read and write of `paths` in `project`, with its job's uid and start: one query.
    static func uses(of paths: Set<String>, project: String, _ connection: PostgresConnection, _ logger: Logger)
        async throws -> [OpenLineageEdges.Use]
    {
        try await connection.query(
            """
            SELECT j.uid, j.started_at, r.direction, r.path, r.digest FROM refs r JOIN jobs j ON j.id = r.job_id
            WHERE r.project = \(project) AND r.path = ANY(\(paths.sorted())) AND r.direction IN ('input', 'output')
            """, logger: logger
        ).collect().map { row in
            let (uid, startedAt, direction, path, digest) = try row.decode(
                (String, Double, String, String, String?).self)
            return OpenLineageEdges.Use(
                uid: uid, startedAt: startedAt, isOutput: direction == "output", path: path, digest: digest)
        }
    }

    /// Adds the edges not there yet; how many were new.
    static func insert(_ edges: [LineageEdge], project: String, _ connection: PostgresConnection, _ logger: Logger)
        async throws -> Int
    {
        guard !edges.isEmpty else { return 0 }
        return try await connection.query(
            """
            INSERT INTO edges (project, from_uid, to_uid, path)
            SELECT \(project), u.from_uid, u.to_uid, u.path
            FROM unnest(\(edges.map(\.from)), \(edges.map(\.to)), \(edges.map(\.path))) AS u(from_uid, to_uid, path)
            ON CONFLICT DO NOTHING RETURNING 1
            """, logger: logger
        ).collect().count
    }
}
