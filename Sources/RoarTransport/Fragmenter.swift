public import RoarCore

/// Turns a node's spool files into ``TaskFragment``s: one per job tag (the driver, each Ray task
/// or actor), grouped by the same rules as reconstitution (`docs/ray-events.md`). Ray's own
/// records (`ray-system` and other tags) are dropped as noise.
///
/// A fragmenter is the state of one producer: call ``fragments(from:writersHaveExited:)`` with
/// the whole spool each time; it returns only the fragments whose content changed since the last
/// call, numbered with the producer's next sequence numbers.
public struct Fragmenter: Sendable {
    public var sessionID: String
    /// Paths that are lineage; nil records every path.
    public var filter: PathFilter?
    /// The digest (BLAKE3, lowercase hex) of a file a task read, if it is still that version.
    /// The preload library does not hash reads; the agent does, on its node.
    public var readDigest: (@Sendable (_ path: String, _ version: FileVersion) -> String?)?
    /// The sequence number the next emitted fragment gets.
    public private(set) var nextSequenceNumber: UInt64
    /// What was last emitted per job uid (with sequence number 0), to emit only changes.
    private var lastEmitted: [String: TaskFragment] = [:]

    public init(
        sessionID: String, startingAt sequenceNumber: UInt64 = 0, filter: PathFilter? = nil,
        readDigest: (@Sendable (_ path: String, _ version: FileVersion) -> String?)? = nil
    ) {
        self.sessionID = sessionID
        self.nextSequenceNumber = sequenceNumber
        self.filter = filter
        self.readDigest = readDigest
    }

    /// The job uid of the driver's fragment (the empty tag) in this session.
    public var driverJobUID: String { SpoolTags.jobUID(sessionID: sessionID, tag: "") }

    /// Fragments for every job whose content changed since the previous call, driver first,
    /// then tasks ordered by tag.
    ///
    /// - Parameter writersHaveExited: every process that writes these spools is gone (the Ray job
    ///   ended): a task begun but never ended is then `killed` rather than `running`.
    public mutating func fragments(from spools: [SpoolReader.Contents], writersHaveExited: Bool = false)
        -> [TaskFragment]
    {
        var emitted: [TaskFragment] = []
        for var fragment in snapshot(of: spools, writersHaveExited: writersHaveExited) {
            if lastEmitted[fragment.jobUID] == fragment { continue }
            lastEmitted[fragment.jobUID] = fragment
            fragment.sequenceNumber = nextSequenceNumber
            nextSequenceNumber += 1
            emitted.append(fragment)
        }
        return emitted
    }

    // MARK: - Grouping

    /// Records attributed to one job, in the order they were read.
    struct Group {
        var tag: String
        var records: [SpoolRecord] = []
        var begins: [(event: RayTaskEvent, process: Int, nanoseconds: Int64)] = []
        var ends: [(event: RayTaskEvent, nanoseconds: Int64)] = []
        var driver: (event: RayTaskEvent, process: Int)?
        var firstNanoseconds: Int64 = .max
        var lastNanoseconds: Int64 = .min
    }

