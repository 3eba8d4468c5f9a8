import Foundation
import RoarCore
import Testing

@testable import RoarExport

/// A run, a task it started, a nested task of that task (failed), a killed actor call, a still-running task,
/// with local files, an S3 object, a composite of 100 parts and odd names.
enum ExportFixture {
    static let project = "/home/me/proj"
    static let odd = project + "/data/we ird+na:me/\\xe9 x.csv"

    static let graph: LineageGraph = {
        let run = Job(
            uid: "0f0e0d0c0b0a0908", step: 1, role: .run, command: "python pipeline.py", cwd: project,
            git: GitState(commit: "abc123", branch: "main", isDirty: false), startedAt: 1_795_795_200.5,
            durationSeconds: 2.25, exitCode: 0, status: .ok, hostname: "host-a")
        let task = Job(
            uid: "1a2b3c4d5e6f7a8b", step: 2, role: .task, command: "pipeline.clean", startedAt: 1_795_795_201,
            durationSeconds: 0, status: .ok, parentUID: run.uid,
            ray: RayIdentity(taskID: "c8ef45", attempt: 0, nodeID: "n1", function: "pipeline.clean"))
        let nested = Job(
            uid: "2b3c4d5e6f7a8b9c", step: 3, role: .task, command: "pipeline.inner", startedAt: 1_795_795_201,
            durationSeconds: 0, status: .failed, parentUID: task.uid,
            ray: RayIdentity(taskID: "d9f0", attempt: 1, function: "pipeline.inner"), error: "ValueError: bad")
        let actor = Job(
            uid: "3c4d5e6f7a8b9c0d", step: 3, role: .actor, command: "pipeline.Counter.add", startedAt: 1_795_795_201,
            status: .killed, parentUID: run.uid,
            ray: RayIdentity(taskID: "e0", attempt: 0, actorID: "act1", function: "pipeline.Counter.add"))
        let running = Job(
            uid: "4d5e6f7a8b9c0d1e", step: 4, role: .task, command: "pipeline.slow", startedAt: 1_795_795_202,
            status: .running, parentUID: run.uid, ray: RayIdentity(taskID: "f1", attempt: 0, function: "pipeline.slow"))
        let raw = Ref(path: odd, hashes: ["blake3": String(repeating: "a", count: 64)], size: 10, capture: "native")
        let object = Ref(
            path: "s3://bucket/in/key+1 x.bin", kind: .s3,
            hashes: ["etag": "9b2cf535f27731c974343645a3985328", "s3_version_id": "null", "crc32": "AAAA"], size: 5,
            capture: "boto3")
        let parts = (0..<100).map { index in
            CompositeComponent(
                name: "part-\(index).parquet", algorithm: "blake3", digest: String(repeating: "c", count: 64),
                size: 7)
        }
        let dataset = Ref(
            path: project + "/out/ds", kind: .composite,
            hashes: [Composite.algorithm: String(repeating: "d", count: 64)],
            size: 700, capture: "composite", components: parts)
        let partRef = Ref(
            path: project + "/out/ds/part-0.parquet", hashes: ["blake3": String(repeating: "c", count: 64)], size: 7)
        return LineageGraph(
            jobs: [
                RecordedJob(job: run, outputs: [raw]),
                RecordedJob(
                    job: task, inputs: [raw, object], outputs: [partRef, dataset], deletes: [project + "/tmp.txt"]),
                RecordedJob(job: nested, inputs: [dataset]),
                RecordedJob(job: actor),
                RecordedJob(job: running, inputs: [raw]),
            ],
            edges: [
                LineageEdge(from: run.uid, to: task.uid, path: raw.path),
                LineageEdge(from: task.uid, to: nested.uid, path: dataset.path),
            ])
    }()
}

@Suite("OpenLineage export")
struct OpenLineageExportTests {
    let options = OpenLineageOptions(projectName: "proj", hostname: "fallback")

    func events() -> [OpenLineageEvent] { ExportFixture.graph.openLineageEvents(options: options) }

    func object(_ value: JSONValue) throws -> [String: JSONValue] {
        guard case .object(let object) = value else { throw Failure("not an object: \(value)") }
        return object
    }

    func lookup(_ value: JSONValue, _ path: String...) throws -> JSONValue {
        var current = value
        for key in path {
            current = try #require(try object(current)[key], "no \(key) in \(current)")
        }
        return current
    }

    struct Failure: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    @Test func uuidsAreStableVersion7AndDistinct() {
        let first = StableUUID.run(uid: "0f0e0d0c0b0a0908", startedAt: 1_795_795_200.5)
        #expect(first == StableUUID.run(uid: "0f0e0d0c0b0a0908", startedAt: 1_795_795_200.5))
        #expect(first != StableUUID.run(uid: "0f0e0d0c0b0a0909", startedAt: 1_795_795_200.5))
        let characters = Array(first)
        #expect(characters.count == 36)
        #expect(characters[14] == "7")
        #expect("89ab".contains(characters[19]))
        // The first 48 bits are the start in milliseconds: 1795795200500 = 0x01a2 0x0ba5 0x47f4.
        let milliseconds = String(1_795_795_200_500, radix: 16)
        let leading = String(repeating: "0", count: 12 - milliseconds.count) + milliseconds
        #expect(first.replacingOccurrences(of: "-", with: "").hasPrefix(leading))
    }

