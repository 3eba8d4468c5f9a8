import RoarCore
import RoarExport

/// How the events of one OpenLineage run become one roar job (a `roar.dag/1`-shaped document): each event
/// is folded into what the earlier ones left (OpenLineage's accumulative mode: a run's datasets are the
/// union over its events; the terminal event decides the status), so START and COMPLETE may come in any
/// order, in separate requests, and any number of times — the same events give the same document.
///
/// roar's own events (a `roar_job` run facet) come back as the job they were exported from: its uid, step,
/// role, parent, command or Ray function, and each dataset's path, kind and every digest (`roar_hashes`).
/// Any other producer's run becomes a job `ol-<runId>` of role `run`; its document keeps the OpenLineage
/// identity under `openlineage` (`namespace`, `name`, `run_id`, `producer`, the event types seen).
enum OpenLineageRunDocument {
    /// The job `event` makes when folded into `existing` (the stored document, nil for a new run); nil when
    /// the stored job was registered by `roar register` (no `openlineage` key): its own record is richer
    /// than what an event carries, so it is left alone.
    static func fold(_ event: OpenLineageRunEvent, into existing: String?) -> RegisteredJob? {
        var document: [String: JSONValue] = [:]
        if let existing {
            guard let stored = JSONValue.decode(json: existing)?.objectValue, stored["openlineage"] != nil else {
                return nil
            }
            document = stored
        }
        var lineage = document["openlineage"]?.objectValue ?? [:]
        lineage["run_id"] = .string(event.runID)
        lineage["namespace"] = .string(event.jobNamespace)
        lineage["name"] = .string(event.jobName)
        if let producer = event.producer { lineage["producer"] = .string(producer) }
        var types = Set((lineage["event_types"]?.arrayValue ?? []).compactMap(\.stringValue))
        types.insert(event.eventType.rawValue)
        lineage["event_types"] = .array(types.sorted().map(JSONValue.string))
        let time = event.eventTime.value
        func earliest(_ key: String) {
            let known = lineage[key].flatMap(Self.integer)
            lineage[key] = .integer(min(known ?? time, time))
        }
        earliest("first_time_us")
        if event.eventType == .start { earliest("start_time_us") }
        if event.eventType.isTerminal, time >= (lineage["end_time_us"].flatMap(Self.integer) ?? .min) {
            lineage["end_time_us"] = .integer(time)
            lineage["terminal"] = .string(event.eventType.rawValue)
        }
        if let message = event.runFacets["errorMessage"]?.objectValue?["message"]?.stringValue {
            document["error"] = .string(message)
        }
        let roarJob = event.runFacets["roar_job"]?.objectValue
        applyJobFields(roarJob, event: event, lineage: lineage, to: &document)
        document["openlineage"] = .object(lineage)
        mergeDatasets(event, into: &document)
        return registeredJob(document)
    }

    static func integer(_ value: JSONValue) -> Int64? {
        if case .integer(let number) = value { return number }
        return nil
    }

