import GRDB
public import RoarCore

extension RoarStore {
    /// Every "`to` read what `from` wrote" relation, in history order of the writer, then the reader.
    ///
    /// The rule is `VersionMatch.isRead(_:ofVersionWrittenBy:)` (RoarCore), which `StepPlanner` uses
    /// too; this SQL mirrors it clause by clause (an artifact is the store's identity of content), and
    /// `VersionMatchAgreementTests` checks that the two agree. Change both together.
    ///
    /// A write of job A and a read of job B give an edge A → B when A ≠ B, the path is the same,
    /// and the evidence says B saw the content A wrote:
    /// - when both rows have an artifact, it is the same artifact;
    /// - when both rows carry a file version (device, inode, size, mtime), it is the same version —
    ///   so two jobs writing equal bytes (two empty files) are not confused: B is linked to the
    ///   writer of the version it saw;
    /// - at least one of the two comparisons above could be made. An unhashed read (its content
    ///   changed before it could be hashed) is linked by its file version alone; a read with
    ///   neither a digest nor a version is linked to nothing.
    ///
    /// Refs without versions (S3 objects) are matched by content, so two jobs that wrote the same
    /// bytes to one key are both linked to its readers. Time is not compared (clocks of cluster
    /// nodes differ); a consumer that orders jobs should use steps and start times.
    public func edges() throws(StoreError) -> [LineageEdge] {
        try read("read the lineage of") { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT writer.uid, reader.uid, w.path
                    FROM job_outputs w
                    JOIN job_inputs r ON r.path = w.path AND r.job_id <> w.job_id
                    JOIN jobs writer ON writer.id = w.job_id
                    JOIN jobs reader ON reader.id = r.job_id
                    WHERE (w.artifact_id IS NULL OR r.artifact_id IS NULL OR w.artifact_id = r.artifact_id)
                      AND (w.dev IS NULL OR r.dev IS NULL
                           OR (w.dev = r.dev AND w.ino = r.ino AND w.version_size = r.version_size
                               AND w.mtime_ns = r.mtime_ns))
                      AND ((w.artifact_id IS NOT NULL AND r.artifact_id IS NOT NULL)
                           OR (w.dev IS NOT NULL AND r.dev IS NOT NULL))
                    GROUP BY writer.id, reader.id, w.path
                    ORDER BY writer.step IS NULL, writer.step, writer.started_at, writer.id,
                             reader.step IS NULL, reader.step, reader.started_at, reader.id, w.path
                    """)
            return rows.map { LineageEdge(from: $0[0], to: $0[1], path: $0[2]) }
        }
    }

    /// The artifacts with a digest (of any algorithm) starting with `digestPrefix`, for
    /// `roar show <digest>`. Hex prefixes match case-insensitively. More than one result means
    /// the prefix is ambiguous.
    public func artifacts(digestPrefix: String) throws(StoreError) -> [ArtifactSummary] {
        let range = PrefixRange(digestPrefix)
        return try read("look up digest \(digestPrefix) in") { db in
            let ids = try Int64.fetchAll(
                db,
                sql: "SELECT DISTINCT artifact_id FROM artifact_hashes WHERE digest >= ? AND digest < ? ORDER BY 1",
                arguments: [range.lower, range.upper])
            return try ids.compactMap { id in try summary(ofArtifact: id, db) }
        }
    }

    private func summary(ofArtifact id: Int64, _ db: Database) throws -> ArtifactSummary? {
        guard let artifact = try ArtifactRow.fetchOne(db, key: id) else { return nil }
        guard let kind = Ref.Kind(rawValue: artifact.kind) else {
            throw RowContentError(table: "artifacts", key: "\(id)", column: "kind", value: artifact.kind)
        }
        var hashes: [String: String] = [:]
        for row in try Row.fetchAll(
            db, sql: "SELECT algorithm, digest FROM artifact_hashes WHERE artifact_id = ?", arguments: [id])
        {
            hashes[row[0]] = row[1] as String
        }
        let paths = try String.fetchAll(
            db,
            sql: """
                SELECT path FROM job_inputs WHERE artifact_id = ?1
                UNION SELECT path FROM job_outputs WHERE artifact_id = ?1 ORDER BY 1
                """,
            arguments: [id])
        func jobs(_ table: String) throws -> [String] {
            try String.fetchAll(
                db,
                sql: """
                    SELECT j.uid FROM jobs j WHERE j.id IN (SELECT job_id FROM \(table) WHERE artifact_id = ?)
                    ORDER BY j.step IS NULL, j.step, j.started_at, j.id
                    """,
                arguments: [id])
        }
        return ArtifactSummary(
            kind: kind, size: artifact.size, hashes: hashes, paths: paths,
            producers: try jobs(OutputDirection.tableName), consumers: try jobs(InputDirection.tableName))
    }
}
