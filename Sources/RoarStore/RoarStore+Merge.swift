import Foundation
import GRDB
public import RoarCore

extension RoarStore {
    /// Adds jobs to the store, or replaces them: a job whose uid is already stored gets the
    /// merged row, and its reads, writes and deletes are replaced by the merged ones. A job
    /// identical to the stored one (same fingerprint) is skipped, so merging the same jobs twice
    /// writes nothing.
    ///
    /// All of it is one transaction. Within one job, refs with the same path and the same
    /// content (or both unhashed) are kept once, the first one winning; so are repeated deletes.
    ///
    /// Each hashed ref is linked to an artifact: the one that already carries any of its
    /// identifying digests (see ``artifacts(digestPrefix:)``), or a new one. Digests the artifact
    /// lacks are added to it, so a ref with `blake3` and `etag` joins the file seen with `blake3`
    /// and the S3 object seen with `etag` into one artifact. A digest that contradicts the
    /// artifact's (a second `blake3` for the same `etag`) is kept on the ref only.
    @discardableResult
    public func merge(_ jobs: [RecordedJob]) throws(StoreError) -> MergeResult {
        if jobs.isEmpty { return MergeResult() }
        return try write("merge \(jobs.count) job\(jobs.count == 1 ? "" : "s") into") { db in
            var merger = Merger(db: db)
            return try merger.merge(jobs)
        }
    }
}

extension RoarStore {
    /// Merges the jobs of one run whose steps count from its root (0 for the root): in the same transaction
    /// they are moved to follow the project's history — after its latest step, or onto the step the root
    /// already has when the run is merged again — so that runs recorded at the same moment never share a
    /// step. Returns the jobs as merged.
    public func mergeRun(_ jobs: [RecordedJob], rootUID: String) throws(StoreError) -> [RecordedJob] {
        if jobs.isEmpty { return [] }
        return try write("merge \(jobs.count) job\(jobs.count == 1 ? "" : "s") into") { db in
            let base =
                try Int.fetchOne(db, sql: "SELECT step FROM jobs WHERE uid = ?", arguments: [rootUID])
                ?? Int.fetchOne(db, sql: "SELECT COALESCE(MAX(step), 0) + 1 FROM jobs") ?? 1
            let placed = jobs.map { recorded in
                var moved = recorded
                moved.job.step = base + (recorded.job.step ?? 0)
                return moved
            }
            var merger = Merger(db: db)
            _ = try merger.merge(placed)
            return placed
        }
    }
}

/// One merge transaction's state: memoised artifact lookups and artifacts that may have lost
/// their last reference.
private struct Merger {
    struct HashKey: Hashable {
        var algorithm: String
        var digest: String
    }

    let db: Database
    var artifactByHash: [HashKey: Int64] = [:]
    /// Artifacts known to have a size already, so a ref's size need not be written to them.
    var sizedArtifacts: Set<Int64> = []
    /// Artifacts referenced by rows this merge deleted; removed at the end if nothing else
    /// refers to them.
    var orphanCandidates: Set<Int64> = []
    /// Composite artifacts whose parts this merge has written (or found written).
    var componentsRecorded: Set<Int64> = []

    init(db: Database) {
        self.db = db
    }

    mutating func merge(_ jobs: [RecordedJob]) throws -> MergeResult {
        let sessionID = try SessionRow.current(db).id!
        var result = MergeResult()
        for recorded in jobs {
            var row = JobRow(
                recorded.job, id: nil, sessionID: sessionID, coverage: JSONText.encode(recorded.job.coverage))
            let inputHashes = recorded.inputs.map { JSONText.encode($0.hashes) }
            let outputHashes = recorded.outputs.map { JSONText.encode($0.hashes) }
            row.fingerprint = JobFingerprint(recorded, row: row, refHashes: (inputHashes, outputHashes)).databaseValue
            let (jobID, outcome) = try row.save(db)
            switch outcome {
            case .inserted:
                result.insertedJobs += 1
            case .unchanged:
                result.unchangedJobs += 1
                continue
            case .updated:
                try removeRefs(ofJob: jobID)
                result.replacedJobs += 1
            }
            for (ref, hashes) in zip(recorded.inputs, inputHashes) {
                let artifactID = try artifactID(for: ref)
                try RefRow<InputDirection>(ref, jobID: jobID, artifactID: artifactID, hashes: hashes).insert(db)
                try recordComponents(of: ref, artifactID: artifactID)
            }
            for (ref, hashes) in zip(recorded.outputs, outputHashes) {
                let artifactID = try artifactID(for: ref)
                try RefRow<OutputDirection>(ref, jobID: jobID, artifactID: artifactID, hashes: hashes).insert(db)
                try recordComponents(of: ref, artifactID: artifactID)
            }
            for path in recorded.deletes {
                try db.cachedStatement(sql: "INSERT OR IGNORE INTO job_deletes (job_id, path) VALUES (?, ?)")
                    .execute(arguments: [jobID, path])
            }
        }
        try removeOrphans()
        return result
    }

