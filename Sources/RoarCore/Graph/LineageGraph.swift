/// The jobs of a project and the edges between them: `to` read what `from` wrote.
public struct LineageGraph: Sendable {
    public var jobs: [RecordedJob]
    public var edges: [LineageEdge]

    public init(jobs: [RecordedJob], edges: [LineageEdge]) {
        self.jobs = jobs
        self.edges = edges
    }

    public func job(uid: String) -> RecordedJob? { jobs.first { $0.job.uid == uid } }

    /// The job at the top of `job`'s parent chain: the `roar run` a Ray task belongs to (the job
    /// itself when it has no recorded parent). A cycle of parents stops at the first repeat.
    public func root(of job: Job) -> Job {
        var current = job
        var seen: Set<String> = []
        while let parent = current.parentUID, seen.insert(parent).inserted, let next = self.job(uid: parent)?.job {
            current = next
        }
        return current
    }

    /// Jobs that wrote what `uid` read, transitively, nearest first.
    public func upstream(of uid: String) -> [RecordedJob] { walk(from: [uid], forward: false) }

    /// Jobs that read what `uid` wrote, transitively, nearest first.
    public func downstream(of uid: String) -> [RecordedJob] { walk(from: [uid], forward: true) }

    /// Jobs upstream (or downstream) of a set of starting jobs, excluding them.
    public func walk(from start: [String], forward: Bool) -> [RecordedJob] {
        var seen = Set(start)
        var queue = start
        var order: [String] = []
        while !queue.isEmpty {
            let current = queue.removeFirst()
            for edge in edges {
                let (here, there) = forward ? (edge.from, edge.to) : (edge.to, edge.from)
                if here == current, seen.insert(there).inserted {
                    order.append(there)
                    queue.append(there)
                }
            }
        }
        return order.compactMap(job(uid:))
    }
}
