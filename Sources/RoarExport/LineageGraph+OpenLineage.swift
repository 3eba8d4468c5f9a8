public import RoarCore

/// One OpenLineage 2-0-2 RunEvent (`docs/openlineage.md`): the JSON body and the fields a sender or an
/// ingester sorts and batches by. `roar export --format openlineage` writes `jsonLine()` per event
/// (NDJSON); a client that POSTs to an OpenLineage endpoint sends the same bodies.
public struct OpenLineageEvent: Sendable, Equatable {
    public enum EventType: String, Sendable, CaseIterable {
        case start = "START"
        case running = "RUNNING"
        case complete = "COMPLETE"
        case fail = "FAIL"
        case abort = "ABORT"
    }

    public var eventType: EventType
    public var eventTime: Microseconds
    /// `run.runId`: `StableUUID.run(uid:startedAt:)` of the roar job.
    public var runID: String
    /// The roar job the event is about.
    public var jobUID: String
    public var body: JSONValue

    /// The event as one line of JSON, keys sorted (no trailing newline).
    public func jsonLine() -> String { body.compactJSON() }
}

/// What an export needs to know beyond the graph: names, the host, and the caps that keep events small.
public struct OpenLineageOptions: Sendable {
    /// The job namespace, `roar://<project folder name>`.
    public var jobNamespace: String
    /// The host of local files when the job's run recorded none (`file://<host>` dataset namespaces).
    public var hostname: String
    /// At most this many composite parts (and S3 byte ranges) are listed in a `roar_hashes` facet; the
    /// count is always complete.
    public var maxComponents: Int
    /// At most this many datasets (inputs, outputs and deletes together) per event; a job with more gets
    /// RUNNING events carrying the rest before its terminal event.
    public var maxDatasetsPerEvent: Int
    /// Commands (job names) and error messages are cut to this many characters.
    public var maxTextLength: Int

    public init(
        projectName: String, hostname: String, maxComponents: Int = 64, maxDatasetsPerEvent: Int = 500,
        maxTextLength: Int = 4096
    ) {
        self.jobNamespace = "roar://" + projectName
        self.hostname = hostname
        self.maxComponents = max(0, maxComponents)
        self.maxDatasetsPerEvent = max(1, maxDatasetsPerEvent)
        self.maxTextLength = max(16, maxTextLength)
    }
}

/// The URLs and names the OpenLineage export writes (`docs/openlineage.md`).
public enum OpenLineageVocabulary {
    /// roar's version, as `processing_engine` reports it.
    public static let roarVersion = "0.1.0"
    /// `producer` / `_producer` of every event and facet.
    public static let producer = "https://roar.dev/roar/" + roarVersion
    public static let runEventSchema = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    public static let parentFacet = "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet"
    public static let jobTypeFacet =
        "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
    public static let processingEngineFacet =
        "https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet"
    public static let errorMessageFacet =
        "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
    public static let versionFacet =
        "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
    public static let lifecycleFacet =
        "https://openlineage.io/spec/facets/1-0-1/LifecycleStateChangeDatasetFacet.json"
        + "#/$defs/LifecycleStateChangeDatasetFacet"
    public static let outputStatisticsFacet =
        "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json"
        + "#/$defs/OutputStatisticsOutputDatasetFacet"
    /// roar's own facets; their JSON Schemas are `docs/schemas/<name>.json`, `$id` the URL without the fragment.
    public static let hashesFacet =
        "https://roar.dev/spec/facets/1-0-0/RoarHashesDatasetFacet.json#/$defs/RoarHashesDatasetFacet"
    public static let jobFacet = "https://roar.dev/spec/facets/1-0-0/RoarJobRunFacet.json#/$defs/RoarJobRunFacet"

    /// Digests tried, in order, for the dataset `version` facet (`algorithm:digest`).
    public static let versionAlgorithms = ["blake3", Composite.algorithm, "sha256", "s3_version_id", "etag"]
}