    // MARK: Replacing a job

    private mutating func removeRefs(ofJob jobID: Int64) throws {
        let referenced = try Int64.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT artifact_id FROM job_inputs WHERE job_id = ?1 AND artifact_id IS NOT NULL
                    UNION SELECT artifact_id FROM job_outputs WHERE job_id = ?1 AND artifact_id IS NOT NULL
                    """),
            arguments: [jobID])
        orphanCandidates.formUnion(referenced)
        try db.cachedStatement(sql: "DELETE FROM job_inputs WHERE job_id = ?").execute(arguments: [jobID])
        try db.cachedStatement(sql: "DELETE FROM job_outputs WHERE job_id = ?").execute(arguments: [jobID])
        try db.cachedStatement(sql: "DELETE FROM job_deletes WHERE job_id = ?").execute(arguments: [jobID])
    }

    private func removeOrphans() throws {
        let statement = try db.cachedStatement(
            sql: """
                DELETE FROM artifacts WHERE id = ?1
                AND NOT EXISTS (SELECT 1 FROM job_inputs WHERE artifact_id = ?1)
                AND NOT EXISTS (SELECT 1 FROM job_outputs WHERE artifact_id = ?1)
                """)
        for id in orphanCandidates.sorted() {
            try statement.execute(arguments: [id])  // its hashes go with it (ON DELETE CASCADE)
        }
    }

    // MARK: Artifacts

    /// A composite's parts, once per artifact: its digest is their Merkle hash, so equal digests mean
    /// equal parts and the first writer's list stands.
    private mutating func recordComponents(of ref: Ref, artifactID: Int64?) throws {
        guard ref.kind == .composite, let artifactID, let components = ref.components,
            componentsRecorded.insert(artifactID).inserted
        else { return }
        let statement = try db.cachedStatement(
            sql:
                "INSERT OR IGNORE INTO composite_components (artifact_id, name, algorithm, digest, size) VALUES (?, ?, ?, ?, ?)"
        )
        for component in components {
            try statement.execute(
                arguments: [artifactID, component.name, component.algorithm, component.digest, component.size])
        }
    }

    /// The artifact `ref`'s content resolves to, created or extended as needed; `nil` when the
    /// ref has no identifying digest.
    private mutating func artifactID(for ref: Ref) throws -> Int64? {
        let identity: [HashKey] = Schema.identifyingAlgorithms.compactMap { algorithm in
            ref.hashes[algorithm].map { HashKey(algorithm: algorithm, digest: $0) }
        }
        if identity.isEmpty { return nil }

        // Which artifacts carry these digests, most trusted algorithm first.
        var found: [Int64] = []
        var missing: [HashKey] = []
        for key in identity {
            if let id = try lookUp(key) {
                if !found.contains(id) { found.append(id) }
            } else {
                missing.append(key)
            }
        }

        // Common case: every digest is already on one artifact.
        if found.count == 1 && missing.isEmpty {
            try recordSize(ref.size, of: found[0])
            return found[0]
        }

        // Artifacts whose digests contradict the ref's (the same `etag` but another `blake3`)
        // are not this content, whatever the shared digest says.
        let refHashes = Dictionary(uniqueKeysWithValues: identity.map { ($0.algorithm, $0.digest) })
        var compatible: [(id: Int64, hashes: [String: String])] = []
        for id in found {
            let hashes = try hashes(of: id)
            if Self.agree(hashes, refHashes) { compatible.append((id, hashes)) }
        }

        guard let survivor = compatible.first else {
            // A new content. Digests that belong to another artifact stay on the ref only.
            try db.cachedStatement(sql: "INSERT INTO artifacts (kind, size) VALUES (?, ?)")
                .execute(arguments: [ref.kind.rawValue, ref.size])
            let id = db.lastInsertedRowID
            if ref.size != nil { sizedArtifacts.insert(id) }
            for key in missing { try addHash(key, to: id) }
            return id
        }

        // The ref says the compatible artifacts are one content: join those that agree with
        // each other into the one matched by the most trusted algorithm.
        var known = survivor.hashes
        for other in compatible.dropFirst() where Self.agree(known, other.hashes) {
            try join(other.id, into: survivor.id)
            known.merge(other.hashes) { first, _ in first }
        }
        for key in missing where known[key.algorithm] == nil {
            try addHash(key, to: survivor.id)
            known[key.algorithm] = key.digest
        }
        try recordSize(ref.size, of: survivor.id)
        return survivor.id
    }

    /// No algorithm gives the two hash sets different digests.
    private static func agree(_ first: [String: String], _ second: [String: String]) -> Bool {
        first.allSatisfy { algorithm, digest in second[algorithm].map { $0 == digest } ?? true }
    }

    /// Gives the artifact a size if it has none yet.
    private mutating func recordSize(_ size: Int64?, of artifactID: Int64) throws {
        guard let size, !sizedArtifacts.contains(artifactID) else { return }
        try db.cachedStatement(sql: "UPDATE artifacts SET size = ? WHERE id = ? AND size IS NULL")
            .execute(arguments: [size, artifactID])
        sizedArtifacts.insert(artifactID)
    }

    private mutating func lookUp(_ key: HashKey) throws -> Int64? {
        if let id = artifactByHash[key] { return id }
        let id = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT artifact_id FROM artifact_hashes WHERE algorithm = ? AND digest = ?"),
            arguments: [key.algorithm, key.digest])
        if let id { artifactByHash[key] = id }
        return id
    }

    private mutating func addHash(_ key: HashKey, to artifactID: Int64) throws {
        try db.cachedStatement(sql: "INSERT INTO artifact_hashes (artifact_id, algorithm, digest) VALUES (?, ?, ?)")
            .execute(arguments: [artifactID, key.algorithm, key.digest])
        artifactByHash[key] = artifactID
    }

    private func hashes(of artifactID: Int64) throws -> [String: String] {
        let rows = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT algorithm, digest FROM artifact_hashes WHERE artifact_id = ?"),
            arguments: [artifactID])
        var hashes: [String: String] = [:]
        for row in rows { hashes[row[0]] = row[1] as String }
        return hashes
    }

    /// Moves `victim`'s refs and digests to `survivor` and deletes `victim`.
    private mutating func join(_ victim: Int64, into survivor: Int64) throws {
        for table in [InputDirection.tableName, OutputDirection.tableName] {
            // A job that has rows for the same path under both artifacts keeps one of them.
            try db.execute(
                sql: "UPDATE OR IGNORE \(table) SET artifact_id = ? WHERE artifact_id = ?",
                arguments: [survivor, victim])
            try db.execute(sql: "DELETE FROM \(table) WHERE artifact_id = ?", arguments: [victim])
        }
        try db.execute(
            sql: "UPDATE artifact_hashes SET artifact_id = ? WHERE artifact_id = ?", arguments: [survivor, victim])
        try db.execute(
            sql:
                "UPDATE artifacts SET size = (SELECT size FROM artifacts WHERE id = ?2) WHERE id = ?1 AND size IS NULL",
            arguments: [survivor, victim])
        try db.execute(sql: "DELETE FROM artifacts WHERE id = ?", arguments: [victim])
        for (key, id) in artifactByHash where id == victim {
            artifactByHash[key] = survivor
        }
        sizedArtifacts.remove(survivor)
        orphanCandidates.remove(victim)
    }
}
