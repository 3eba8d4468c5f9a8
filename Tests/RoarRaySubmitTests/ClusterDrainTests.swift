import Foundation
import RoarCore
import RoarStore
import RoarTransport
import Testing

@testable import RoarCapture
@testable import RoarRaySubmit
@testable import RoarReconstitute

/// The host half of host-submit without a cluster: batches sealed as `roar-agent` seals them,
/// written where the drain helper leaves them, then opened, reassembled and recorded.
@Suite("cluster drain: opening batches and recording the run")
struct ClusterDrainTests {
    let runID = "00000000000000c1"
    let nodePackage = "/tmp/ray/session_x/runtime_resources/working_dir_files/_ray_pkg_abc"

    /// A temp folder with a project, a run folder and a batch folder.
    struct Fixture {
        var root: String
        var project: String
        var runDirectory: String
        var batches: String { runDirectory + "/batches" }

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("drain-\(UUID().uuidString)").path
            project = root + "/proj"
            runDirectory = project + "/.roar/spool/run"
            try FileManager.default.createDirectory(
                atPath: runDirectory + "/batches", withIntermediateDirectories: true)
        }
    }

    func spoolLines(task: String) -> String {
        let begin =
            #"{"event":"task_begin","v":1,"tag":"ray:\#(task):0","task_id":"\#(task)","attempt":0,"kind":"task","function":"pipeline.clean","node_id":"n1","worker_id":"w1","job_id":"01000000","pid":42,"actor_id":null,"parent_task_id":null}"#
        let end =
            #"{"event":"task_end","v":1,"tag":"ray:\#(task):0","task_id":"\#(task)","attempt":0,"status":"ok","error":null}"#
        let hash = String(repeating: "ab", count: 32)
        return [
            "H\t1\t42\t1\t1000\t/usr/bin/python3\t\(nodePackage)",
            "E\tray:\(task):0\t1100\t\(begin)",
            "F\tray:\(task):0\t1200\t1300\tr\t10\t0\t64769\t11\t10\t900\t-\t\(nodePackage)/data/in.csv",
            "F\tray:\(task):0\t1400\t1500\tw\t0\t5\t64769\t12\t5\t1450\tblake3:\(hash)\t\(nodePackage)/out/clean.csv",
            "E\tray:\(task):0\t1600\t\(end)",
        ].joined(separator: "\n") + "\n"
    }

    func seal(_ batch: SegmentBatch, key: RunKeyPair, seq: UInt64) throws -> [UInt8] {
        try BatchSealer(recipient: key.publicKey, sessionID: runID, producer: batch.producer)
            .seal(batch, sequenceNumber: seq)
    }

    @Test("segments are reassembled, node paths restored, digests from the nodes, files only on the cluster marked")
    func recordsTheRun() throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(atPath: fixture.root) }
        let key = RunKeyPair.generate()
        let restorer = PathRestorer(packages: [
            .init(name: "_ray_pkg_abc", kind: .workingDirectory, hostPath: fixture.project)
        ])
        let lines = Array(spoolLines(task: "aa").utf8)
        let split = lines.firstIndex(of: UInt8(ascii: "\n"))! + 1
        let readVersion = FileVersion(device: 64769, inode: 11, size: 10, modifiedNanoseconds: 900)
        // The same spool file in two batches (two rounds), the second sent twice: idempotent.
        let first = SegmentBatch(
            sessionID: runID, producer: "node-n1", pathMap: restorer,
            segments: [.init(file: "42-1-x.spool", offset: 0, data: Array(lines[..<split]))])
        let second = SegmentBatch(
            sessionID: runID, producer: "node-n1", isFinal: true, pathMap: restorer,
            segments: [.init(file: "42-1-x.spool", offset: Int64(split), data: Array(lines[split...]))],
            readDigests: [
                .init(
                    path: nodePackage + "/data/in.csv", version: readVersion, blake3: String(repeating: "cd", count: 32)
                )
            ])
        try Data(seal(first, key: key, seq: 0)).write(to: URL(fileURLWithPath: fixture.batches + "/a-0.rbat"))
        try Data(seal(second, key: key, seq: 1)).write(to: URL(fileURLWithPath: fixture.batches + "/a-1.rbat"))
        try Data(seal(second, key: key, seq: 1)).write(to: URL(fileURLWithPath: fixture.batches + "/a-1-again.rbat"))
        // A batch altered on the way is refused by name; the others still count.
        var tampered = try seal(second, key: key, seq: 2)
        tampered[tampered.count - 20] ^= 0x01
        try Data(tampered).write(to: URL(fileURLWithPath: fixture.batches + "/b-2.rbat"))
        // The input exists on the host (shipped in the working dir); the output does not.
        try FileManager.default.createDirectory(atPath: fixture.project + "/data", withIntermediateDirectories: true)
        try "0123456789".write(toFile: fixture.project + "/data/in.csv", atomically: true, encoding: .utf8)

        let record = SubmitRecord(
            runID: runID, submissionID: "raysubmit_test", address: nil, headers: nil, verify: nil, python: "python3",
            noWait: false, submittedAt: 1)
        let drain = ClusterDrain(
            runDirectory: fixture.runDirectory, record: record, keyPair: key,
            runtime: RuntimeFiles(directory: "/nonexistent"), filter: PathFilter(projectDirectory: fixture.project))
        let assembled = drain.assemble()
        #expect(assembled.notes.count == 1)
        #expect(assembled.notes.first?.contains("b-2.rbat refused") == true)
        #expect(assembled.notes.first?.contains("authentication failed") == true)

        let store = try RoarStore(path: fixture.project + "/.roar/roar.db")
        let root = Job(uid: runID, role: .run, command: "ray job submit", startedAt: 1, status: .ok)
        let outcome = try Reconstituter(store: store, filter: drain.filter).reconstitute(
            spools: assembled.spools, problems: assembled.problems, root: root, runID: runID,
            resolver: assembled.resolver, marksClusterOnly: true)
        let task = try #require(outcome.jobs.first { $0.job.ray?.function == "pipeline.clean" })
        #expect(task.inputs.map(\.path) == [fixture.project + "/data/in.csv"])
        #expect(task.inputs.first?.hashes["blake3"] == String(repeating: "cd", count: 32))
        #expect(task.inputs.first?.isClusterOnly == false)
        #expect(task.outputs.map(\.path) == [fixture.project + "/out/clean.csv"])
        #expect(task.outputs.first?.hashes["blake3"] == String(repeating: "ab", count: 32))
        #expect(task.outputs.first?.isClusterOnly == true)
        #expect(assembled.problems.isEmpty)
    }

    @Test("batches arriving in any order give the same spool; a truncated one is refused by name")
    func reorderedAndTruncatedBatches() throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(atPath: fixture.root) }
        let key = RunKeyPair.generate()
        let lines = Array(spoolLines(task: "bb").utf8)
        let thirds = [0, lines.count / 3, 2 * lines.count / 3, lines.count]
        let batches = (0..<3).map { index in
            SegmentBatch(
                sessionID: runID, producer: "node-n1", isFinal: index == 2,
                segments: [
                    .init(
                        file: "7-1-y.spool", offset: Int64(thirds[index]),
                        data: Array(lines[thirds[index]..<thirds[index + 1]]))
                ])
        }
        // Named so that they are opened last first (the drain reads them in name order).
        for (index, batch) in batches.enumerated() {
            try Data(seal(batch, key: key, seq: UInt64(index)))
                .write(to: URL(fileURLWithPath: fixture.batches + "/\(9 - index)-part.rbat"))
        }
        let cut = try seal(batches[1], key: key, seq: 9)
        try Data(cut.prefix(cut.count / 2)).write(to: URL(fileURLWithPath: fixture.batches + "/0-cut.rbat"))
        let drain = ClusterDrain(
            runDirectory: fixture.runDirectory,
            record: SubmitRecord(
                runID: runID, submissionID: "s", address: nil, headers: nil, verify: nil, python: "python3",
                noWait: false, submittedAt: 0),
            keyPair: key, runtime: RuntimeFiles(directory: "/nonexistent"),
            filter: PathFilter(projectDirectory: fixture.project))
        let assembled = drain.assemble()
        #expect(assembled.notes.count == 1)
        #expect(assembled.notes.first?.contains("0-cut.rbat refused") == true)
        let written = try #require(FileManager.default.contents(atPath: drain.nodeSpoolDirectory + "/7-1-y.spool"))
        #expect(Array(written) == lines)
        #expect(assembled.problems.isEmpty)
        #expect(assembled.spools.count == 1 && assembled.spools[0].records.count == 5)
    }

    @Test("a segment naming a file outside the run folder is refused")
    func refusesEscapingNames() throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(atPath: fixture.root) }
        let drain = ClusterDrain(
            runDirectory: fixture.runDirectory,
            record: SubmitRecord(
                runID: runID, submissionID: "s", address: nil, headers: nil, verify: nil, python: "python3",
                noWait: false, submittedAt: 0),
            keyPair: RunKeyPair.generate(), runtime: RuntimeFiles(directory: "/nonexistent"),
            filter: PathFilter(projectDirectory: fixture.project))
        try? FileSystem.makeDirectory(drain.nodeSpoolDirectory)
        for name in ["../evil.spool", "/etc/passwd", ""] {
            let problem = drain.write(.init(file: name, offset: 0, data: Array("x\n".utf8)))
            #expect(problem?.contains("refused") == true, "\(name)")
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.runDirectory + "/evil.spool"))
    }
}