extension LineageGraph {
    /// The jobs `@N` names for an export: the jobs of each step and every job below them (the Ray tasks
    /// whose parent chain leads to one of them), in history order.
    public func jobs(inSteps steps: Set<Int>) -> [RecordedJob] {
        var children: [String: [String]] = [:]
        for recorded in jobs {
            if let parent = recorded.job.parentUID { children[parent, default: []].append(recorded.job.uid) }
        }
        var selected: Set<String> = []
        var queue = jobs.filter { $0.job.step.map(steps.contains) ?? false }.map(\.job.uid)
        while let uid = queue.popLast() {
            guard selected.insert(uid).inserted else { continue }
            queue += children[uid] ?? []
        }
        return jobs.filter { selected.contains($0.job.uid) }
    }

    /// The step of the newest `roar run` (of any job when there is no run), or nil when nothing is recorded.
    public var latestRunStep: Int? {
        jobs.filter { $0.job.role == .run }.compactMap(\.job.step).max() ?? jobs.compactMap(\.job.step).max()
    }

    /// OpenLineage RunEvents for `selection` (every job when nil): per job a START and, unless it is still
    /// running, a COMPLETE (ok), FAIL (failed) or ABORT (killed, partial) carrying its datasets. Events come
    /// in time order with strictly increasing `eventTime`s (ties are moved apart by a microsecond each).
    /// Parents and roots are looked up in the whole graph, so a selection keeps its `parent` facets.
    public func openLineageEvents(for selection: [RecordedJob]? = nil, options: OpenLineageOptions)
        -> [OpenLineageEvent]
    {
        let builder = OpenLineageBuilder(graph: self, options: options)
        return builder.events(for: selection ?? jobs)
    }

    /// The same events, one at a time and in the same order, without holding them all: what a streamed
    /// export (`roar export`) or a batching sender uses on a large store.
    public func forEachOpenLineageEvent(
        for selection: [RecordedJob]? = nil, options: OpenLineageOptions,
        _ body: (OpenLineageEvent) throws -> Void
    ) rethrows {
        try OpenLineageBuilder(graph: self, options: options).forEachEvent(for: selection ?? jobs, body)
    }

    /// The events as NDJSON: one JSON object per line, each line ending in `\n`.
    public func openLineageNDJSON(for selection: [RecordedJob]? = nil, options: OpenLineageOptions) -> String {
        var text = ""
        forEachOpenLineageEvent(for: selection, options: options) { event in
            text += event.jsonLine()
            text += "\n"
        }
        return text
    }
}

/// Builds the events of `LineageGraph.openLineageEvents`; holds the uid index so that parents, roots and
/// hosts are found in constant time (a 100k-job store).
struct OpenLineageBuilder {
    let graph: LineageGraph
    let options: OpenLineageOptions
    let indexByUID: [String: Int]

    typealias Vocabulary = OpenLineageVocabulary

    init(graph: LineageGraph, options: OpenLineageOptions) {
        self.graph = graph
        self.options = options
        var index: [String: Int] = [:]
        index.reserveCapacity(graph.jobs.count)
        for (position, recorded) in graph.jobs.enumerated() where index[recorded.job.uid] == nil {
            index[recorded.job.uid] = position
        }
        indexByUID = index
    }

    func job(uid: String) -> Job? { indexByUID[uid].map { graph.jobs[$0].job } }

    /// The top of `job`'s parent chain (a cycle stops at the first repeat), as `LineageGraph.root(of:)`.
    func root(of job: Job) -> Job {
        var current = job
        var seen: Set<String> = [job.uid]
        while let parent = current.parentUID, let next = self.job(uid: parent), seen.insert(parent).inserted {
            current = next
        }
        return current
    }

    func runID(_ job: Job) -> String { StableUUID.run(uid: job.uid, startedAt: job.startedAt) }

    func jobName(_ job: Job) -> String {
        let name = job.ray?.function ?? job.command
        return capped(name.isEmpty ? job.uid : name)
    }

    func capped(_ text: String) -> String {
        guard text.count > options.maxTextLength else { return text }
        return String(text.prefix(options.maxTextLength - 1)) + "…"
    }

