/// The breadth-first walk behind `GET …/lineage`, the same for every backend: the backend asks
/// ``nextToExpand()`` for a job, looks up its edges, and reports each with ``follow(_:to:)`` and
/// each newly reached job with ``found(_:)``. Jobs `depth` edges away are listed but not expanded.
struct LineageWalk {
    let depth: Int
    let starts: [JobSummary]
    private var seen: Set<String>
    private var level: [String]
    private var nextLevel: [String] = []
    private var distance = 0
    private var jobs: [LineageJob] = []
    private var edges: Set<LineageEdgeRecord> = []
    private var isTruncated = false

    init(starts: [JobSummary], depth: Int) {
        self.starts = starts
        self.depth = depth
        seen = Set(starts.map(\.uid))
        level = starts.map(\.uid)
    }

    /// The next job whose edges to follow; nil when the walk is over.
    mutating func nextToExpand() -> String? {
        if level.isEmpty {
            guard !nextLevel.isEmpty else { return nil }
            level = nextLevel
            nextLevel = []
            distance += 1
        }
        if distance == depth {
            isTruncated = true
            level = []
            return nil
        }
        return level.removeFirst()
    }

    /// Records an edge of the job being expanded; true when it leads to a job not reached before.
    mutating func follow(_ edge: LineageEdgeRecord, to next: String) -> Bool {
        edges.insert(edge)
        guard seen.insert(next).inserted else { return false }
        nextLevel.append(next)
        return true
    }

    mutating func found(_ job: JobSummary) {
        jobs.append(LineageJob(job: job, depth: distance + 1))
    }

    func result() -> LineageResult {
        LineageResult(
            start: starts, jobs: jobs, edges: edges.sorted { ($0.from, $0.to, $0.path) < ($1.from, $1.to, $1.path) },
            truncated: isTruncated)
    }
}