@Suite("path restoration")
struct PathRestorerTests {
    let restorer = PathRestorer(packages: [
        .init(name: "_ray_pkg_aa", kind: .workingDirectory, hostPath: "/home/u/proj/jobs"),
        .init(name: "_ray_pkg_bb", kind: .pythonModules, hostPath: "/home/u/libs"),
    ])

    @Test("working_dir and py_modules paths map back; everything else stays")
    func restores() {
        let session = "/tmp/ray/session_2026/runtime_resources"
        #expect(
            restorer.restore("\(session)/working_dir_files/_ray_pkg_aa/data/x.csv") == "/home/u/proj/jobs/data/x.csv")
        #expect(restorer.restore("\(session)/working_dir_files/_ray_pkg_aa") == "/home/u/proj/jobs")
        #expect(restorer.restore("\(session)/py_modules_files/_ray_pkg_bb/mylib/a.py") == "/home/u/libs/mylib/a.py")
        // Another package, a longer name with the same prefix, the wrong kind: unchanged.
        for path in [
            "\(session)/working_dir_files/_ray_pkg_cc/x", "\(session)/working_dir_files/_ray_pkg_aab/x",
            "\(session)/py_modules_files/_ray_pkg_aa/x", "/data/shared/x.csv",
        ] {
            #expect(restorer.restore(path) == path)
        }
    }

    @Test("the table round-trips through the JSON the driver writes")
    func decodesDriverJSON() throws {
        let json = #"{"packages": [{"name": "_ray_pkg_aa", "kind": "working_dir", "host_path": "/h"}]}"#
        let decoded = try JSONDecoder().decode(PathRestorer.self, from: Data(json.utf8))
        #expect(decoded.packages == [.init(name: "_ray_pkg_aa", kind: .workingDirectory, hostPath: "/h")])
    }
}