    func facet(_ schemaURL: String, _ fields: [String: JSONValue]) -> JSONValue {
        var object = fields
        object["_producer"] = .string(Vocabulary.producer)
        object["_schemaURL"] = .string(schemaURL)
        return .object(object)
    }

    // MARK: events

    /// One event to come: where it sits in time and which of its job's datasets it carries. Bodies are
    /// built only when the event is emitted, so a streamed export holds one body at a time.
    struct Slot {
        var time: Microseconds
        var jobPosition: Int
        var phase: Int
        var eventType: OpenLineageEvent.EventType
        /// The chunk of the job's datasets (`maxDatasetsPerEvent` each) the event carries; nil for none.
        var chunk: Int?
    }

    /// Every job's slots, in time order (time, history position, phase), before times are made strict.
    func slots(for selection: [RecordedJob]) -> [Slot] {
        var slots: [Slot] = []
        slots.reserveCapacity(selection.count * 2)
        for (position, recorded) in selection.enumerated() {
            let job = recorded.job
            let start = Microseconds(seconds: job.startedAt)
            let end = Microseconds(seconds: job.startedAt + max(0, job.durationSeconds ?? 0))
            let count = recorded.inputs.count + recorded.outputs.count + recorded.deletes.count
            let chunks = max(1, (count + options.maxDatasetsPerEvent - 1) / options.maxDatasetsPerEvent)
            guard let terminal = Self.terminalType(job.status) else {
                // Still running: the START is all there is, so it carries the datasets seen so far.
                for chunk in 0..<chunks {
                    slots.append(
                        Slot(
                            time: start, jobPosition: position, phase: chunk,
                            eventType: chunk == 0 ? .start : .running, chunk: chunk))
                }
                continue
            }
            slots.append(Slot(time: start, jobPosition: position, phase: 0, eventType: .start, chunk: nil))
            for chunk in 0..<chunks {
                slots.append(
                    Slot(
                        time: end, jobPosition: position, phase: chunk + 1,
                        eventType: chunk == chunks - 1 ? terminal : .running, chunk: chunk))
            }
        }
        slots.sort { ($0.time, $0.jobPosition, $0.phase) < ($1.time, $1.jobPosition, $1.phase) }
        return slots
    }

    /// Calls `body` with each event in order, building one at a time.
    func forEachEvent(for selection: [RecordedJob], _ body: (OpenLineageEvent) throws -> Void) rethrows {
        var previous = Int64.min
        for slot in slots(for: selection) {
            let time = Microseconds(previous == .min ? slot.time.value : max(slot.time.value, previous + 1))
            previous = time.value
            try body(event(selection[slot.jobPosition], slot: slot, time: time))
        }
    }

    func events(for selection: [RecordedJob]) -> [OpenLineageEvent] {
        var events: [OpenLineageEvent] = []
        forEachEvent(for: selection) { events.append($0) }
        return events
    }

    func event(_ recorded: RecordedJob, slot: Slot, time: Microseconds) -> OpenLineageEvent {
        let job = recorded.job
        var inputs: [JSONValue] = []
        var outputs: [JSONValue] = []
        if let chunk = slot.chunk {
            let host = self.root(of: job).hostname ?? options.hostname
            let first = chunk * options.maxDatasetsPerEvent
            let last = first + options.maxDatasetsPerEvent
            let outputStart = recorded.inputs.count
            let deleteStart = outputStart + recorded.outputs.count
            let end = min(last, deleteStart + recorded.deletes.count)
            for index in stride(from: first, to: end, by: 1) {
                if index < outputStart {
                    inputs.append(dataset(recorded.inputs[index], job: job, host: host, isInput: true))
                } else if index < deleteStart {
                    outputs.append(dataset(recorded.outputs[index - outputStart], job: job, host: host, isInput: false))
                } else {
                    outputs.append(deletedDataset(recorded.deletes[index - deleteStart], job: job, host: host))
                }
            }
        }
        var runFacets = self.runFacets(for: job)
        let isTerminal = slot.eventType == .fail || slot.eventType == .abort
        if isTerminal, let message = errorMessage(for: job) {
            runFacets["errorMessage"] = facet(
                Vocabulary.errorMessageFacet,
                [
                    "message": .string(capped(message)),
                    "programmingLanguage": .string(job.ray == nil ? "UNKNOWN" : "PYTHON"),
                ])
        }
        let runID = self.runID(job)
        let body: [String: JSONValue] = [
            "eventTime": .string(time.rfc3339),
            "eventType": .string(slot.eventType.rawValue),
            "producer": .string(Vocabulary.producer),
            "schemaURL": .string(Vocabulary.runEventSchema),
            "run": .object(["runId": .string(runID), "facets": .object(runFacets)]),
            "job": jobObject(for: job),
            "inputs": .array(inputs),
            "outputs": .array(outputs),
        ]
        return OpenLineageEvent(
            eventType: slot.eventType, eventTime: time, runID: runID, jobUID: job.uid, body: .object(body))
    }