    /// Every job's fragment as the spools stand now (all with sequence number 0).
    func snapshot(of spools: [SpoolReader.Contents], writersHaveExited: Bool) -> [TaskFragment] {
        var groups: [String: Group] = [:]
        var processExited: [Bool] = []
        var processIDs: [Int?] = []
        var driverCoverage: [String: Int] = [:]
        var writtenDigests: [FileVersion: String] = [:]
        var submitters: [String: (taskID: String, attempt: Int)] = [:]
        var skippedRecords = 0

        for (process, spool) in spools.enumerated() {
            skippedRecords += spool.problems.count
            var exited = false
            var lastCounters: [String: Int] = [:]
            for record in spool.records {
                switch record {
                case .exit: exited = true
                case .coverage(_, let counters): lastCounters = counters
                case .file(let access):
                    if access.isWrite, let hash = access.hash, hash.algorithm == "blake3" {
                        writtenDigests[access.version] = hash.digest
                    }
                default: break
                }
                guard let (tag, nanoseconds) = SpoolTags.tagAndTime(of: record), SpoolTags.isJobTag(tag) else {
                    continue
                }
                var group = groups[tag] ?? Group(tag: tag)
                group.firstNanoseconds = min(group.firstNanoseconds, nanoseconds)
                group.lastNanoseconds = max(group.lastNanoseconds, nanoseconds)
                if case .event(_, _, let json) = record {
                    switch (try? RayTaskEvent.decode(json: json)) ?? nil {
                    case let event? where event.event == .taskBegin:
                        group.begins.append((event, process, nanoseconds))
                    case let event? where event.event == .taskEnd:
                        group.ends.append((event, nanoseconds))
                    case let event? where event.event == .driver:
                        group.driver = (event, process)
                    case let event? where event.event == .taskSubmit:
                        if let child = event.taskID, let parent = event.parentTaskID {
                            submitters[child] = (parent, event.parentAttempt ?? 0)
                        }
                    case nil:
                        skippedRecords += 1
                    default: break
                    }
                } else {
                    group.records.append(record)
                }
                groups[tag] = group
            }
            processExited.append(exited)
            processIDs.append(spool.header.map { Int($0.pid) })
            for (key, value) in lastCounters where SpoolTags.lossCounters.contains(key) && value > 0 {
                driverCoverage[key, default: 0] += value
            }
        }
        if skippedRecords > 0 { driverCoverage["spool_records_skipped"] = skippedRecords }

        var fragments: [TaskFragment] = []
        if groups[""] != nil || !driverCoverage.isEmpty {
            var fragment = driverFragment(
                for: groups[""] ?? Group(tag: ""), processExited: processExited, processIDs: processIDs,
                writersHaveExited: writersHaveExited)
            collectIO(of: groups[""]?.records ?? [], into: &fragment, writtenDigests: writtenDigests)
            fragment.coverage.merge(driverCoverage, uniquingKeysWith: +)
            fragments.append(fragment)
        }
        for (tag, group) in groups.sorted(by: { $0.key < $1.key }) where !tag.isEmpty {
            guard
                var fragment = taskFragment(
                    for: group, processExited: processExited, processIDs: processIDs,
                    writersHaveExited: writersHaveExited)
            else { continue }
            collectIO(of: group.records, into: &fragment, writtenDigests: writtenDigests)
            if fragment.functionName == nil && fragment.reads.isEmpty && fragment.writes.isEmpty && group.begins.isEmpty
            {
                continue  // a task tag with neither identity nor I/O: noise, as in reconstitution
            }
            if let taskID = fragment.rayTaskID, let submitter = submitters[taskID] {
                let parentUID = SpoolTags.jobUID(
                    sessionID: sessionID, tag: "ray:\(submitter.taskID):\(submitter.attempt)")
                if parentUID != fragment.jobUID { fragment.parentJobUID = parentUID }
            }
            fragments.append(fragment)
        }
        return fragments
    }

    func driverFragment(for group: Group, processExited: [Bool], processIDs: [Int?], writersHaveExited: Bool)
        -> TaskFragment
    {
        let driverProcess = group.driver?.process
        let hasExited = driverProcess.map { processExited[$0] } ?? false
        var status = TaskFragment.Status.running
        if hasExited {
            status = .ok
        } else if writersHaveExited && driverProcess != nil {
            status = .killed
        }
        let started = group.firstNanoseconds == .max ? nil : Self.seconds(group.firstNanoseconds)
        return TaskFragment(
            sessionID: sessionID, jobUID: driverJobUID, rayNodeID: group.driver?.event.nodeID,
            rayJobID: group.driver?.event.jobID,
            pid: group.driver?.event.pid ?? driverProcess.flatMap { processIDs[$0] }, startedAt: started,
            endedAt: hasExited ? Self.seconds(group.lastNanoseconds) : nil, status: status,
            error: status == .killed ? "driver process died" : nil, isFinal: hasExited)
    }

