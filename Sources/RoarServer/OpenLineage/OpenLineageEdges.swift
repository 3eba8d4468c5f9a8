import RoarCore

/// The edges the server infers for an ingested OpenLineage run, by dataset name (docs/openlineage.md,
/// "Ingesting"): OpenLineage events carry no edges, so a job that wrote a path and a job that read it are
/// joined here, the same for both backends.
///
/// A reader R of path P is joined to a writer W of P (W ≠ R) when
/// - both have a digest of the same algorithm, and they are equal (roar's own rule: the same content; time
///   is not compared), or else
/// - no writer has R's content by that test, and W is the latest writer of P (by start, then uid) that
///   started no later than R among those whose digest cannot be compared with R's (a Spark job without
///   versions writing a file a Ray task later read).
enum OpenLineageEdges {
    /// One read or write of a path, as the `refs` and `jobs` tables hold it.
    struct Use: Sendable, Hashable {
        var uid: String
        var startedAt: Double
        var isOutput: Bool
        var path: String
        var digest: String?
    }

    /// The edges among `uses` (every use of the paths `job` touched) that have `job` at one end.
    static func edges(involving job: String, uses: [Use]) -> [LineageEdge] {
        edges(among: uses) { writer, reader in writer == job || reader == job }
    }

    /// The edges among `uses` with an OpenLineage producer's job (`ol-…`) at one end: what a registration
    /// adds, its own edges having come with it.
    static func foreignEdges(among uses: [Use]) -> [LineageEdge] {
        edges(among: uses) { writer, reader in isForeign(writer) || isForeign(reader) }
    }

    static func isForeign(_ uid: String) -> Bool { uid.hasPrefix(OpenLineageRunDocument.foreignPrefix) }

    static func edges(among uses: [Use], keeping isWanted: (String, String) -> Bool) -> [LineageEdge] {
        var byPath: [String: [Use]] = [:]
        for use in uses { byPath[use.path, default: []].append(use) }
        var found: Set<LineageEdge> = []
        for (path, pathUses) in byPath {
            let writers = pathUses.filter(\.isOutput)
            for reader in pathUses where !reader.isOutput {
                for writer in self.writers(of: reader, among: writers) where isWanted(writer.uid, reader.uid) {
                    found.insert(LineageEdge(from: writer.uid, to: reader.uid, path: path))
                }
            }
        }
        return found.sorted { ($0.from, $0.to, $0.path) < ($1.from, $1.to, $1.path) }
    }

    static func writers(of reader: Use, among writers: [Use]) -> [Use] {
        let others = writers.filter { $0.uid != reader.uid }
        let sameContent = others.filter { isComparable($0.digest, reader.digest) && $0.digest == reader.digest }
        if !sameContent.isEmpty { return sameContent }
        let latest =
            others
            .filter { !isComparable($0.digest, reader.digest) && $0.startedAt <= reader.startedAt }
            .max { ($0.startedAt, $0.uid) < ($1.startedAt, $1.uid) }
        return latest.map { [$0] } ?? []
    }

    /// Two digests say something about each other only when both are there, of the same algorithm.
    static func isComparable(_ first: String?, _ second: String?) -> Bool {
        guard let first, let second else { return false }
        return first.split(separator: ":", maxSplits: 1).first == second.split(separator: ":", maxSplits: 1).first
    }
}