    static func terminalType(_ status: Job.Status) -> OpenLineageEvent.EventType? {
        switch status {
        case .running: nil
        case .ok: .complete
        case .failed: .fail
        case .killed, .partial: .abort
        }
    }

    func errorMessage(for job: Job) -> String? {
        if let error = job.error, !error.isEmpty { return error }
        if let code = job.exitCode, code != 0 { return "exit status \(code)" }
        return job.status == .partial ? "the task's end was never seen" : nil
    }

    // MARK: run and job facets

    func runFacets(for job: Job) -> [String: JSONValue] {
        var facets: [String: JSONValue] = [
            "processing_engine": facet(
                Vocabulary.processingEngineFacet,
                [
                    "name": .string("roar"), "version": .string(Vocabulary.roarVersion),
                    "openlineageAdapterVersion": .string(Vocabulary.roarVersion),
                ]),
            "roar_job": roarJobFacet(for: job),
        ]
        if let parentUID = job.parentUID, let parent = self.job(uid: parentUID) {
            let root = self.root(of: parent)
            facets["parent"] = facet(
                Vocabulary.parentFacet,
                [
                    "run": .object(["runId": .string(runID(parent))]),
                    "job": jobReference(parent),
                    "root": .object(["run": .object(["runId": .string(runID(root))]), "job": jobReference(root)]),
                ])
        }
        return facets
    }

    func roarJobFacet(for job: Job) -> JSONValue {
        var fields: [String: JSONValue] = [
            "uid": .string(job.uid), "role": .string(job.role.rawValue), "status": .string(job.status.rawValue),
        ]
        if let step = job.step { fields["step"] = .integer(Int64(step)) }
        if let code = job.exitCode { fields["exitCode"] = .integer(Int64(code)) }
        if let parent = job.parentUID { fields["parentUid"] = .string(parent) }
        if let host = job.hostname { fields["hostname"] = .string(host) }
        if let cwd = job.cwd { fields["cwd"] = .string(cwd) }
        if job.ray == nil { fields["command"] = .string(capped(job.command)) }
        if let git = job.git {
            var gitFields: [String: JSONValue] = ["commit": .string(git.commit), "dirty": .bool(git.isDirty)]
            if let branch = git.branch { gitFields["branch"] = .string(branch) }
            fields["git"] = .object(gitFields)
        }
        if let ray = job.ray {
            var rayFields: [String: JSONValue] = [
                "taskId": .string(ray.taskID), "attempt": .integer(Int64(ray.attempt)),
                "function": .string(ray.function),
            ]
            if let value = ray.actorID { rayFields["actorId"] = .string(value) }
            if let value = ray.nodeID { rayFields["nodeId"] = .string(value) }
            if let value = ray.workerID { rayFields["workerId"] = .string(value) }
            if let value = ray.jobID { rayFields["jobId"] = .string(value) }
            fields["ray"] = .object(rayFields)
        }
        return facet(Vocabulary.jobFacet, fields)
    }

    func jobReference(_ job: Job) -> JSONValue {
        .object(["namespace": .string(options.jobNamespace), "name": .string(jobName(job))])
    }

