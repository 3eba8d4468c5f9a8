import Foundation
public import RoarCore

/// Finds the content digest of a file a job read, on this host.
public protocol ReadDigestResolver {
    /// The BLAKE3 digest of the file at `path` as it is now, provided it is still the version
    /// the job saw (`version`; nil accepts any version). nil when the file changed or is gone.
    func currentDigest(ofPath path: String, ifVersion version: FileVersion?) -> (digest: String, version: FileVersion)?
}

/// Turns the spool records of one run into jobs: the command roar ran, and one job per Ray
/// task or actor (per the tags of `docs/ray-events.md`), each with what it read and wrote.
public struct JobAssembler {
    public var root: Job
    public var runID: String
    public var filter: PathFilter
    public var resolver: any ReadDigestResolver

    public init(root: Job, runID: String, filter: PathFilter, resolver: any ReadDigestResolver) {
        self.root = root
        self.runID = runID
        self.filter = filter
        self.resolver = resolver
    }

    /// What reading a run's spools produced.
    public struct Result: Sendable {
        /// The root job first, then the tasks in step order.
        public var jobs: [RecordedJob]
        public var problems: [SpoolProblem]
        /// Human-readable notes for the user (lost coverage, untraceable programs).
        public var warnings: [String]
        /// Records dropped as internal noise, by tag.
        public var droppedRecordsByTag: [String: Int]
    }

    /// Records attributed to one job, in the order they happened.
    struct Group {
        var tag: String
        var records: [(process: Int, record: SpoolRecord)] = []
        var begins: [RayTaskEvent] = []
        var ends: [RayTaskEvent] = []
        var beginProcesses: [Int] = []
        var beginNanoseconds: [Int64] = []
        var firstNanoseconds: Int64 = .max
        var lastNanoseconds: Int64 = .min
        /// `task_submit` events seen under this tag: submitted task → (submitter task, attempt).
        var submissions: [(String, (taskID: String, attempt: Int))] = []
        /// `E` events that do not decode: where they are and why.
        var undecodableEvents: [SpoolProblem] = []
        /// S3 operations under this tag, in the order they were written; and the BLAKE3 of `GetObject`
        /// bodies finished under it, by call id.
        var s3Events: [S3Event] = []
        var s3ContentDigests: [String: String] = [:]
        var s3Transfers: [S3TransferEvent] = []

        mutating func add(_ record: SpoolRecord, at nanoseconds: Int64, process: Int, file: String, line: Int) {
            firstNanoseconds = min(firstNanoseconds, nanoseconds)
            lastNanoseconds = max(lastNanoseconds, nanoseconds)
            guard case .event(_, _, let json) = record else {
                records.append((process, record))
                return
            }
            let decoded: RayTaskEvent?
            do {
                decoded = try RayTaskEvent.decode(json: json)
                if decoded == nil, let s3 = try S3Record.decode(json: json) {
                    switch s3 {
                    case .operation(let operation): s3Events.append(operation)
                    case .content(let content): s3ContentDigests[content.call] = content.blake3
                    case .transfer(let transfer): s3Transfers.append(transfer)
                    }
                    return
                }
            } catch {
                undecodableEvents.append(
                    SpoolProblem(
                        file: file, line: line, kind: .corrupt,
                        detail: "undecodable E event (\(JobAssembler.reason(error))): \(json.prefix(80))"))
                return
            }
            guard let event = decoded else { return }  // a kind this roar does not use
            switch event.event {
            case .taskBegin:
                begins.append(event)
                beginProcesses.append(process)
                beginNanoseconds.append(nanoseconds)
            case .taskEnd:
                ends.append(event)
            case .taskSubmit:
                if let child = event.taskID, let parent = event.parentTaskID {
                    submissions.append((child, (parent, event.parentAttempt ?? 0)))
                }
            case .driver, .config:
                break
            }
        }
    }

