import GRDB
public import RoarCore

extension RoarStore {
    /// The composites recorded as written at each of `paths` (dataset folders, S3 prefixes), each once,
    /// oldest first by its first writer: what a later run's reads are compared against.
    public func writtenComposites(atPaths paths: Set<String>) throws(StoreError) -> [String: [Composite]] {
        if paths.isEmpty { return [:] }
        return try read("look up the datasets of") { db in
            var found: [String: [Composite]] = [:]
            let byPath = try db.cachedStatement(
                sql: """
                    SELECT o.artifact_id FROM job_outputs o JOIN jobs j ON j.id = o.job_id
                    WHERE o.path = ? AND o.kind = 'composite' AND o.artifact_id IS NOT NULL
                    GROUP BY o.artifact_id ORDER BY MIN(j.step IS NULL), MIN(j.step), MIN(j.started_at)
                    """)
            let parts = try db.cachedStatement(
                sql:
                    "SELECT name, algorithm, digest, size FROM composite_components WHERE artifact_id = ? ORDER BY name"
            )
            for path in paths.sorted() {
                for id in try Int64.fetchAll(byPath, arguments: [path]) {
                    let components = try Row.fetchAll(parts, arguments: [id]).map { row in
                        CompositeComponent(name: row[0], algorithm: row[1], digest: row[2], size: row[3])
                    }
                    if !components.isEmpty {
                        found[path, default: []].append(Composite(path: path, components: components))
                    }
                }
            }
            return found
        }
    }
}
