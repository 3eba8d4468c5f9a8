public import RoarCore

/// Who and where a PROV export says ran the jobs (the store records the host of each run, not its user).
public struct PROVOptions: Sendable {
    /// The user the runs' agent is named after: the exporting user (`$USER`).
    public var user: String
    /// The host of runs that recorded none.
    public var hostname: String
    /// A job with more than this many input × output pairs gets no `wasDerivedFrom` (the attribute
    /// `roar:derivationsOmitted` says so): the relation is quadratic.
    public var maxDerivationsPerJob: Int

    public init(user: String, hostname: String, maxDerivationsPerJob: Int = 10_000) {
        self.user = user
        self.hostname = hostname
        self.maxDerivationsPerJob = max(0, maxDerivationsPerJob)
    }
}

/// The prefixes and id rules of the PROV-JSON export (`docs/prov.md`).
public enum PROVVocabulary {
    public static let prefixes: [String: String] = [
        "roar": "https://roar.dev/ns/prov#",
        "job": "urn:roar:job:",
        "artifact": "urn:roar:artifact:",
        "agent": "urn:roar:agent:",
    ]

    /// A local part that survives any name: bytes outside `A–Z a–z 0–9 . _ -` become `%XX` (UTF-8).
    public static func localPart(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                output.append(byte)
            default:
                output += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// `artifact:<path>.<algorithm>-<digest>`: one version of one path; `.seen-<job uid>` when unhashed.
    public static func entityID(path: String, digest: (algorithm: String, digest: String)?, seenBy uid: String)
        -> String
    {
        let version = digest.map { $0.algorithm + "-" + $0.digest } ?? "seen-" + uid
        return "artifact:" + localPart(path) + "." + localPart(version)
    }

    public static func activityID(uid: String) -> String { "job:" + localPart(uid) }

    public static func agentID(user: String, host: String) -> String { "agent:" + localPart(user + "@" + host) }
}

extension LineageGraph {
    /// The W3C PROV-JSON document of `selection` (every job when nil): jobs as activities, artifact
    /// versions as entities, `used`, `wasGeneratedBy`, `wasInformedBy` along edges, `wasDerivedFrom` within
    /// a job, `hadMember` for composites, `wasAssociatedWith` the agent of each run (user and host).
    public func provDocument(for selection: [RecordedJob]? = nil, options: PROVOptions) -> JSONValue {
        var builder = PROVBuilder(graph: self, options: options)
        return builder.document(for: selection ?? jobs)
    }

    /// `provDocument` as one line of JSON (keys sorted), ending in `\n`.
    public func provJSON(for selection: [RecordedJob]? = nil, options: PROVOptions) -> String {
        provDocument(for: selection, options: options).compactJSON() + "\n"
    }
}

struct PROVBuilder {
    let graph: LineageGraph
    let options: PROVOptions
    var entities: [String: [String: JSONValue]] = [:]
    var relations: [String: [String: JSONValue]] = [:]
    var counter = 0

    typealias Vocabulary = PROVVocabulary

    init(graph: LineageGraph, options: PROVOptions) {
        self.graph = graph
        self.options = options
    }

    static func qualifiedName(_ name: String) -> JSONValue {
        .object(["$": .string(name), "type": .string("prov:QUALIFIED_NAME")])
    }

    mutating func relate(_ kind: String, _ fields: [String: JSONValue]) {
        counter += 1
        relations[kind, default: [:]]["_:" + kind + String(counter)] = .object(fields)
    }

