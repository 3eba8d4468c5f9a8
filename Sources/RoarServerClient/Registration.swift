import Foundation
public import RoarCore
import RoarExport

/// What `roar register` sends: the chosen jobs as `roar.register/1` bodies (docs/server-api.md),
/// each at most `maximumJobs` jobs and about `maximumBytes`, with every edge into those jobs in
/// the batch of the job that read. The server keys jobs by uid and content, so sending a batch
/// again, or all of them after an interruption, changes nothing: that is how it resumes.
public struct Registration {
    public var batches: [Batch]

    public struct Batch: Sendable {
        public var jobCount: Int
        public var edgeCount: Int
        public var body: [UInt8]
    }

    public var jobCount: Int { batches.reduce(0) { $0 + $1.jobCount } }
    public var edgeCount: Int { batches.reduce(0) { $0 + $1.edgeCount } }
    public var byteCount: Int { batches.reduce(0) { $0 + $1.body.count } }

    public init(graph: LineageGraph, jobs: [RecordedJob], maximumJobs: Int = 500, maximumBytes: Int = 8 << 20) throws {
        var edgesInto: [String: [LineageEdge]] = [:]
        for edge in graph.edges { edgesInto[edge.to, default: []].append(edge) }
        var batches: [Batch] = []
        var pendingJobs: [Any] = []
        var pendingEdges: [Any] = []
        var pendingBytes = 0
        func flush() throws {
            guard !pendingJobs.isEmpty else { return }
            let document: [String: Any] = ["schema": "roar.register/1", "jobs": pendingJobs, "edges": pendingEdges]
            let body = try JSONSerialization.data(
                withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])
            batches.append(Batch(jobCount: pendingJobs.count, edgeCount: pendingEdges.count, body: Array(body)))
            pendingJobs = []
            pendingEdges = []
            pendingBytes = 0
        }
        for recorded in jobs {
            let object = LineageGraph.jsonObject(for: recorded)
            let size = (try? JSONSerialization.data(withJSONObject: object).count) ?? 0
            if !pendingJobs.isEmpty && (pendingJobs.count >= maximumJobs || pendingBytes + size > maximumBytes) {
                try flush()
            }
            pendingJobs.append(object)
            pendingBytes += size
            for edge in edgesInto[recorded.job.uid] ?? [] {
                pendingEdges.append(["from": edge.from, "to": edge.to, "path": edge.path])
            }
        }
        try flush()
        self.batches = batches
    }
}
