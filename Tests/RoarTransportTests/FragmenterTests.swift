import RoarCore
import RoarReconstitute
import Testing

@testable import RoarTransport

/// Every read file "on disk" has this digest in these tests.
struct EveryFileHashesTo: ReadDigestResolver {
    var digest: String
    func currentDigest(ofPath path: String, ifVersion version: FileVersion?) -> (digest: String, version: FileVersion)?
    {
        version.map { (digest, $0) }
    }
}

@Suite("Fragmenter: spool to fragments")
struct FragmenterTests {
    static let session = "sess-frag"
    static let project = "/w/proj"
    static let readDigest = String(repeating: "d", count: 64)
    static let writeDigest = String(repeating: "e", count: 64)
    static let taskA = "aaaa"
    static let taskB = "bbbb"
    static let taskC = "cccc"

    static func line(_ fields: [String]) -> String { fields.joined(separator: "\t") + "\n" }

    static func file(_ tag: String, at: Int64, _ mode: String, inode: UInt64, hash: String = "-", _ path: String)
        -> String
    {
        line(["F", tag, String(at - 1), String(at), mode, "3", "0", "1", String(inode), "3", "100", hash, path])
    }

    static func event(_ tag: String, at: Int64, _ json: String) -> String { line(["E", tag, String(at), json]) }

    static func begin(_ task: String, function: String) -> String {
        event(
            "ray:\(task):0", at: 0,
            #"{"event":"task_begin","v":1,"tag":"ray:\#(task):0","task_id":"\#(task)","attempt":0,"kind":"task","function":"\#(function)","node_id":"n1","worker_id":"w1","job_id":"01000000","pid":200}"#
        )
    }

    static func end(_ task: String, status: String = "ok", error: String? = nil) -> String {
        let errorJSON = error.map { "\"\($0)\"" } ?? "null"
        return event(
            "ray:\(task):0", at: 0,
            #"{"event":"task_end","v":1,"tag":"ray:\#(task):0","task_id":"\#(task)","attempt":0,"status":"\#(status)","error":\#(errorJSON)}"#
        )
    }

    /// Replaces the `0` time of event lines with `at`.
    static func at(_ at: Int64, _ eventLine: String) -> String {
        var fields = eventLine.dropLast().split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        fields[2] = String(at)
        return line(fields)
    }

    static let driverSpool =
        line(["H", "1", "100", "1", "10", "/usr/bin/python3", project])
        + event("", at: 20, #"{"event":"driver","v":1,"job_id":"01000000","node_id":"n1","pid":100}"#)
        + file("", at: 30, "r", inode: 5, "\(project)/input.csv")
        + file("", at: 900, "wc", inode: 6, hash: "blake3:\(writeDigest)", "\(project)/summary.txt")
        + line(["Z", "950"])

    static let workerSpool =
        line(["H", "1", "200", "1", "15", "/usr/bin/python3", project])
        + file("ray-system", at: 40, "r", inode: 99, "\(project)/ray-internal.json")
        + at(100, begin(taskA, function: "pipeline.preprocess"))
        + file("ray:\(taskA):0", at: 110, "r", inode: 5, "\(project)/input.csv")
        + file("ray:\(taskA):0", at: 120, "wc", inode: 7, hash: "blake3:\(writeDigest)", "\(project)/a.tmp")
        + line(["M", "ray:\(taskA):0", "121", "\(project)/a.tmp", "\(project)/a.out"])
        + line(["W", "ray:\(taskA):0", "122", "static-exec", "/bin/busybox"])
        + event(
            "ray:\(taskA):0", at: 125,
            #"{"event":"task_submit","v":1,"task_id":"\#(taskC)","kind":"task","parent_task_id":"\#(taskA)","parent_attempt":0}"#
        )
        + at(130, end(taskA))
        + at(200, begin(taskB, function: "pipeline.train"))
        + file("ray:\(taskB):0", at: 210, "wc", inode: 8, hash: "blake3:\(writeDigest)", "\(project)/b.ckpt")
        + at(300, begin(taskC, function: "pipeline.nested"))
        + at(310, end(taskC, status: "failed", error: "ValueError: bad row"))
        + line(["C", "320", "events=12", "lost=2"])

    static func spools(worker: String = workerSpool) -> [SpoolReader.Contents] {
        [
            SpoolReader.parse(Array(driverSpool.utf8), file: "100.spool"),
            SpoolReader.parse(Array(worker.utf8), file: "200.spool"),
        ]
    }

    static func fragmenter() -> Fragmenter {
        Fragmenter(
            sessionID: session, filter: PathFilter(projectDirectory: project), readDigest: { _, _ in readDigest })
    }

    static func uid(_ tag: String) -> String { SpoolTags.jobUID(sessionID: session, tag: tag) }

    @Test func groupsByTagAndDropsNoise() throws {
        var fragmenter = Self.fragmenter()
        let fragments = fragmenter.fragments(from: Self.spools())
        #expect(
            fragments.map(\.jobUID) == [
                Self.uid(""), Self.uid("ray:aaaa:0"), Self.uid("ray:bbbb:0"), Self.uid("ray:cccc:0"),
            ])
        #expect(fragments.map(\.sequenceNumber) == [0, 1, 2, 3])
        #expect(fragmenter.nextSequenceNumber == 4)
        #expect(!fragments.flatMap(\.reads).contains { $0.path.hasSuffix("ray-internal.json") })
        for fragment in fragments {
            #expect(fragment.schema == TaskFragment.currentSchema)
            #expect(fragment.sessionID == Self.session)
        }
    }