    /// The job's own fields: from roar's `roar_job` facet when the event has one, else from the OpenLineage
    /// identity. Times from the events (START's time, else the first seen; the terminal event's for the end).
    static func applyJobFields(
        _ roarJob: [String: JSONValue]?, event: OpenLineageRunEvent, lineage: [String: JSONValue],
        to document: inout [String: JSONValue]
    ) {
        let terminal = lineage["terminal"]?.stringValue.flatMap(OpenLineageRunEvent.EventType.init(rawValue:))
        let status: String =
            switch terminal {
            case .complete: "ok"
            case .fail: "failed"
            case .abort: "killed"
            default: "running"
            }
        let start =
            lineage["start_time_us"].flatMap(integer) ?? lineage["first_time_us"].flatMap(integer) ?? 0
        document["started_at"] = .number(Double(start) / 1_000_000)
        if let end = lineage["end_time_us"].flatMap(integer) {
            document["duration_s"] = .number(Double(max(0, end - start)) / 1_000_000)
        }
        document["coverage"] = document["coverage"] ?? .object([:])
        let uid = uid(of: event)
        guard let roarJob, uid != foreignUID(runID: event.runID) else {
            document["uid"] = .string(foreignUID(runID: event.runID))
            document["role"] = .string("run")
            document["status"] = .string(status)
            document["command"] = .string(event.jobName)
            if let parent = event.runFacets["parent"]?.objectValue?["run"]?.objectValue?["runId"]?.stringValue {
                document["parent_uid"] = .string(foreignUID(runID: parent.lowercased()))
            }
            return
        }
        document["uid"] = .string(uid)
        let role = roarJob["role"]?.stringValue.flatMap(Job.Role.init(rawValue:))?.rawValue ?? "run"
        document["role"] = .string(role)
        document["status"] = .string(
            roarJob["status"]?.stringValue.flatMap(Job.Status.init(rawValue:))?.rawValue ?? status)
        if let step = roarJob["step"], case .integer = step { document["step"] = step }
        if let code = roarJob["exitCode"], case .integer = code { document["exit_code"] = code }
        for (facetKey, documentKey) in [("parentUid", "parent_uid"), ("hostname", "hostname"), ("cwd", "cwd")] {
            if let text = roarJob[facetKey]?.stringValue { document[documentKey] = .string(text) }
        }
        if let git = roarJob["git"]?.objectValue, let commit = git["commit"]?.stringValue {
            var fields: [String: JSONValue] = ["commit": .string(commit), "dirty": git["dirty"] ?? .bool(false)]
            if let branch = git["branch"] { fields["branch"] = branch }
            document["git"] = .object(fields)
        }
        if let ray = roarJob["ray"]?.objectValue, let function = ray["function"]?.stringValue {
            var fields: [String: JSONValue] = ["function": .string(function), "attempt": ray["attempt"] ?? .integer(0)]
            for (facetKey, documentKey) in [
                ("taskId", "task_id"), ("actorId", "actor_id"), ("nodeId", "node_id"), ("workerId", "worker_id"),
                ("jobId", "job_id"),
            ] {
                fields[documentKey] = ray[facetKey] ?? .null
            }
            document["ray"] = .object(fields)
        }
        document["command"] = .string(roarJob["command"]?.stringValue ?? event.jobName)
        // The export writes an error message roar never recorded for a non-zero exit or a lost task end:
        // the job as recorded has none.
        let derived = [
            document["exit_code"].flatMap(integer).map { "exit status \($0)" },
            document["status"] == .string("partial") ? "the task's end was never seen" : nil,
        ]
        if let error = document["error"]?.stringValue, derived.contains(error) { document["error"] = .null }
    }

    /// The job an event is about: the roar job of a `roar_job` facet, else `ol-<runId>`.
    static func uid(of event: OpenLineageRunEvent) -> String {
        if let uid = event.runFacets["roar_job"]?.objectValue?["uid"]?.stringValue, FieldReader.isIdentifier(uid) {
            return uid
        }
        return foreignUID(runID: event.runID)
    }

    /// `ol-` and the run id: a uid (`[A-Za-z0-9_.-]`, at most 128) that says where the job came from.
    static func foreignUID(runID: String) -> String { foreignPrefix + runID }

    static let foreignPrefix = "ol-"

    /// Adds the event's datasets to the document's `inputs`, `outputs` and `deletes` (an output with a
    /// `lifecycleStateChange` of `DROP`): one entry per path and direction, a later one replacing the earlier
    /// in place, so re-sent events change nothing.
    static func mergeDatasets(_ event: OpenLineageRunEvent, into document: inout [String: JSONValue]) {
        var inputs = document["inputs"]?.arrayValue ?? []
        var outputs = document["outputs"]?.arrayValue ?? []
        var deletes = Set((document["deletes"]?.arrayValue ?? []).compactMap(\.stringValue))
        func upsert(_ reference: JSONValue, into list: inout [JSONValue]) {
            let path = reference.objectValue?["path"]?.stringValue
            if let index = list.firstIndex(where: { $0.objectValue?["path"]?.stringValue == path }) {
                list[index] = reference
            } else {
                list.append(reference)
            }
        }
        for dataset in event.inputs { upsert(reference(dataset), into: &inputs) }
        for dataset in event.outputs {
            let change = dataset.facets["lifecycleStateChange"]?.objectValue?["lifecycleStateChange"]?.stringValue
            if change == "DROP" {
                deletes.insert(OpenLineageDatasetName.path(namespace: dataset.namespace, name: dataset.name).path)
            } else {
                upsert(reference(dataset), into: &outputs)
            }
        }
        document["inputs"] = .array(inputs)
        document["outputs"] = .array(outputs)
        document["deletes"] = .array(deletes.sorted().map(JSONValue.string))
    }

