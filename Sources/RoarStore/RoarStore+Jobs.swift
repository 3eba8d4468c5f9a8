import Foundation
import GRDB
public import RoarCore

extension RoarStore {
    /// Every job with its reads, writes and deletes, in history order: by step (jobs without a
    /// step last), then start time.
    public func allJobs() throws(StoreError) -> [RecordedJob] {
        try read("read the jobs of") { db in try JobLoader(db).load(where: "1") }
    }

    /// The jobs of step `@step`, in start order.
    public func jobs(atStep step: Int) throws(StoreError) -> [RecordedJob] {
        try read("read step \(step) of") { db in try JobLoader(db).load(where: "step = ?", [step]) }
    }

    /// The job with this uid, or `nil`.
    public func job(uid: String) throws(StoreError) -> RecordedJob? {
        try read("read job \(uid) of") { db in try JobLoader(db).load(where: "uid = ?", [uid]).first }
    }

    /// The jobs whose uid starts with `uidPrefix` (hex prefixes match case-insensitively), in
    /// history order. More than one result means the prefix is ambiguous.
    public func jobs(uidPrefix: String) throws(StoreError) -> [RecordedJob] {
        let range = PrefixRange(uidPrefix)
        return try read("look up job \(uidPrefix) in") { db in
            try JobLoader(db).load(where: "uid >= ? AND uid < ?", [range.lower, range.upper])
        }
    }

    /// The jobs that read or wrote exactly `path`, in history order.
    public func jobs(touchingPath path: String) throws(StoreError) -> [RecordedJob] {
        try read("look up path \(path) in") { db in
            try JobLoader(db).load(
                where: """
                    id IN (SELECT job_id FROM job_inputs WHERE path = ?1
                           UNION SELECT job_id FROM job_outputs WHERE path = ?1)
                    """,
                [path])
        }
    }

    /// The jobs that wrote an artifact with a digest (of any algorithm) starting with `prefix`.
    public func jobs(producingDigestPrefix prefix: String) throws(StoreError) -> [RecordedJob] {
        try jobs(linkedTo: OutputDirection.tableName, digestPrefix: prefix)
    }

    /// The jobs that read an artifact with a digest (of any algorithm) starting with `prefix`.
    public func jobs(consumingDigestPrefix prefix: String) throws(StoreError) -> [RecordedJob] {
        try jobs(linkedTo: InputDirection.tableName, digestPrefix: prefix)
    }

    private func jobs(linkedTo table: String, digestPrefix prefix: String) throws(StoreError) -> [RecordedJob] {
        let range = PrefixRange(prefix)
        return try read("look up digest \(prefix) in") { db in
            try JobLoader(db).load(
                where: """
                    id IN (SELECT r.job_id FROM \(table) r
                           JOIN artifact_hashes h ON h.artifact_id = r.artifact_id
                           WHERE h.digest >= ? AND h.digest < ?)
                    """,
                [range.lower, range.upper])
        }
    }
}

/// `value >= lower AND value < upper` selects the strings that start with a prefix, using the
/// column's index (SQLite compares TEXT bytewise, and no UTF-8 continuation of the prefix sorts
/// after U+10FFFF). Hex prefixes are lowercased: roar stores hex digests and uids in lowercase.
struct PrefixRange {
    var lower: String
    var upper: String

    init(_ prefix: String) {
        let isHex = !prefix.isEmpty && prefix.allSatisfy(\.isHexDigit)
        lower = isHex ? prefix.lowercased() : prefix
        upper = lower + "\u{10FFFF}"
    }
}

/// Reads jobs and their refs with three queries in all, whatever the number of jobs.
struct JobLoader {
    let db: Database
    let decoder = JSONDecoder()

    init(_ db: Database) {
        self.db = db
    }

    /// The jobs matching the SQL condition `filter` on table `jobs`, in history order.
    func load(where filter: String, _ arguments: StatementArguments = []) throws -> [RecordedJob] {
        let rows = try JobRow.fetchAll(
            db, sql: "SELECT \(JobRow.selection) FROM jobs WHERE \(filter) ORDER BY step IS NULL, step, started_at, id",
            arguments: arguments)
        if rows.isEmpty { return [] }
        var recorded: [RecordedJob] = []
        recorded.reserveCapacity(rows.count)
        var indexByID: [Int64: Int] = [:]
        for row in rows {
            indexByID[row.id!] = recorded.count
            recorded.append(RecordedJob(job: try row.job(decoder: decoder)))
        }
        let jobIDs = "SELECT id FROM jobs WHERE \(filter)"
        let components = try compositeComponents(ofJobsWhere: filter, arguments)
        func ref<Direction>(_ row: RefRow<Direction>) throws -> Ref {
            var ref = try row.ref(decoder: decoder)
            if ref.kind == .composite, let id = row.artifactID { ref.components = components[id] }
            return ref
        }
        for row in try RefRow<InputDirection>.fetchAll(
            db, sql: "SELECT \(RefRow<InputDirection>.columns) FROM job_inputs WHERE job_id IN (\(jobIDs)) ORDER BY id",
            arguments: arguments)
        {
            if let index = indexByID[row.jobID] { recorded[index].inputs.append(try ref(row)) }
        }
        for row in try RefRow<OutputDirection>.fetchAll(
            db,
            sql: "SELECT \(RefRow<OutputDirection>.columns) FROM job_outputs WHERE job_id IN (\(jobIDs)) ORDER BY id",
            arguments: arguments)
        {
            if let index = indexByID[row.jobID] { recorded[index].outputs.append(try ref(row)) }
        }
        for row in try DeleteRow.fetchAll(
            db, sql: "SELECT job_id, path FROM job_deletes WHERE job_id IN (\(jobIDs)) ORDER BY id",
            arguments: arguments)
        {
            if let index = indexByID[row.jobID] { recorded[index].deletes.append(row.path) }
        }
        return recorded
    }

    /// The parts of every composite the selected jobs read or wrote, by artifact, sorted by name.
    private func compositeComponents(ofJobsWhere filter: String, _ arguments: StatementArguments) throws
        -> [Int64: [CompositeComponent]]
    {
        // `name` sorts bytewise (SQLite's BINARY collation), as `Composite` sorts it.
        let rows = try Row.fetchAll(
            db,
            sql: """
                WITH selected(id) AS (SELECT id FROM jobs WHERE \(filter))
                SELECT artifact_id, name, algorithm, digest, size FROM composite_components
                WHERE artifact_id IN (SELECT artifact_id FROM job_outputs WHERE kind = 'composite' AND job_id IN selected
                                      UNION SELECT artifact_id FROM job_inputs WHERE kind = 'composite' AND job_id IN selected)
                ORDER BY artifact_id, name
                """,
            arguments: arguments)
        var byArtifact: [Int64: [CompositeComponent]] = [:]
        for row in rows {
            byArtifact[row[0], default: []].append(
                CompositeComponent(name: row[1], algorithm: row[2], digest: row[3], size: row[4]))
        }
        return byArtifact
    }
}