    mutating func document(for selection: [RecordedJob]) -> JSONValue {
        var index: [String: Job] = [:]
        for recorded in graph.jobs where index[recorded.job.uid] == nil { index[recorded.job.uid] = recorded.job }
        func root(_ job: Job) -> Job {
            var current = job
            var seen: Set<String> = [job.uid]
            while let parent = current.parentUID, let next = index[parent], seen.insert(parent).inserted {
                current = next
            }
            return current
        }
        var activities: [String: JSONValue] = [:]
        var agents: [String: JSONValue] = [:]
        let selected = Set(selection.map(\.job.uid))
        for recorded in selection {
            let job = recorded.job
            let activity = Vocabulary.activityID(uid: job.uid)
            let start = Microseconds(seconds: job.startedAt)
            let end = job.durationSeconds.map { Microseconds(seconds: job.startedAt + max(0, $0)) }
            var attributes: [String: JSONValue] = [
                "prov:startTime": .string(start.rfc3339),
                "prov:label": .string(job.ray?.function ?? job.command),
                "prov:type": Self.qualifiedName("roar:" + job.role.rawValue),
                "roar:uid": .string(job.uid),
                "roar:status": .string(job.status.rawValue),
                "roar:command": .string(job.command),
            ]
            if let end { attributes["prov:endTime"] = .string(end.rfc3339) }
            if let step = job.step { attributes["roar:step"] = .integer(Int64(step)) }
            if let code = job.exitCode { attributes["roar:exitCode"] = .integer(Int64(code)) }
            if let error = job.error { attributes["roar:error"] = .string(error) }
            if let cwd = job.cwd { attributes["roar:cwd"] = .string(cwd) }
            if let host = job.hostname { attributes["roar:hostname"] = .string(host) }
            if let parent = job.parentUID {
                attributes["roar:parent"] = Self.qualifiedName(Vocabulary.activityID(uid: parent))
            }
            if let git = job.git {
                attributes["roar:gitCommit"] = .string(git.commit)
                attributes["roar:gitDirty"] = .bool(git.isDirty)
            }
            if let ray = job.ray {
                attributes["roar:rayTaskId"] = .string(ray.taskID)
                attributes["roar:rayAttempt"] = .integer(Int64(ray.attempt))
                attributes["roar:rayFunction"] = .string(ray.function)
                if let value = ray.actorID { attributes["roar:rayActorId"] = .string(value) }
                if let value = ray.nodeID { attributes["roar:rayNodeId"] = .string(value) }
            }
            let inputs = recorded.inputs.map { declare($0, seenBy: job.uid) }
            let outputs = recorded.outputs.map { declare($0, seenBy: job.uid) }
            for entity in inputs {
                relate("used", ["prov:activity": .string(activity), "prov:entity": .string(entity)])
            }
            for entity in outputs {
                var fields: [String: JSONValue] = ["prov:entity": .string(entity), "prov:activity": .string(activity)]
                if let end { fields["prov:time"] = .string(end.rfc3339) }
                relate("wasGeneratedBy", fields)
            }
            if inputs.count * outputs.count > options.maxDerivationsPerJob {
                attributes["roar:derivationsOmitted"] = .bool(true)
            } else {
                for output in outputs {
                    for input in inputs where input != output {
                        relate(
                            "wasDerivedFrom",
                            [
                                "prov:generatedEntity": .string(output), "prov:usedEntity": .string(input),
                                "prov:activity": .string(activity),
                            ])
                    }
                }
            }
            let top = root(job)
            let host = top.hostname ?? options.hostname
            let agent = Vocabulary.agentID(user: options.user, host: host)
            if agents[agent] == nil {
                agents[agent] = .object([
                    "prov:type": Self.qualifiedName("prov:Person"),
                    "prov:label": .string(options.user + "@" + host),
                    "roar:user": .string(options.user), "roar:host": .string(host),
                ])
            }
            relate("wasAssociatedWith", ["prov:activity": .string(activity), "prov:agent": .string(agent)])
            activities[activity] = .object(attributes)
        }
        var informed: Set<[String]> = []
        for edge in graph.edges where selected.contains(edge.from) && selected.contains(edge.to) {
            guard edge.from != edge.to, informed.insert([edge.from, edge.to]).inserted else { continue }
            relate(
                "wasInformedBy",
                [
                    "prov:informed": .string(Vocabulary.activityID(uid: edge.to)),
                    "prov:informant": .string(Vocabulary.activityID(uid: edge.from)),
                ])
        }
        var document: [String: JSONValue] = [
            "prefix": .object(Vocabulary.prefixes.mapValues { .string($0) }),
            "activity": .object(activities),
            "agent": .object(agents),
            "entity": .object(entities.mapValues { .object($0) }),
        ]
        for (kind, records) in relations { document[kind] = .object(records.mapValues { $0 }) }
        return .object(document)
    }

    /// The entity id of `ref`, declared (with its hashes as attributes) on first sight; a composite's
    /// parts are declared too and linked with `hadMember`.
    mutating func declare(_ ref: Ref, seenBy uid: String) -> String {
        let id = Vocabulary.entityID(path: ref.path, digest: ref.primaryHash, seenBy: uid)
        guard entities[id] == nil else { return id }
        var attributes: [String: JSONValue] = [
            "prov:label": .string(ref.path),
            "roar:path": .string(ref.path),
            "roar:kind": .string(ref.kind.rawValue),
        ]
        for (algorithm, digest) in ref.hashes {
            attributes["roar:" + Vocabulary.localPart(algorithm)] = .string(digest)
        }
        if let size = ref.size { attributes["roar:size"] = .integer(size) }
        if ref.isClusterOnly { attributes["roar:clusterOnly"] = .bool(true) }
        if let components = ref.components {
            attributes["prov:type"] = Self.qualifiedName("prov:Collection")
            attributes["roar:componentCount"] = .integer(Int64(components.count))
        }
        entities[id] = attributes
        for component in ref.components ?? [] {
            let partPath = ref.path + "/" + component.name
            let part = Vocabulary.entityID(
                path: partPath, digest: (component.algorithm, component.digest), seenBy: uid)
            if entities[part] == nil {
                var partAttributes: [String: JSONValue] = [
                    "prov:label": .string(partPath), "roar:path": .string(partPath),
                    "roar:kind": .string(ref.path.hasPrefix("s3://") ? "s3" : "file"),
                    "roar:" + Vocabulary.localPart(component.algorithm): .string(component.digest),
                ]
                if let size = component.size { partAttributes["roar:size"] = .integer(size) }
                entities[part] = partAttributes
            }
            relate("hadMember", ["prov:collection": .string(id), "prov:entity": .string(part)])
        }
        return id
    }
}