    /// What a decoder said, in one line.
    static func reason(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .dataCorrupted(let context)?, .keyNotFound(_, let context)?, .typeMismatch(_, let context)?,
            .valueNotFound(_, let context)?:
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }

    public func assemble(_ spools: [SpoolReader.Contents], problems readProblems: [SpoolProblem] = []) -> Result {
        var problems = readProblems
        var warnings: [String] = []
        var dropped: [String: Int] = [:]
        var groups: [String: Group] = ["": Group(tag: "")]
        var processExited: [Bool] = []
        var rootCoverage: [String: Int] = [:]
        // Every digest a write in this run produced, by the file version it produced.
        var readDigests = ReadDigestPolicy()
        // Nested tasks: submitted task id → the (task id, attempt) that submitted it.
        var submitters: [String: (taskID: String, attempt: Int)] = [:]
        // What roar_runtime reported about itself, from any tag (Ray's own included): charged to the run.
        var runtimeIssues: [String: (use: String, knownFor: String?, rayVersion: String?)] = [:]

        for (processIndex, spool) in spools.enumerated() {
            problems += spool.problems
            var exited = false
            var lastCounters: [String: Int] = [:]
            for (recordIndex, record) in spool.records.enumerated() {
                switch record {
                case .header: continue
                case .exit:
                    exited = true
                    continue
                case .coverage(_, let counters):
                    lastCounters = counters
                    continue
                case .file(let access):
                    readDigests.note(access)
                case .event(_, _, let json):
                    switch try? RuntimeEvent.decode(json: json) {
                    case .stats(let counters):
                        // A missing Ray internal is counted once per name, from its runtime_issue.
                        for (key, value) in counters where value > 0 && key != "ray_private_unavailable" {
                            rootCoverage[key, default: 0] += value
                        }
                    case .issue(_, let name, let use, let knownFor, let rayVersion):
                        runtimeIssues[name] = (use, knownFor, rayVersion)
                    case nil:
                        break
                    }
                default: break
                }
                guard let (tag, nanoseconds) = SpoolTags.tagAndTime(of: record) else { continue }
                guard SpoolTags.isJobTag(tag) else {
                    dropped[tag, default: 0] += 1
                    continue
                }
                // Mutated in place: a copy out of the dictionary would copy its records on every line.
                let line = recordIndex < spool.lineNumbers.count ? spool.lineNumbers[recordIndex] : 0
                groups[tag, default: Group(tag: tag)].add(
                    record, at: nanoseconds, process: processIndex, file: spool.file, line: line)
            }
            processExited.append(exited)
            for (key, value) in lastCounters where SpoolTags.lossCounters.contains(key) && value > 0 {
                rootCoverage[key, default: 0] += value
            }
        }
        var s3ContentDigests: [String: String] = [:]
        for group in groups.values {
            s3ContentDigests.merge(group.s3ContentDigests) { first, _ in first }
            for (child, parent) in group.submissions { submitters[child] = parent }
            problems += group.undecodableEvents
        }
        if !problems.isEmpty {
            rootCoverage["spool_records_skipped"] = problems.count
        }
        if !runtimeIssues.isEmpty {
            rootCoverage["ray_private_unavailable"] = runtimeIssues.count
        }

        var jobs: [RecordedJob] = []
        var parentTaskIDs: [String: (taskID: String, attempt: Int?)] = [:]
        var rootJob = RecordedJob(job: root)
        rootJob.job.coverage.merge(rootCoverage, uniquingKeysWith: +)
        for (tag, group) in groups.sorted(by: { $0.key < $1.key }) {
            if tag.isEmpty {
                collectIO(of: group, into: &rootJob, readDigests: readDigests, s3ContentDigests: s3ContentDigests)
                continue
            }
            guard var (task, parentTaskID) = taskJob(for: group, processExited: processExited) else {
                dropped[tag, default: 0] += group.records.count
                continue
            }
            collectIO(of: group, into: &task, readDigests: readDigests, s3ContentDigests: s3ContentDigests)
            if task.job.ray?.function == Self.unknownFunction && task.inputs.isEmpty && task.outputs.isEmpty {
                // ray_task:unknown with no I/O: internal noise.
                continue
            }
            if let parentTaskID { parentTaskIDs[task.job.uid] = (parentTaskID, nil) }
            if let taskID = task.job.ray?.taskID, let submitter = submitters[taskID] {
                parentTaskIDs[task.job.uid] = submitter
            }
            jobs.append(task)
        }
        resolveParents(&jobs, parentTaskIDs: parentTaskIDs)
        for (kind, count) in rootJob.job.coverage.sorted(by: { $0.key < $1.key })
        where kind != "ray_private_unavailable" {
            warnings.append(Self.coverageWarning(kind: kind, count: count))
        }
        for (name, issue) in runtimeIssues.sorted(by: { $0.key < $1.key }) {
            let ray = issue.rayVersion.map { "Ray \($0)" } ?? "this Ray"
            let known = issue.knownFor.map { " (roar knows it in Ray \($0))" } ?? ""
            let lost = issue.use.isEmpty ? "what roar needs it for" : issue.use
            warnings.append("Ray internal \(name) is missing or changed in \(ray)\(known): not recorded: \(lost)")
        }
        for job in jobs {
            for (kind, count) in job.job.coverage.sorted(by: { $0.key < $1.key }) {
                warnings.append(
                    Self.coverageWarning(kind: kind, count: count) + " (in \(job.job.ray?.function ?? job.job.uid))")
            }
        }
        let ordered = StepPlanner.assignSteps(root: rootJob, tasks: jobs)
        return Result(jobs: ordered, problems: problems, warnings: warnings, droppedRecordsByTag: dropped)
    }

