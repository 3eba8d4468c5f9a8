#if canImport(FoundationEssentials)
    import FoundationEssentials  // what roar-agent links: full Foundation brings ICU (45 MB)
#else
    import Foundation
#endif

/// A Ray task boundary written by `roar_runtime` as an `E` spool record (`docs/ray-events.md`).
public struct RayTaskEvent: Codable, Hashable, Sendable {
    public enum Kind: String, Codable, Hashable, Sendable {
        case taskBegin = "task_begin"
        case taskEnd = "task_end"
        /// A task submitted another (nested tasks): names the submitter.
        case taskSubmit = "task_submit"
        case driver
        case config
    }

    public var event: Kind
    public var tag: String?
    public var taskID: String?
    public var attempt: Int?
    /// `task`, `actor_call` or `actor_init` on `task_begin`.
    public var taskKind: String?
    public var function: String?
    public var actorID: String?
    public var parentTaskID: String?
    /// On `task_submit`: the attempt of the submitting task.
    public var parentAttempt: Int?
    public var nodeID: String?
    public var workerID: String?
    public var jobID: String?
    public var pid: Int?
    /// `ok` or `failed` on `task_end`.
    public var status: String?
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case event, tag, attempt, function, pid, status, error
        case taskID = "task_id"
        case taskKind = "kind"
        case actorID = "actor_id"
        case parentTaskID = "parent_task_id"
        case parentAttempt = "parent_attempt"
        case nodeID = "node_id"
        case workerID = "worker_id"
        case jobID = "job_id"
    }

    /// Decodes an event; `nil` for events of kinds this roar does not know (newer runtimes).
    public static func decode(json: String) throws -> RayTaskEvent? {
        struct Probe: Decodable { var event: String }
        let data = Data(json.utf8)
        let probe = try JSONDecoder().decode(Probe.self, from: data)
        guard Kind(rawValue: probe.event) != nil else { return nil }
        return try JSONDecoder().decode(RayTaskEvent.self, from: data)
    }
}
