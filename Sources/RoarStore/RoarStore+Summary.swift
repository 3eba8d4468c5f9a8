import GRDB
import RoarCore

extension RoarStore {
    /// Counts for `roar status`, read from one snapshot.
    public func summary() throws(StoreError) -> StoreSummary {
        try read("summarise") { db in
            var summary = StoreSummary()
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) FROM jobs GROUP BY status") {
                let name: String = row[0]
                guard let status = Job.Status(rawValue: name) else {
                    throw RowContentError(table: "jobs", key: "*", column: "status", value: name)
                }
                summary.jobsByStatus[status] = row[1]
                summary.jobCount += row[1] as Int
            }
            for row in try Row.fetchAll(db, sql: "SELECT role, COUNT(*) FROM jobs GROUP BY role") {
                let name: String = row[0]
                guard let role = Job.Role(rawValue: name) else {
                    throw RowContentError(table: "jobs", key: "*", column: "role", value: name)
                }
                summary.jobsByRole[role] = row[1]
            }
            if let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT COUNT(DISTINCT step), MAX(step), MAX(started_at), MAX(started_at + duration_s) FROM jobs
                    """)
            {
                summary.stepCount = row[0]
                summary.lastStep = row[1]
                summary.lastStartedAt = row[2]
                summary.lastFinishedAt = row[3]
            }
            summary.artifactCount = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM artifacts") ?? 0
            summary.unhashedReadCount =
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM job_inputs WHERE artifact_id IS NULL") ?? 0
            // https://www.sqlite.org/json1.html#jeach
            for row in try Row.fetchAll(
                db,
                sql: "SELECT c.key, SUM(c.value) FROM jobs, json_each(jobs.coverage) AS c GROUP BY c.key ORDER BY 1")
            {
                summary.coverage[row[0]] = row[1]
            }
            return summary
        }
    }
}