    @Test func driverFragment() throws {
        var fragmenter = Self.fragmenter()
        let driver = try #require(fragmenter.fragments(from: Self.spools()).first)
        #expect(driver.jobUID == fragmenter.driverJobUID)
        #expect(driver.isFinal && driver.status == .ok)
        #expect(driver.rayJobID == "01000000")
        #expect(driver.pid == 100)
        #expect(driver.reads.map(\.path) == ["\(Self.project)/input.csv"])
        #expect(driver.writes.map(\.path) == ["\(Self.project)/summary.txt"])
        #expect(driver.coverage["lost"] == 2)
    }

    @Test func finishedTask() throws {
        var fragmenter = Self.fragmenter()
        let task = try #require(fragmenter.fragments(from: Self.spools()).first { $0.rayTaskID == Self.taskA })
        #expect(task.isFinal && task.status == .ok)
        #expect(task.functionName == "pipeline.preprocess")
        #expect(task.rayAttempt == 0 && task.rayNodeID == "n1" && task.rayWorkerID == "w1" && task.pid == 200)
        #expect(task.startedAt == 100e-9 && task.endedAt == 130e-9)
        #expect(task.reads.map(\.path) == ["\(Self.project)/input.csv"])
        #expect(task.reads.first?.hashes == ["blake3": Self.readDigest])
        #expect(task.writes.map(\.path) == ["\(Self.project)/a.out"], "the rename is followed")
        #expect(task.writes.first?.hashes == ["blake3": Self.writeDigest])
        #expect(task.writes.first?.version?.inode == 7)
        #expect(task.coverage == ["static-exec": 1])
        #expect(task.parentJobUID == nil, "submitted by the driver")
    }

    @Test func nestedFailedTaskNamesItsParent() throws {
        var fragmenter = Self.fragmenter()
        let task = try #require(fragmenter.fragments(from: Self.spools()).first { $0.rayTaskID == Self.taskC })
        #expect(task.isFinal && task.status == .failed)
        #expect(task.error == "ValueError: bad row")
        #expect(task.parentJobUID == Self.uid("ray:aaaa:0"))
    }

    @Test func killedTaskIsNeverFinal() throws {
        var streaming = Self.fragmenter()
        let running = try #require(streaming.fragments(from: Self.spools()).first { $0.rayTaskID == Self.taskB })
        #expect(!running.isFinal && running.status == .running && running.endedAt == nil)
        #expect(running.writes.map(\.path) == ["\(Self.project)/b.ckpt"], "what it wrote before dying is kept")

        let killed = try #require(
            streaming.fragments(from: Self.spools(), writersHaveExited: true).first { $0.rayTaskID == Self.taskB })
        #expect(!killed.isFinal && killed.status == .killed)
        #expect(killed.sequenceNumber > running.sequenceNumber)
    }

    @Test func emitsOnlyChangesWithIncreasingSequenceNumbers() throws {
        var fragmenter = Fragmenter(sessionID: Self.session, startingAt: 100)
        let first = fragmenter.fragments(from: Self.spools())
        #expect(first.first?.sequenceNumber == 100)
        #expect(fragmenter.fragments(from: Self.spools()).isEmpty, "nothing changed, nothing sent")
        let grown = Self.workerSpool + Self.at(400, Self.end(Self.taskB))
        let second = fragmenter.fragments(from: Self.spools(worker: grown))
        #expect(second.map(\.rayTaskID) == [Self.taskB])
        #expect(second.first?.isFinal == true)
        #expect(second.first?.sequenceNumber == 100 + UInt64(first.count))
    }

    @Test func agreesWithJobAssemblerOnJobsAndOutputs() throws {
        let root = Job(
            uid: SpoolTags.jobUID(sessionID: Self.session, tag: ""), role: .run, command: "python p.py",
            startedAt: 0, status: .ok)
        let assembler = JobAssembler(
            root: root, runID: Self.session, filter: PathFilter(projectDirectory: Self.project),
            resolver: EveryFileHashesTo(digest: Self.readDigest))
        let jobs = assembler.assemble(Self.spools()).jobs
        var fragmenter = Self.fragmenter()
        let fragments = fragmenter.fragments(from: Self.spools(), writersHaveExited: true)
        #expect(Set(jobs.map(\.job.uid)) == Set(fragments.map(\.jobUID)))
        for job in jobs {
            let fragment = try #require(fragments.first { $0.jobUID == job.job.uid })
            #expect(fragment.writes.map(\.path) == job.outputs.map(\.path))
            #expect(fragment.reads.map(\.path) == job.inputs.map(\.path))
            if job.job.role != .run {
                #expect(fragment.status.rawValue == job.job.status.rawValue)
                #expect(fragment.parentJobUID ?? root.uid == job.job.parentUID)
            }
        }
        #expect(JobAssembler.jobUID(runID: Self.session, tag: "ray:aaaa:0") == Self.uid("ray:aaaa:0"))
    }
}