    /// A dataset as a `roar.dag/1` ref: roar's `roar_hashes` facet when there is one (every digest, kind,
    /// size, parts), else the `version` facet as the digest (`algorithm:hex` when it has that shape) and
    /// `outputStatistics.size`.
    static func reference(_ dataset: OpenLineageRunEvent.Dataset) -> JSONValue {
        let (path, kindFromName) = OpenLineageDatasetName.path(namespace: dataset.namespace, name: dataset.name)
        var reference: [String: JSONValue] = ["path": .string(path), "kind": .string(kindFromName)]
        reference["openlineage"] = .object(["namespace": .string(dataset.namespace), "name": .string(dataset.name)])
        if let size = dataset.outputFacets["outputStatistics"]?.objectValue?["size"], case .integer = size {
            reference["size"] = size
        }
        var hashes: [String: JSONValue] = [:]
        if let roar = dataset.facets["roar_hashes"]?.objectValue {
            if let kind = roar["kind"]?.stringValue, Ref.Kind(rawValue: kind) != nil {
                reference["kind"] = .string(kind)
            }
            for (algorithm, digest) in roar["hashes"]?.objectValue ?? [:] where digest.stringValue != nil {
                hashes[algorithm] = digest
            }
            if let size = roar["size"], case .integer = size { reference["size"] = size }
            if let capture = roar["capture"]?.stringValue { reference["capture"] = .string(capture) }
            if roar["clusterOnly"] == .bool(true) { reference["cluster_only"] = .bool(true) }
            if let ranges = roar["byteRanges"] { reference["byte_ranges"] = ranges }
            if let parts = roar["components"]?.arrayValue {
                reference["components"] = .array(
                    parts.compactMap { part -> JSONValue? in
                        guard let fields = part.objectValue, let name = fields["name"]?.stringValue,
                            let algorithm = fields["algorithm"]?.stringValue, let digest = fields["digest"]
                        else { return nil }
                        var component: [String: JSONValue] = [
                            "name": .string(name), "hashes": .object([algorithm: digest]),
                        ]
                        if let size = fields["size"] { component["size"] = size }
                        return .object(component)
                    })
            }
        } else if let version = dataset.facets["version"]?.objectValue?["datasetVersion"]?.stringValue,
            !version.isEmpty
        {
            let parts = version.split(separator: ":", maxSplits: 1).map(String.init)
            let knownAlgorithms = OpenLineageVocabulary.versionAlgorithms + ["crc32"]
            if parts.count == 2, knownAlgorithms.contains(parts[0]), !parts[1].isEmpty {
                hashes[parts[0]] = .string(parts[1])
            } else {
                hashes["version"] = .string(version)
            }
        }
        reference["hashes"] = .object(hashes)
        return .object(reference)
    }

    /// The columns the server queries, from the folded document.
    static func registeredJob(_ document: [String: JSONValue]) -> RegisteredJob {
        var references: [RegisteredReference] = []
        for (key, direction) in [("inputs", RegisteredReference.Direction.input), ("outputs", .output)] {
            for item in document[key]?.arrayValue ?? [] {
                guard let fields = item.objectValue, let path = fields["path"]?.stringValue, !path.isEmpty else {
                    continue
                }
                let hashes = (fields["hashes"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
                let size: Int64? = fields["size"].flatMap(integer)
                references.append(
                    RegisteredReference(
                        direction: direction, path: path, kind: fields["kind"]?.stringValue ?? "file",
                        digest: mainDigest(hashes), size: size))
            }
        }
        for deleted in (document["deletes"]?.arrayValue ?? []).compactMap(\.stringValue) where !deleted.isEmpty {
            references.append(
                RegisteredReference(direction: .delete, path: deleted, kind: "file", digest: nil, size: nil))
        }
        let startedAt: Double =
            switch document["started_at"] {
            case .number(let value): value
            case .integer(let value): Double(value)
            default: 0
            }
        return RegisteredJob(
            uid: document["uid"]?.stringValue ?? "", parentUID: document["parent_uid"]?.stringValue,
            step: document["step"].flatMap(integer).map(Int.init), role: document["role"]?.stringValue ?? "run",
            status: document["status"]?.stringValue ?? "running", command: document["command"]?.stringValue ?? "",
            function: document["ray"]?.objectValue?["function"]?.stringValue, startedAt: startedAt,
            references: references, document: JSONValue.object(document).jsonText)
    }

    /// The digest the server files a ref under: as `roar register` picks it (`blake3`, `blake3_merkle`,
    /// `sha256`, `etag`), else a foreign producer's `version`.
    static func mainDigest(_ hashes: [String: String]) -> String? {
        for algorithm in ["blake3", "blake3_merkle", "sha256", "etag", "version"] {
            if let digest = hashes[algorithm] {
                return algorithm == "version" && digest.contains(":") ? digest : algorithm + ":" + digest
            }
        }
        return nil
    }
}
