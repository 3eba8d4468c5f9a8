/// What one step of a pipeline did: a command run under `roar run`, a Ray driver, or one Ray
/// task or actor call. The unit everything in roar is about.
public struct Job: Codable, Hashable, Sendable {
    /// Stable identifier (16 lowercase hex). For Ray tasks derived from the run and the task's
    /// id and attempt, so merging the same task twice updates one job.
    public var uid: String
    /// `@N`: the position in the project's history. Parallel Ray tasks share a step.
    public var step: Int?
    public var role: Role
    public var command: String
    public var cwd: String?
    public var git: GitState?
    /// Seconds since the Unix epoch.
    public var startedAt: Double
    public var durationSeconds: Double?
    public var exitCode: Int?
    public var status: Status
    /// The job that launched this one (the driver for a Ray task, the parent task for a nested one).
    public var parentUID: String?
    public var ray: RayIdentity?
    /// `"<ExceptionType>: <message>"` for failed tasks, a signal name for killed commands.
    public var error: String?
    public var hostname: String?
    /// Events the tracer could not attribute or record, by kind (e.g. `static-exec`).
    public var coverage: [String: Int]

    public enum Role: String, Codable, Hashable, Sendable, CaseIterable {
        /// A command run with `roar run`.
        case run
        /// A Ray task.
        case task
        /// A Ray actor method call (per_call attribution) or a whole actor (per_actor).
        case actor
    }

    public enum Status: String, Codable, Hashable, Sendable, CaseIterable {
        case running, ok, failed, killed, partial
    }

    public init(
        uid: String, step: Int? = nil, role: Role, command: String, cwd: String? = nil,
        git: GitState? = nil, startedAt: Double, durationSeconds: Double? = nil, exitCode: Int? = nil,
        status: Status, parentUID: String? = nil, ray: RayIdentity? = nil, error: String? = nil,
        hostname: String? = nil, coverage: [String: Int] = [:]
    ) {
        self.uid = uid
        self.step = step
        self.role = role
        self.command = command
        self.cwd = cwd
        self.git = git
        self.startedAt = startedAt
        self.durationSeconds = durationSeconds
        self.exitCode = exitCode
        self.status = status
        self.parentUID = parentUID
        self.ray = ray
        self.error = error
        self.hostname = hostname
        self.coverage = coverage
    }
}

/// The git state of the project when a job ran.
public struct GitState: Codable, Hashable, Sendable {
    public var commit: String
    public var branch: String?
    public var isDirty: Bool

    public init(commit: String, branch: String?, isDirty: Bool) {
        self.commit = commit
        self.branch = branch
        self.isDirty = isDirty
    }
}

/// Who a Ray task was: the ids Ray gave it and where it ran.
public struct RayIdentity: Codable, Hashable, Sendable {
    public var taskID: String
    public var attempt: Int
    public var actorID: String?
    public var nodeID: String?
    public var workerID: String?
    public var jobID: String?
    /// Qualified name of the remote function or actor method, e.g. `pipeline.Counter.add`.
    public var function: String

    public init(
        taskID: String, attempt: Int, actorID: String? = nil, nodeID: String? = nil,
        workerID: String? = nil, jobID: String? = nil, function: String
    ) {
        self.taskID = taskID
        self.attempt = attempt
        self.actorID = actorID
        self.nodeID = nodeID
        self.workerID = workerID
        self.jobID = jobID
        self.function = function
    }
}
