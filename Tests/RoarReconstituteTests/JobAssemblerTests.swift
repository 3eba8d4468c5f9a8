import Foundation
import Testing

@testable import RoarCore
@testable import RoarReconstitute

/// Digests of files "on disk" for these tests: the resolver is roar's view of the host's files.
struct FixedFiles: ReadDigestResolver {
    var files: [String: (digest: String, version: FileVersion)]

    func currentDigest(ofPath path: String, ifVersion version: FileVersion?) -> (digest: String, version: FileVersion)?
    {
        guard let file = files[path] else { return nil }
        if let version, version != file.version { return nil }
        return file
    }
}

@Suite("Job assembly from spools")
struct JobAssemblerTests {
    static let project = "/w/proj"
    static let digestA = String(repeating: "a", count: 64)
    static let digestB = String(repeating: "b", count: 64)
    static let scriptDigest = String(repeating: "5", count: 64)

    static func version(_ inode: UInt64, _ size: Int64 = 3, _ mtime: Int64 = 100) -> FileVersion {
        FileVersion(device: 1, inode: inode, size: size, modifiedNanoseconds: mtime)
    }

    static func line(_ fields: [String]) -> String { fields.joined(separator: "\t") + "\n" }

    static func fileLine(
        tag: String, at: Int64, mode: String, read: Int64 = 0, written: Int64 = 0, version: FileVersion,
        hash: String = "-", path: String
    ) -> String {
        line([
            "F", tag, String(at - 1), String(at), mode, String(read), String(written), String(version.device),
            String(version.inode), String(version.size), String(version.modifiedNanoseconds), hash, path,
        ])
    }

    static func event(_ tag: String, at: Int64, _ json: String) -> String {
        line(["E", tag, String(at), json])
    }

    static func begin(_ task: String, attempt: Int = 0, function: String, parent: String? = nil) -> String {
        let parentJSON = parent.map { "\"\($0)\"" } ?? "null"
        return """
            {"event":"task_begin","v":1,"tag":"ray:\(task):\(attempt)","task_id":"\(task)","attempt":\(attempt),\
            "kind":"task","function":"\(function)","actor_id":null,"parent_task_id":\(parentJSON),\
            "node_id":"n1","worker_id":"w1","job_id":"01000000","pid":7}
            """
    }

    static func end(_ task: String, attempt: Int = 0, status: String = "ok", error: String? = nil) -> String {
        let errorJSON = error.map { "\"\($0)\"" } ?? "null"
        return """
            {"event":"task_end","v":1,"tag":"ray:\(task):\(attempt)","task_id":"\(task)","attempt":\(attempt),\
            "status":"\(status)","error":\(errorJSON)}
            """
    }

    func assemble(_ spools: [String], files: FixedFiles = FixedFiles(files: [:])) -> JobAssembler.Result {
        let root = Job(
            uid: "root000000000000", role: .run, command: "python pipeline.py", cwd: Self.project, startedAt: 1,
            status: .ok)
        let assembler = JobAssembler(
            root: root, runID: "run1", filter: PathFilter(projectDirectory: Self.project), resolver: files)
        return assembler.assemble(spools.enumerated().map { SpoolReader.parse(Array($1.utf8), file: "p\($0).spool") })
    }