    func taskFragment(for group: Group, processExited: [Bool], processIDs: [Int?], writersHaveExited: Bool)
        -> TaskFragment?
    {
        let tag = group.tag
        let begin = group.begins.first
        let tagIdentity = SpoolTags.taskIdentity(ofTag: tag)
        let taskID = begin?.event.taskID ?? tagIdentity?.taskID
        let actorID = begin?.event.actorID ?? SpoolTags.actorID(ofTag: tag)
        guard taskID != nil || actorID != nil else { return nil }

        let endedTaskIDs = Set(group.ends.compactMap { $0.event.taskID })
        let unfinished = group.begins.filter { !endedTaskIDs.contains($0.event.taskID ?? "") }
        let failed = group.ends.first { $0.event.status == "failed" }
        let isFinal = begin != nil && unfinished.isEmpty
        var status = TaskFragment.Status.running
        var error: String?
        if let failed, unfinished.isEmpty {
            status = .failed
            error = failed.event.error
        } else if isFinal {
            status = .ok
        } else if writersHaveExited {
            // Begun and never ended (or never seen beginning) once every writer is gone: the worker died.
            status = .killed
            error = "worker process died before the task ended"
        }
        let startedNanoseconds = group.begins.map(\.nanoseconds).min() ?? group.firstNanoseconds
        let endedNanoseconds = isFinal ? group.ends.map(\.nanoseconds).max() : nil
        return TaskFragment(
            sessionID: sessionID, jobUID: SpoolTags.jobUID(sessionID: sessionID, tag: tag),
            rayTaskID: taskID, rayAttempt: begin?.event.attempt ?? tagIdentity?.attempt, rayActorID: actorID,
            rayNodeID: begin?.event.nodeID, rayWorkerID: begin?.event.workerID, rayJobID: begin?.event.jobID,
            functionName: begin?.event.function,
            pid: begin?.event.pid ?? begin.flatMap { processIDs[$0.process] },
            startedAt: startedNanoseconds == .max ? nil : Self.seconds(startedNanoseconds),
            endedAt: endedNanoseconds.map(Self.seconds), status: status, error: error, isFinal: isFinal)
    }

    static func seconds(_ nanoseconds: Int64) -> Double { Double(nanoseconds) / 1e9 }

    // MARK: - Reads and writes

    /// What one job read and wrote: files written (renames followed, deletes removed), files read
    /// that the job did not write itself, and coverage warnings. Truncates, hard links and writes
    /// left open are not resolved here (they need the file on disk; see `docs/fragment-format.md`).
    func collectIO(of records: [SpoolRecord], into fragment: inout TaskFragment, writtenDigests: [FileVersion: String])
    {
        var writes: [String: FragmentRef] = [:]
        var writeOrder: [String] = []
        var reads: [String: FragmentRef] = [:]
        var readOrder: [String] = []
        var ownVersions: Set<FileVersion> = []
        let isRecorded: (String) -> Bool = { path in filter?.isRecorded(path) ?? true }

        func setWrite(_ ref: FragmentRef) {
            if writes[ref.path] == nil { writeOrder.append(ref.path) }
            writes[ref.path] = ref
        }

        let ordered = records.enumerated().sorted {
            let left = SpoolTags.tagAndTime(of: $0.element)?.nanoseconds ?? 0
            let right = SpoolTags.tagAndTime(of: $1.element)?.nanoseconds ?? 0
            return left == right ? $0.offset < $1.offset : left < right
        }
        for (_, record) in ordered {
            switch record {
            case .file(let access):
                guard isRecorded(access.path) else { continue }
                if access.isWrite {
                    ownVersions.insert(access.version)
                    var hashes: [String: String] = [:]
                    if let hash = access.hash { hashes[hash.algorithm] = hash.digest }
                    setWrite(
                        FragmentRef(
                            path: access.path, hashes: hashes, size: access.version.size, capture: "native",
                            version: access.version))
                } else if access.isRead {
                    if ownVersions.contains(access.version) { continue }
                    let key = "\(access.path)\u{0}\(access.version.modifiedNanoseconds):\(access.version.inode)"
                    if reads[key] != nil { continue }
                    var hashes: [String: String] = [:]
                    if let digest = writtenDigests[access.version] ?? readDigest?(access.path, access.version) {
                        hashes["blake3"] = digest
                    }
                    reads[key] = FragmentRef(
                        path: access.path, hashes: hashes, size: access.version.size, capture: "native",
                        version: access.version)
                    readOrder.append(key)
                }
            case .rename(_, _, let from, let to):
                guard var moved = writes.removeValue(forKey: from) else { continue }
                writeOrder.removeAll { $0 == from }
                moved.path = to
                if isRecorded(to) { setWrite(moved) }
            case .delete(_, _, let path):
                if writes.removeValue(forKey: path) != nil { writeOrder.removeAll { $0 == path } }
            case .warning(_, _, let kind, _):
                fragment.coverage[kind, default: 0] += 1
            case .openForWrite, .truncate, .link, .exec, .spawn, .event, .header, .coverage, .exit:
                continue
            }
        }
        fragment.writes = writeOrder.compactMap { writes[$0] }
        fragment.reads = readOrder.compactMap { reads[$0] }
    }
}