    // MARK: - Tags

    static let unknownFunction = "(unknown)"

    /// A stable job uid for a tag of this run: merging the same run twice updates the same jobs.
    public static func jobUID(runID: String, tag: String) -> String {
        SpoolTags.jobUID(sessionID: runID, tag: tag)
    }

    // MARK: - Jobs

    /// The job of one task tag, and the Ray task id of the task that submitted it.
    func taskJob(for group: Group, processExited: [Bool]) -> (RecordedJob, String?)? {
        let tag = group.tag
        let isPerActor = tag.hasPrefix("ray-actor:")
        let begin = group.begins.first
        var taskID = begin?.taskID
        var attempt = begin?.attempt ?? 0
        if taskID == nil, let identity = SpoolTags.taskIdentity(ofTag: tag) {
            // ray:<task_id>:<attempt> without its task_begin (lost): keep what the tag says.
            (taskID, attempt) = identity
        }
        let actorID = begin?.actorID ?? SpoolTags.actorID(ofTag: tag)
        guard taskID != nil || actorID != nil else { return nil }

        var status = Job.Status.ok
        var error: String?
        if let failed = group.ends.first(where: { $0.status == "failed" }) {
            status = .failed
            error = failed.error
        } else if let exited = group.ends.first(where: { $0.status == "killed" }) {
            // The worker exited under the task (SystemExit: Ray ending a dead driver's workers).
            status = .killed
            error = exited.error
        } else if group.begins.count > group.ends.count || begin == nil {
            let endedTasks = Set(group.ends.compactMap { $0.taskID })
            let unfinished = zip(group.begins, group.beginProcesses).filter { !endedTasks.contains($0.0.taskID ?? "") }
            let died = unfinished.contains { !processExited[$0.1] }
            status = died || begin == nil ? .killed : .partial
            if status == .killed { error = "worker process died before the task ended" }
        }
        let startedNanoseconds = group.beginNanoseconds.min() ?? group.firstNanoseconds
        let function = begin?.function ?? Self.unknownFunction
        let isActor = isPerActor || begin?.taskKind == "actor_call" || begin?.taskKind == "actor_init"
        let identity = RayIdentity(
            taskID: taskID ?? actorID ?? "", attempt: attempt, actorID: actorID, nodeID: begin?.nodeID,
            workerID: begin?.workerID, jobID: begin?.jobID, function: function)
        let job = Job(
            uid: Self.jobUID(runID: runID, tag: tag), role: isActor ? .actor : .task,
            command: isPerActor
                ? "actor \(function.split(separator: ".").dropLast().joined(separator: "."))" : function,
            cwd: root.cwd, git: root.git, startedAt: Double(startedNanoseconds) / 1e9,
            durationSeconds: Double(max(0, group.lastNanoseconds - startedNanoseconds)) / 1e9,
            exitCode: nil, status: status, parentUID: root.uid, ray: identity, error: error,
            hostname: root.hostname)
        return (RecordedJob(job: job), begin?.parentTaskID)
    }