    @Test func exportingTwiceGivesTheSameBytes() {
        let once = ExportFixture.graph.openLineageNDJSON(options: options)
        #expect(once == ExportFixture.graph.openLineageNDJSON(options: options))
        #expect(once.split(separator: "\n").count == events().count)
    }

    @Test func timesAreRFC3339Microseconds() {
        #expect(Microseconds(seconds: 0).rfc3339 == "1970-01-01T00:00:00.000000Z")
        #expect(Microseconds(seconds: 1_795_795_200.5).rfc3339 == "2026-11-27T16:00:00.500000Z")
        #expect(Microseconds(seconds: 951_782_400.000001).rfc3339 == "2000-02-29T00:00:00.000001Z")
    }

    @Test func eventTimesIncreaseStrictlyEvenForEqualTimes() {
        let events = events()
        for (earlier, later) in zip(events, events.dropFirst()) {
            #expect(earlier.eventTime < later.eventTime)
            #expect(earlier.body.compactJSON() != later.body.compactJSON())
        }
        // Three jobs started at the same second and two of them ended then too: all moved apart.
        let times = Set(events.map(\.eventTime))
        #expect(times.count == events.count)
    }

    @Test func eachJobHasAStartThenOneTerminalEvent() {
        var types: [String: [OpenLineageEvent.EventType]] = [:]
        for event in events() { types[event.jobUID, default: []].append(event.eventType) }
        #expect(types["0f0e0d0c0b0a0908"] == [.start, .complete])
        #expect(types["2b3c4d5e6f7a8b9c"] == [.start, .fail])
        #expect(types["3c4d5e6f7a8b9c0d"] == [.start, .abort])
        #expect(types["4d5e6f7a8b9c0d1e"] == [.start])
    }

    @Test func parentFacetsPointToTheDriverAndTheParentTask() throws {
        let run = StableUUID.run(uid: "0f0e0d0c0b0a0908", startedAt: 1_795_795_200.5)
        let task = StableUUID.run(uid: "1a2b3c4d5e6f7a8b", startedAt: 1_795_795_201)
        let nested = try #require(events().first { $0.jobUID == "2b3c4d5e6f7a8b9c" && $0.eventType == .fail })
        let parent = try lookup(nested.body, "run", "facets", "parent")
        #expect(try lookup(parent, "run", "runId") == .string(task))
        #expect(try lookup(parent, "job", "name") == .string("pipeline.clean"))
        #expect(try lookup(parent, "root", "run", "runId") == .string(run))
        #expect(try lookup(parent, "root", "job", "name") == .string("python pipeline.py"))
        #expect(try lookup(parent, "root", "job", "namespace") == .string("roar://proj"))
        let driver = try #require(events().first { $0.jobUID == "0f0e0d0c0b0a0908" })
        #expect(try object(try lookup(driver.body, "run", "facets"))["parent"] == nil)
    }

    @Test func failuresCarryAnErrorMessageAndJobTypes() throws {
        let failed = try #require(events().first { $0.eventType == .fail })
        #expect(try lookup(failed.body, "run", "facets", "errorMessage", "message") == .string("ValueError: bad"))
        #expect(try lookup(failed.body, "run", "facets", "errorMessage", "programmingLanguage") == .string("PYTHON"))
        #expect(try lookup(failed.body, "job", "facets", "jobType", "jobType") == .string("TASK"))
        #expect(try lookup(failed.body, "job", "facets", "jobType", "integration") == .string("RAY"))
        let run = try #require(events().first { $0.jobUID == "0f0e0d0c0b0a0908" })
        #expect(try lookup(run.body, "job", "facets", "jobType", "integration") == .string("ROAR"))
        #expect(try lookup(run.body, "job", "facets", "jobType", "jobType") == .string("COMMAND"))
        #expect(try lookup(run.body, "run", "facets", "processing_engine", "name") == .string("roar"))
    }