    func jobObject(for job: Job) -> JSONValue {
        let type: String =
            switch job.role {
            case .run: "COMMAND"
            case .task: "TASK"
            case .actor: "ACTOR"
            }
        return .object([
            "namespace": .string(options.jobNamespace),
            "name": .string(jobName(job)),
            "facets": .object([
                "jobType": facet(
                    Vocabulary.jobTypeFacet,
                    [
                        "processingType": .string("BATCH"),
                        "integration": .string(job.ray == nil ? "ROAR" : "RAY"),
                        "jobType": .string(type),
                    ])
            ]),
        ])
    }

    // MARK: datasets

    /// The OpenLineage naming spec: local files `file://<host>` + absolute path, S3 `s3://<bucket>` + key.
    static func datasetName(path: String, host: String) -> (namespace: String, name: String) {
        guard path.hasPrefix("s3://") else { return ("file://" + host, path) }
        let rest = path.dropFirst(5)
        guard let slash = rest.firstIndex(of: "/") else { return ("s3://" + rest, "") }
        return ("s3://" + rest[..<slash], String(rest[rest.index(after: slash)...]))
    }

    func fileHost(for ref: Ref, job: Job, host: String) -> String {
        ref.isClusterOnly ? (job.hostname ?? host) : host
    }

    func dataset(_ ref: Ref, job: Job, host: String, isInput: Bool) -> JSONValue {
        let (namespace, name) = Self.datasetName(path: ref.path, host: fileHost(for: ref, job: job, host: host))
        var facets: [String: JSONValue] = ["roar_hashes": hashesFacet(for: ref)]
        if let version = Self.version(of: ref) {
            facets["version"] = facet(Vocabulary.versionFacet, ["datasetVersion": .string(version)])
        }
        var object: [String: JSONValue] = [
            "namespace": .string(namespace), "name": .string(name), "facets": .object(facets),
        ]
        if !isInput, let size = ref.size {
            var statistics: [String: JSONValue] = ["size": .integer(size)]
            statistics["fileCount"] = .integer(Int64(ref.components?.count ?? 1))
            object["outputFacets"] = .object(["outputStatistics": facet(Vocabulary.outputStatisticsFacet, statistics)])
        }
        return .object(object)
    }

    func deletedDataset(_ path: String, job: Job, host: String) -> JSONValue {
        let (namespace, name) = Self.datasetName(path: path, host: host)
        return .object([
            "namespace": .string(namespace), "name": .string(name),
            "facets": .object([
                "lifecycleStateChange": facet(Vocabulary.lifecycleFacet, ["lifecycleStateChange": .string("DROP")])
            ]),
        ])
    }

    /// `algorithm:digest` of the first of `versionAlgorithms` the ref has (an S3 version id `null`, as an
    /// unversioned bucket reports it, is no version).
    static func version(of ref: Ref) -> String? {
        for algorithm in Vocabulary.versionAlgorithms {
            if let digest = ref.hashes[algorithm], !digest.isEmpty, digest != "null" { return algorithm + ":" + digest }
        }
        return nil
    }

    func hashesFacet(for ref: Ref) -> JSONValue {
        var fields: [String: JSONValue] = [
            "kind": .string(ref.kind.rawValue),
            "hashes": .object(ref.hashes.mapValues { .string($0) }),
        ]
        if let size = ref.size { fields["size"] = .integer(size) }
        if let capture = ref.capture { fields["capture"] = .string(capture) }
        if ref.isClusterOnly { fields["clusterOnly"] = .bool(true) }
        if let ranges = ref.byteRanges {
            fields["byteRangeCount"] = .integer(Int64(ranges.count))
            fields["byteRanges"] = .array(
                ranges.prefix(options.maxComponents).map { .array($0.map { .integer($0) }) })
        }
        if let components = ref.components {
            fields["componentCount"] = .integer(Int64(components.count))
            fields["components"] = .array(
                components.prefix(options.maxComponents).map { component in
                    var part: [String: JSONValue] = [
                        "name": .string(component.name), "algorithm": .string(component.algorithm),
                        "digest": .string(component.digest),
                    ]
                    if let size = component.size { part["size"] = .integer(size) }
                    return .object(part)
                })
        }
        return facet(Vocabulary.hashesFacet, fields)
    }
}