    /// Nested tasks: the parent is the job of the task that submitted them (latest attempt).
    func resolveParents(_ jobs: inout [RecordedJob], parentTaskIDs: [String: (taskID: String, attempt: Int?)]) {
        var latestAttempt: [String: (uid: String, attempt: Int)] = [:]
        var byAttempt: [String: String] = [:]
        for job in jobs {
            guard let ray = job.job.ray else { continue }
            byAttempt["\(ray.taskID):\(ray.attempt)"] = job.job.uid
            if let existing = latestAttempt[ray.taskID], existing.attempt > ray.attempt { continue }
            latestAttempt[ray.taskID] = (job.job.uid, ray.attempt)
        }
        for index in jobs.indices {
            guard let parent = parentTaskIDs[jobs[index].job.uid] else { continue }
            let parentUID =
                parent.attempt.flatMap { byAttempt["\(parent.taskID):\($0)"] }
                ?? latestAttempt[parent.taskID]?.uid
            if let parentUID, parentUID != jobs[index].job.uid {
                jobs[index].job.parentUID = parentUID
            }
        }
    }

    // MARK: - Inputs and outputs

    /// What `group` read and wrote. Read digests follow ``ReadDigestPolicy`` (the rule the node agent
    /// follows too); files changed outside an `F` record are hashed as found. S3 operations are folded
    /// by ``S3Activity``; `s3ContentDigests` are the run's `GetObject` body digests by call id.
    func collectIO(
        of group: Group, into recorded: inout RecordedJob, readDigests: ReadDigestPolicy,
        s3ContentDigests: [String: String] = [:]
    ) {
        var outputs: [String: Ref] = [:]
        var outputOrder: [String] = []
        var inputs: [String: Ref] = [:]
        var inputOrder: [String] = []
        var ownVersions: Set<FileVersion> = []
        var deletes: [String] = []
        // Writes still open when their process ended: the process was killed before close.
        var openWrites: [Int: [String: Int64]] = [:]
        var coverage = recorded.job.coverage

        func setOutput(_ ref: Ref) {
            if outputs[ref.path] == nil { outputOrder.append(ref.path) }
            outputs[ref.path] = ref
            deletes.removeAll { $0 == ref.path }
        }
        /// The file at `path` as found now, if it is lineage and still there.
        func asFound(_ path: String?, capture: String = "native") -> Ref? {
            guard let path, filter.isRecorded(path), let current = resolver.currentDigest(ofPath: path, ifVersion: nil)
            else { return nil }
            return Ref(
                path: path, hashes: ["blake3": current.digest], size: current.version.size, capture: capture,
                version: current.version)
        }

        let ordered = group.records.sorted {
            (SpoolTags.tagAndTime(of: $0.record)?.1 ?? 0) < (SpoolTags.tagAndTime(of: $1.record)?.1 ?? 0)
        }
        for (process, record) in ordered {
            switch record {
            case .file(let access):
                if access.isWrite { openWrites[process]?[access.path] = nil }
                guard filter.isRecorded(access.path) else { continue }
                if access.isWrite {
                    ownVersions.insert(access.version)
                    var hashes: [String: String] = [:]
                    if let hash = access.hash { hashes[hash.algorithm] = hash.digest }
                    setOutput(
                        Ref(
                            path: access.path, hashes: hashes, size: access.version.size, capture: "native",
                            version: access.version))
                } else if access.isRead {
                    if ownVersions.contains(access.version) { continue }
                    let key =
                        access.path + "\u{0}" + String(access.version.modifiedNanoseconds) + ":"
                        + String(access.version.inode)
                    if inputs[key] != nil { continue }
                    var hashes: [String: String] = [:]
                    hashes["blake3"] = readDigests.digest(ofRead: access) { path, version in
                        resolver.currentDigest(ofPath: path, ifVersion: version)?.digest
                    }
                    inputs[key] = Ref(
                        path: access.path, hashes: hashes, size: access.version.size, capture: "native",
                        version: access.version)
                    inputOrder.append(key)
                }
            case .openForWrite(_, let ns, _, _):
                // Hashed as found below if the process ended with the file still open.
                if let path = ReadDigestPolicy.pathHashedAsFound(by: record) {
                    openWrites[process, default: [:]][path] = ns
                }
            case .rename(_, _, let from, let to):
                if var moved = outputs.removeValue(forKey: from) {
                    outputOrder.removeAll { $0 == from }
                    moved.path = to
                    if filter.isRecorded(to) { setOutput(moved) }
                } else if let found = asFound(ReadDigestPolicy.pathHashedAsFound(by: record)) {
                    setOutput(found)
                }
            case .link, .truncate:
                if let found = asFound(ReadDigestPolicy.pathHashedAsFound(by: record)) { setOutput(found) }
            case .delete(_, _, let path):
                guard filter.isRecorded(path) else { continue }
                if outputs.removeValue(forKey: path) != nil { outputOrder.removeAll { $0 == path } }
                if !deletes.contains(path) { deletes.append(path) }
            case .warning(_, _, let kind, _):
                coverage[kind, default: 0] += 1
            case .exec, .spawn, .event, .header, .coverage, .exit:
                continue
            }
        }
        // Finalize files that were open for writing when their process died: hash what is there.
        for (_, paths) in openWrites {
            for path in paths.keys.sorted() where outputs[path] == nil {
                guard let found = asFound(path, capture: "native-unclosed") else { continue }
                setOutput(found)
                coverage["unclosed_write", default: 0] += 1
            }
        }
        var s3 = S3Activity(events: group.s3Events, contentDigests: s3ContentDigests)
        s3.link(group.s3Transfers, localReads: inputOrder.compactMap { inputs[$0] }, localWrites: outputs)
        recorded.outputs = outputOrder.compactMap { outputs[$0] } + s3.outputs
        recorded.inputs = inputOrder.compactMap { inputs[$0] } + s3.inputs
        recorded.deletes = deletes + s3.deletes
        recorded.job.coverage = coverage
    }

    static func coverageWarning(kind: String, count: Int) -> String {
        switch kind {
        case "static-exec":
            "\(count) statically linked program(s) ran: their file I/O cannot be traced"
        case "unclosed_write":
            "\(count) file(s) were still open for writing when their process died; hashed as found"
        case "spool_records_skipped":
            "\(count) damaged spool record(s) skipped"
        case "spool_full":
            "\(count) record(s) not written: the file system of .roar/spool was full"
        case "lost":
            "\(count) record(s) could not be written to the spool"
        case "agent_lost":
            "\(count) node(s) made no complete final round: what they recorded after their last batch is missing"
        case "collector_lost":
            "the collector died before the job ended: every node's lineage after its spilled batches is missing"
        case "batch_lost":
            "\(count) batch(es) listed by the collector could not be downloaded"
        case "unresolved":
            "\(count) call(s) of a libc function the tracer could not find failed with ENOSYS (see the stderr line)"
        default:
            "\(count) event(s) not recorded: \(kind)"
        }
    }
}