    @Test func datasetsAreNamedByTheNamingSpecWithVersions() throws {
        let clean = try #require(events().first { $0.jobUID == "1a2b3c4d5e6f7a8b" && $0.eventType == .complete })
        guard case .array(let inputs) = try lookup(clean.body, "inputs") else { throw Failure("no inputs") }
        #expect(inputs.count == 2)
        #expect(try lookup(inputs[0], "namespace") == .string("file://host-a"))
        #expect(try lookup(inputs[0], "name") == .string(ExportFixture.odd))
        #expect(
            try lookup(inputs[0], "facets", "version", "datasetVersion")
                == .string("blake3:" + String(repeating: "a", count: 64)))
        #expect(try lookup(inputs[1], "namespace") == .string("s3://bucket"))
        #expect(try lookup(inputs[1], "name") == .string("in/key+1 x.bin"))
        // An unversioned bucket's version id `null` is no version: the ETag is.
        #expect(
            try lookup(inputs[1], "facets", "version", "datasetVersion")
                == .string("etag:9b2cf535f27731c974343645a3985328"))
        #expect(try lookup(inputs[1], "facets", "roar_hashes", "hashes", "crc32") == .string("AAAA"))
        guard case .array(let outputs) = try lookup(clean.body, "outputs") else { throw Failure("no outputs") }
        #expect(outputs.count == 3)
        #expect(try lookup(outputs[2], "facets", "lifecycleStateChange", "lifecycleStateChange") == .string("DROP"))
        let start = try #require(events().first { $0.jobUID == "1a2b3c4d5e6f7a8b" && $0.eventType == .start })
        #expect(try lookup(start.body, "inputs") == .array([]))
    }

    @Test func compositeFacetsAreCapped() throws {
        let clean = try #require(events().first { $0.jobUID == "1a2b3c4d5e6f7a8b" && $0.eventType == .complete })
        guard case .array(let outputs) = try lookup(clean.body, "outputs") else { throw Failure("no outputs") }
        let hashes = try lookup(outputs[1], "facets", "roar_hashes")
        #expect(try lookup(hashes, "componentCount") == .integer(100))
        guard case .array(let listed) = try lookup(hashes, "components") else { throw Failure("no components") }
        #expect(listed.count == 64)
        #expect(try lookup(outputs[1], "outputFacets", "outputStatistics", "fileCount") == .integer(100))
        #expect(clean.jsonLine().utf8.count < 64 * 1024)
    }

    @Test func manyDatasetsAreSplitIntoRunningEvents() {
        let job = Job(uid: "5e6f", step: 1, role: .run, command: "big", startedAt: 10, durationSeconds: 1, status: .ok)
        let inputs = (0..<1200).map { Ref(path: "/in/\($0)", hashes: ["blake3": "ab"]) }
        let graph = LineageGraph(jobs: [RecordedJob(job: job, inputs: inputs)], edges: [])
        let events = graph.openLineageEvents(options: options)
        #expect(events.map(\.eventType) == [.start, .running, .running, .complete])
        #expect(events.last?.jsonLine().contains("\"/in/1199\"") == true)
    }

    @Test func oddNamesSurviveTheLine() throws {
        let lines = ExportFixture.graph.openLineageNDJSON(options: options).split(separator: "\n")
        let line = try #require(lines.first { $0.contains("\"COMPLETE\"") && $0.contains("\"pipeline.clean\"") })
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
        #expect(decoded.compactJSON() == String(line))
        #expect(line.contains(#"we ird+na:me/\\xe9 x.csv"#))
        #expect(JSONValue.string("a\nb\"\u{1}").compactJSON() == #""a\nb\"\u0001""#)
    }

    @Test func stepSelectionTakesTheTasksBelow() {
        let graph = ExportFixture.graph
        #expect(Set(graph.jobs(inSteps: [1]).map(\.job.uid)) == Set(graph.jobs.map(\.job.uid)))
        #expect(graph.jobs(inSteps: [2]).map(\.job.uid) == ["1a2b3c4d5e6f7a8b", "2b3c4d5e6f7a8b9c"])
        #expect(graph.latestRunStep == 1)
    }
}

/// `/`, `+`, `:`, spaces and a non-UTF-8 byte (stored as `\xNN`, docs/store.md) in every format of RoarExport.
@Suite("Odd names in every format")
struct OddNamesTests {
    let graph = ExportFixture.graph
    let odd = ExportFixture.odd

    @Test func theDagDocumentKeepsThePath() throws {
        let document = try #require(try JSONSerialization.jsonObject(with: try graph.jsonData()) as? [String: Any])
        let jobs = try #require(document["jobs"] as? [[String: Any]])
        let outputs = try #require(jobs.first?["outputs"] as? [[String: Any]])
        #expect(outputs.first?["path"] as? String == odd)
    }

    @Test func diagramsQuoteIt() {
        #expect(graph.dot().contains(#""we ird+na:me/\\xe9 x.csv "#))
        #expect(graph.mermaid().contains(#"we ird+na:me/\xe9 x.csv"#))
    }

    @Test func openLineageAndPROVKeepIt() throws {
        let events = graph.openLineageEvents(options: OpenLineageOptions(projectName: "p", hostname: "h"))
        #expect(
            events.contains { $0.body.compactJSON().contains(#""name":"/home/me/proj/data/we ird+na:me/\\xe9 x.csv""#) }
        )
        let prov = graph.provJSON(options: PROVOptions(user: "me", hostname: "h"))
        #expect(prov.contains(#""roar:path":"/home/me/proj/data/we ird+na:me/\\xe9 x.csv""#))
        #expect(prov.contains("artifact:%2Fhome%2Fme%2Fproj%2Fdata%2Fwe%20ird%2Bna%3Ame%2F%5Cxe9%20x.csv.blake3-"))
    }
}