    @Test func anUndecodableEventIsReportedWithItsFileAndLine() throws {
        let worker =
            Self.line(["H", "1", "7", "1", "0", "/usr/bin/python3", Self.project])
            + Self.event("ray:t1:0", at: 10, Self.begin("t1", function: "pipeline.produce"))
            + Self.event("ray:t1:0", at: 11, #"{"event":"task_end","v":1,"tag":"ray:t1:0","attempt":"zero"}"#)
            + Self.event("ray:t1:0", at: 12, "{not json")
            + Self.event("ray:t1:0", at: 13, #"{"event":"a_kind_from_a_newer_roar","v":1}"#)
        let result = assemble([worker])
        #expect(result.problems.count == 2, "\(result.problems)")
        let wrongType = try #require(result.problems.first { $0.line == 3 })
        #expect(wrongType.file == "p0.spool")
        #expect(wrongType.kind == .corrupt)
        #expect(wrongType.detail.hasPrefix("undecodable E event (attempt: "), "\(wrongType.detail)")
        let notJSON = try #require(result.problems.first { $0.line == 4 })
        #expect(notJSON.file == "p0.spool")
        #expect(notJSON.detail.hasSuffix("{not json"))
    }

    @Test func tasksBecomeJobsWithTheirOwnIOAndOrder() throws {
        let header = Self.line(["H", "1", "7", "1", "0", "/usr/bin/python3", Self.project])
        let driver =
            Self.line(["H", "1", "5", "1", "0", "/usr/bin/python3", Self.project])
            + Self.fileLine(
                tag: "", at: 2, mode: "r", read: 50, version: Self.version(9, 50), path: "\(Self.project)/pipeline.py")
            + Self.fileLine(
                tag: "ray-system", at: 3, mode: "w", written: 9, version: Self.version(10),
                hash: "blake3:" + Self.digestA, path: "/tmp/ray/session/log")
            + Self.line(["Z", "99"])
        let worker =
            header
            + Self.event("ray:t1:0", at: 10, Self.begin("t1", function: "pipeline.produce"))
            + Self.fileLine(
                tag: "ray:t1:0", at: 11, mode: "wct", written: 3, version: Self.version(20),
                hash: "blake3:" + Self.digestA, path: "\(Self.project)/a.txt")
            + Self.event("ray:t1:0", at: 12, Self.end("t1"))
            + Self.event("ray:t2:0", at: 20, Self.begin("t2", function: "pipeline.consume"))
            + Self.fileLine(
                tag: "ray:t2:0", at: 21, mode: "r", read: 3, version: Self.version(20), path: "\(Self.project)/a.txt")
            + Self.fileLine(
                tag: "ray:t2:0", at: 22, mode: "wct", written: 3, version: Self.version(21),
                hash: "blake3:" + Self.digestB, path: "\(Self.project)/b.txt")
            + Self.event("ray:t2:0", at: 23, Self.end("t2", status: "failed", error: "ValueError: boom"))
            + Self.line(["Z", "30"])
        let files = FixedFiles(files: ["\(Self.project)/pipeline.py": (Self.scriptDigest, Self.version(9, 50))])
        let result = assemble([driver, worker], files: files)

        #expect(result.problems.isEmpty)
        #expect(result.droppedRecordsByTag["ray-system"] == 1)
        #expect(result.jobs.count == 3)
        let root = result.jobs[0]
        #expect(root.job.role == .run)
        #expect(root.inputs.map(\.path) == ["\(Self.project)/pipeline.py"])
        #expect(root.inputs.first?.hashes["blake3"] == Self.scriptDigest)
        #expect(root.outputs.isEmpty)

        let produce = try #require(result.jobs.first { $0.job.ray?.function == "pipeline.produce" })
        let consume = try #require(result.jobs.first { $0.job.ray?.function == "pipeline.consume" })
        #expect(produce.job.step == 1)
        #expect(consume.job.step == 2)
        #expect(produce.job.parentUID == root.job.uid)
        #expect(produce.outputs.map(\.path) == ["\(Self.project)/a.txt"])
        #expect(produce.outputs.first?.hashes == ["blake3": Self.digestA])
        // The read is matched to the version the producer wrote, and takes its digest from it.
        #expect(consume.inputs.map(\.path) == ["\(Self.project)/a.txt"])
        #expect(consume.inputs.first?.hashes == ["blake3": Self.digestA])
        #expect(consume.job.status == .failed)
        #expect(consume.job.error == "ValueError: boom")
        #expect(produce.job.uid == JobAssembler.jobUID(runID: "run1", tag: "ray:t1:0"))
    }

    @Test func aWorkerKilledMidTaskKeepsItsFlushedWritesAndIsKilled() throws {
        let worker =
            Self.line(["H", "1", "7", "1", "0", "/usr/bin/python3", Self.project])
            + Self.event("ray:t9:0", at: 10, Self.begin("t9", function: "pipeline.crash"))
            + Self.fileLine(
                tag: "ray:t9:0", at: 11, mode: "w", written: 3, version: Self.version(30),
                hash: "blake3:" + Self.digestA, path: "\(Self.project)/before.txt")
            + Self.line(["O", "ray:t9:0", "12", "w", "\(Self.project)/open.txt"])
        let files = FixedFiles(files: ["\(Self.project)/open.txt": (Self.digestB, Self.version(31))])
        let result = assemble([worker], files: files)
        let task = try #require(result.jobs.first { $0.job.role == .task })
        #expect(task.job.status == .killed)
        #expect(Set(task.outputs.map(\.path)) == ["\(Self.project)/before.txt", "\(Self.project)/open.txt"])
        #expect(task.outputs.first { $0.path.hasSuffix("open.txt") }?.capture == "native-unclosed")
        #expect(task.job.coverage["unclosed_write"] == 1)
    }

    @Test func renameIntoPlaceMovesTheOutputAndDeletesAreNotWrites() throws {
        let spool =
            Self.line(["H", "1", "7", "1", "0", "/bin/sh", Self.project])
            + Self.fileLine(
                tag: "", at: 2, mode: "w", written: 3, version: Self.version(40), hash: "blake3:" + Self.digestA,
                path: "\(Self.project)/out.tmp")
            + Self.line(["M", "", "3", "\(Self.project)/out.tmp", "\(Self.project)/out.txt"])
            + Self.fileLine(
                tag: "", at: 4, mode: "w", written: 3, version: Self.version(41), hash: "blake3:" + Self.digestB,
                path: "\(Self.project)/scratch")
            + Self.line(["D", "", "5", "\(Self.project)/scratch"])
            + Self.line(["D", "", "6", "\(Self.project)/old.txt"])
            + Self.line(["Z", "7"])
        let root = try #require(assemble([spool]).jobs.first)
        #expect(root.outputs.map(\.path) == ["\(Self.project)/out.txt"])
        #expect(root.outputs.first?.hashes["blake3"] == Self.digestA)
        #expect(root.deletes == ["\(Self.project)/scratch", "\(Self.project)/old.txt"])
    }

    @Test func nestedTasksHaveTheirParentTask() throws {
        let spool =
            Self.line(["H", "1", "7", "1", "0", "/usr/bin/python3", Self.project])
            + Self.event("ray:outer:0", at: 10, Self.begin("outer", function: "pipeline.outer"))
            + Self.event("ray:inner:0", at: 11, Self.begin("inner", function: "pipeline.inner", parent: "outer"))
            + Self.fileLine(
                tag: "ray:inner:0", at: 12, mode: "w", written: 3, version: Self.version(50),
                hash: "blake3:" + Self.digestA, path: "\(Self.project)/n.txt")
            + Self.event("ray:inner:0", at: 13, Self.end("inner"))
            + Self.event("ray:outer:0", at: 14, Self.end("outer"))
            + Self.line(["Z", "20"])
        let result = assemble([spool])
        let outer = try #require(result.jobs.first { $0.job.ray?.taskID == "outer" })
        let inner = try #require(result.jobs.first { $0.job.ray?.taskID == "inner" })
        #expect(inner.job.parentUID == outer.job.uid)
        #expect(inner.job.step! > outer.job.step!)
    }

    @Test func taskSubmitNamesTheParentAttempt() throws {
        let submit =
            #"{"event":"task_submit","v":1,"task_id":"kid","kind":"task","parent_task_id":"mom","parent_attempt":1}"#
        let spool =
            Self.line(["H", "1", "7", "1", "0", "/usr/bin/python3", Self.project])
            + Self.event("ray:mom:0", at: 9, Self.begin("mom", attempt: 0, function: "pipeline.outer"))
            + Self.event("ray:mom:0", at: 9, Self.end("mom", attempt: 0, status: "failed", error: "OSError: x"))
            + Self.event("ray:mom:1", at: 10, Self.begin("mom", attempt: 1, function: "pipeline.outer"))
            + Self.event("ray:mom:1", at: 11, submit)
            + Self.event("ray:kid:0", at: 12, Self.begin("kid", function: "pipeline.inner"))
            + Self.event("ray:kid:0", at: 13, Self.end("kid"))
            + Self.event("ray:mom:1", at: 14, Self.end("mom", attempt: 1))
            + Self.line(["Z", "20"])
        let result = assemble([spool])
        let mom = try #require(result.jobs.first { $0.job.ray?.taskID == "mom" && $0.job.ray?.attempt == 1 })
        let kid = try #require(result.jobs.first { $0.job.ray?.taskID == "kid" })
        #expect(kid.job.parentUID == mom.job.uid)
    }

    @Test func callsOnOneActorAreOrderedByTime() throws {
        func call(_ task: String, _ function: String, at: Int64) -> String {
            let begin = Self.begin(task, function: function).replacingOccurrences(
                of: #""actor_id":null"#, with: #""actor_id":"A1""#)
            return Self.event("ray:\(task):0", at: at, begin) + Self.event("ray:\(task):0", at: at + 1, Self.end(task))
        }
        let spool =
            Self.line(["H", "1", "7", "1", "0", "/usr/bin/python3", Self.project])
            + call("c1", "pipeline.Stats.add", at: 10_000_000_000)
            + call("c2", "pipeline.Stats.add", at: 20_000_000_000)
            + call("c3", "pipeline.Stats.dump", at: 30_000_000_000) + Self.line(["Z", "40000000000"])
        let steps = assemble([spool]).jobs.filter { $0.job.ray != nil }.map { ($0.job.ray!.taskID, $0.job.step!) }
        #expect(steps.map(\.0) == ["c1", "c2", "c3"])
        #expect(steps.map(\.1) == [1, 2, 3])
    }

    @Test func retriesAreSeparateJobs() {
        let spool =
            Self.line(["H", "1", "7", "1", "0", "/usr/bin/python3", Self.project])
            + Self.event("ray:r:0", at: 10, Self.begin("r", attempt: 0, function: "pipeline.flaky"))
            + Self.event("ray:r:0", at: 11, Self.end("r", attempt: 0, status: "failed", error: "OSError: x"))
            + Self.event("ray:r:1", at: 12, Self.begin("r", attempt: 1, function: "pipeline.flaky"))
            + Self.event("ray:r:1", at: 13, Self.end("r", attempt: 1))
            + Self.line(["Z", "20"])
        let tasks = assemble([spool]).jobs.filter { $0.job.role == .task }
        #expect(tasks.map { $0.job.ray!.attempt }.sorted() == [0, 1])
        #expect(Set(tasks.map(\.job.status)) == [.failed, .ok])
        #expect(Set(tasks.map(\.job.uid)).count == 2)
    }

    @Test func damagedSpoolsAreReportedAndTheRestIsKept() {
        let spool =
            Self.line(["H", "1", "7", "1", "0", "/bin/sh", Self.project])
            + "F\tgarbage\n"
            + Self.fileLine(
                tag: "", at: 4, mode: "w", written: 3, version: Self.version(60), hash: "blake3:" + Self.digestA,
                path: "\(Self.project)/kept.txt")
            + "F\t\t1\t2\tw"
        let result = assemble([spool])
        #expect(result.problems.count == 2)
        #expect(result.jobs[0].outputs.map(\.path) == ["\(Self.project)/kept.txt"])
        #expect(result.jobs[0].job.coverage["spool_records_skipped"] == 2)
    }

    @Test func callsTheTracerCouldNotResolveAreLostCoverageWithAWarning() {
        let spool =
            Self.line(["H", "1", "7", "1", "0", "/usr/bin/tool", Self.project])
            + Self.line(["C", "5", "events=3", "unresolved=2"])
            + Self.line(["Z", "6"])
        let result = assemble([spool])
        #expect(result.jobs[0].job.coverage["unresolved"] == 2)
        #expect(result.warnings.contains { $0.hasPrefix("2 call(s) of a libc function the tracer could not find") })
    }

    @Test func aMissingRayInternalIsOneWarningNamingItAndLostCoverage() {
        let issue =
            #"{"event":"runtime_issue","v":1,"kind":"ray_private_unavailable","name":"ray._private.state.jobs","#
            + #""use":"node agents: has the driver's job died","known_for":"2.60","ray_version":"2.61.0"}"#
        let worker =
            Self.line(["H", "1", "7", "1", "0", "/usr/bin/python3", Self.project])
            + Self.event("ray-system", at: 10, issue)
            + Self.event("ray-system", at: 11, issue)  // reported by two processes: still one warning
            + Self.event(
                "ray-system", at: 12,
                #"{"event":"runtime_stats","v":1,"pid":7,"counters":{"task_begin_failed":2,"ray_private_unavailable":5}}"#
            )
        let result = assemble([worker])
        let root = result.jobs[0].job
        #expect(root.coverage["ray_private_unavailable"] == 1)
        #expect(root.coverage["task_begin_failed"] == 2)
        let named = result.warnings.filter { $0.contains("ray._private.state.jobs") }
        #expect(named.count == 1)
        #expect(
            named.first?.contains("Ray 2.61.0") == true && named.first?.contains("has the driver's job died") == true)
    }
}
