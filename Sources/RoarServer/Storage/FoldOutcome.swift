/// What ``LineageStorage/foldJob(uid:project:_:)`` did: the job's fate, and how many edges it added.
public struct FoldOutcome: Sendable, Codable, Hashable {
    public enum Stored: String, Sendable, Codable {
        /// A new job.
        case inserted
        /// The job's document changed (more datasets, its terminal event): its refs were replaced.
        case updated
        /// The same document again (a re-sent event).
        case unchanged
        /// A job `roar register` stored: events do not overwrite it.
        case ignored
    }

    public var job: String
    public var stored: Stored
    public var edgesInserted: Int

    enum CodingKeys: String, CodingKey {
        case job, stored
        case edgesInserted = "edges_inserted"
    }
}

extension RegisterBatch {
    /// Every path the batch's jobs read or wrote.
    var referencedPaths: Set<String> {
        Set(jobs.flatMap { job in job.references.filter { $0.direction != .delete }.map(\.path) })
    }
}
