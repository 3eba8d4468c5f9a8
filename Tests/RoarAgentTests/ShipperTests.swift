import Foundation
import RoarCore
import RoarTransport
import Testing

@testable import RoarAgent

@Suite("Shipping a node spool")
struct ShipperTests {
    static let session = "run-agent-test"
    static let producer = "node-abc"

    let scratch = Scratch()
    let keyPair = RunKeyPair.generate()
    let log = LogLines()

    var host: Host { Host(keyPair: keyPair, session: Self.session) }

    /// The Ray package folder on the "node" and the host project it came from.
    var nodePackage: String { scratch.root + "/ray/session_1/runtime_resources/working_dir_files/_ray_pkg_abc" }
    var hostProject: String { "/home/user/project" }

    func configuration(maximumBatchBytes: Int = 1 << 20, maximumOutboxFiles: Int = 64) -> ShipperConfiguration {
        let log = self.log
        return ShipperConfiguration(
            spoolDirectory: scratch.spool, outboxDirectory: scratch.outbox, producer: Self.producer,
            sessionID: Self.session, recipient: keyPair.publicKey,
            pathRestorer: PathRestorer(packages: [
                .init(name: "_ray_pkg_abc", kind: .workingDirectory, hostPath: hostProject)
            ]),
            filter: PathFilter(projectDirectory: hostProject), maximumBatchBytes: maximumBatchBytes,
            maximumOutboxFiles: maximumOutboxFiles, log: { log.append($0) })
    }

    @Test func segmentsReassembleTheSpoolByteForByteAndOnlyCompleteLines() throws {
        var shipper = try Shipper(configuration: configuration())
        let data = scratch.write("a,b\n1,2\n", to: "data.csv")
        scratch.append(SpoolLine.header(), toSpool: "1-1-aa.spool")
        scratch.append(SpoolLine.read(data) + "E\tray:t1:0\t12", toSpool: "1-1-aa.spool")  // last line unfinished
        scratch.append(SpoolLine.header(pid: 7), toSpool: "sub/7-1-bb.spool")
        scratch.append("not a spool\n", toSpool: "notes.txt")

        let first = shipper.runRound()
        #expect(first.batchFiles.count == 1)
        var received = Host.Received()
        try host.receive(from: scratch.outbox, files: scratch.outboxFiles(), into: &received)
        let complete = scratch.spoolBytes("1-1-aa.spool")
        let lastNewline = complete.lastIndex(of: UInt8(ascii: "\n"))!
        #expect(received.files["1-1-aa.spool"] == Array(complete[...lastNewline]))
        #expect(received.files["sub/7-1-bb.spool"] == scratch.spoolBytes("sub/7-1-bb.spool"))
        #expect(received.files["notes.txt"] == nil)
        #expect(received.batches[0].batch.isFinal == false)
        #expect(received.batches[0].batch.pathMap?.packages.first?.name == "_ray_pkg_abc")

        // The writer finishes its line and adds more: the next round ships from where the last stopped.
        scratch.append("3456\t{}\n" + SpoolLine.exit(), toSpool: "1-1-aa.spool")
        let second = shipper.runRound()
        #expect(second.batchFiles.count == 1)
        let secondBatch = try BatchOpener(keyPair: keyPair).open(
            Array(FileManager.default.contents(atPath: second.batchFiles[0])!))
        #expect(secondBatch.batch.segments.map(\.file) == ["1-1-aa.spool"])
        #expect(secondBatch.batch.segments[0].offset == Int64(lastNewline + 1))
        #expect(secondBatch.name.sequenceNumber == 1)
        try host.receive(from: scratch.outbox, files: [scratch.outboxFiles()[1]], into: &received)
        #expect(received.files["1-1-aa.spool"] == scratch.spoolBytes("1-1-aa.spool"))

        // Nothing new: no batch.
        #expect(shipper.runRound().batchFiles.isEmpty)
        #expect(
            scratch.outboxFiles() == [
                "node-abc-00000000000000000000.rbat", "node-abc-00000000000000000001.rbat",
            ])
    }

    @Test func readDigestsOnlyForRestoredLineagePathsAndEachVersionOnce() throws {
        var shipper = try Shipper(configuration: configuration())
        let inPackage = scratch.write(
            "x,y\n1,2\n", to: "ray/session_1/runtime_resources/working_dir_files/_ray_pkg_abc/data.csv")
        let otherTemporary = scratch.write("scratch\n", to: "elsewhere/tmpfile")  // under /tmp, not the project
        let system = "/usr/bin/env"
        let changed = scratch.write(
            "before\n", to: "ray/session_1/runtime_resources/working_dir_files/_ray_pkg_abc/changed.txt")
        let written = scratch.write(
            "produced\n", to: "ray/session_1/runtime_resources/working_dir_files/_ray_pkg_abc/out.txt")
        var lines = SpoolLine.header()
        lines += SpoolLine.read(inPackage) + SpoolLine.read(inPackage, tag: "ray:t2:0")
        lines += SpoolLine.read(otherTemporary) + SpoolLine.read(system) + SpoolLine.read(changed)
        lines += SpoolLine.write(written, digest: String(repeating: "ab", count: 32)) + SpoolLine.read(written)
        scratch.append(lines, toSpool: "1-1-aa.spool")
        // The task read `changed`, then someone rewrote it before the agent got to it.
        usleep(10_000)
        try "after, longer\n".write(toFile: changed, atomically: false, encoding: .utf8)

        let report = shipper.runRound()
        var received = Host.Received()
        try host.receive(from: scratch.outbox, files: scratch.outboxFiles(), into: &received)
        #expect(report.batchFiles.count == 1)
        #expect(received.readDigests.map(\.path) == [inPackage])
        let digest = try #require(received.readDigests.first)
        #expect(digest.blake3 == (try b3sum(inPackage)))
        #expect(digest.version == SpoolLine.version(of: inPackage))
        let stats = received.batches[0].batch.stats
        #expect(stats.hashedFiles == 1)
        #expect(stats.hashFailures == 1)  // `changed`
        #expect(stats.files == 1)

        // Read again by another task later: hashed once per agent lifetime, sent once.
        scratch.append(SpoolLine.read(inPackage, tag: "ray:t3:0"), toSpool: "1-1-aa.spool")
        let again = shipper.runRound()
        let opened = try BatchOpener(keyPair: keyPair).open(
            Array(FileManager.default.contents(atPath: again.batchFiles[0])!))
        #expect(opened.batch.readDigests.isEmpty)
        #expect(opened.batch.stats.hashedFiles == 0)
    }

    @Test func aReadOfAVersionWrittenWithoutADigestGetsOne() throws {
        // As on the host in local mode: only a write that recorded a BLAKE3 spares its readers a hash.
        var shipper = try Shipper(configuration: configuration())
        let package = "ray/session_1/runtime_resources/working_dir_files/_ray_pkg_abc/"
        let unfinished = scratch.write("rewritten while hashed\n", to: package + "unfinished.txt")
        scratch.append(
            SpoolLine.header() + SpoolLine.write(unfinished, digest: nil) + SpoolLine.read(unfinished, tag: "ray:t2:0"),
            toSpool: "1-1-aa.spool")
        shipper.runRound()
        var received = Host.Received()
        try host.receive(from: scratch.outbox, files: scratch.outboxFiles(), into: &received)
        #expect(received.readDigests.map(\.path) == [unfinished])
        #expect(received.readDigests.first?.blake3 == (try b3sum(unfinished)))
    }

    @Test func finalRoundCarriesCurrentDigestsOfFilesChangedOutsideAnOpen() throws {
        var shipper = try Shipper(configuration: configuration())
        let package = "ray/session_1/runtime_resources/working_dir_files/_ray_pkg_abc/"
        let leftOpen = scratch.write("partial output\n", to: package + "open.txt")
        let truncated = scratch.write("", to: package + "truncated.txt")
        let renamed = scratch.write("moved\n", to: package + "renamed.txt")
        let gone = scratch.root + "/" + package + "gone.txt"
        let outsideProject = scratch.write("tmp\n", to: "elsewhere/open.txt")
        scratch.append(
            SpoolLine.header() + SpoolLine.openForWrite(leftOpen) + SpoolLine.truncate(truncated)
                + SpoolLine.rename(gone, renamed) + SpoolLine.openForWrite(gone)
                + SpoolLine.openForWrite(outsideProject),
            toSpool: "1-1-aa.spool")
        shipper.runRound()
        #expect(scratch.outboxFiles().count == 1)

        let final = shipper.runRound(final: true)
        #expect(final.batchFiles.count == 1)
        let opened = try BatchOpener(keyPair: keyPair, expectedSessionID: Self.session).open(
            Array(FileManager.default.contents(atPath: final.batchFiles[0])!))
        #expect(opened.batch.isFinal)
        #expect(opened.batch.segments.isEmpty)  // nothing new, but the host gets its final marker
        #expect(opened.batch.currentDigests.map(\.path) == [leftOpen, renamed, truncated].sorted())
        for digest in opened.batch.currentDigests {
            #expect(digest.blake3 == (try b3sum(digest.path)))
            #expect(digest.version == SpoolLine.version(of: digest.path))
        }
    }

    @Test func batchesStayUnderTheLimitAndALongLineGoesAlone() throws {
        var shipper = try Shipper(configuration: configuration(maximumBatchBytes: 200))
        let long = "E\tray:t1:0\t1\t{\"pad\":\"" + String(repeating: "x", count: 500) + "\"}\n"
        var lines = SpoolLine.header()
        for _ in 0..<5 { lines += SpoolLine.event("{}") }
        lines += long
        for _ in 0..<5 { lines += SpoolLine.event("{}") }
        scratch.append(lines, toSpool: "1-1-aa.spool")
        scratch.append(SpoolLine.header(pid: 9), toSpool: "9-1-bb.spool")

        let report = shipper.runRound()
        #expect(report.batchFiles.count >= 3)
        var received = Host.Received()
        try host.receive(from: scratch.outbox, files: scratch.outboxFiles(), into: &received)
        #expect(received.files["1-1-aa.spool"] == scratch.spoolBytes("1-1-aa.spool"))
        #expect(received.files["9-1-bb.spool"] == scratch.spoolBytes("9-1-bb.spool"))
        for opened in received.batches {
            let bytes = opened.batch.segments.map(\.data.count).reduce(0, +)
            let holdsTheLongLine = opened.batch.segments.contains { $0.data == Array(long.utf8) }
            #expect(bytes <= 200 || (holdsTheLongLine && opened.batch.segments.count == 1))
        }
        #expect(received.batches.map(\.name.sequenceNumber) == Array(0..<UInt64(received.batches.count)))
    }

    @Test func restartedAgentContinuesSequenceAndOffsets() throws {
        scratch.append(SpoolLine.header() + SpoolLine.event("{}"), toSpool: "1-1-aa.spool")
        do {
            var shipper = try Shipper(configuration: configuration())
            shipper.runRound()
            shipper.runRound(final: true)
        }
        let statePath = ShipperConfiguration.defaultStatePath(outbox: scratch.outbox, producer: Self.producer)
        #expect(statePath == scratch.root + "/agent/node-abc.state")
        #expect(FileManager.default.fileExists(atPath: statePath))

        scratch.append(SpoolLine.event("{\"n\":2}"), toSpool: "1-1-aa.spool")
        var restarted = try Shipper(configuration: configuration())
        #expect(restarted.state.nextSequenceNumber == 2)
        let report = restarted.runRound()
        #expect(report.batchFiles.map { ($0 as NSString).lastPathComponent } == ["node-abc-00000000000000000002.rbat"])
        var received = Host.Received()
        try host.receive(from: scratch.outbox, files: scratch.outboxFiles(), into: &received)
        #expect(received.files["1-1-aa.spool"] == scratch.spoolBytes("1-1-aa.spool"))
        #expect(received.batches.last?.batch.segments.count == 1)  // only the new line was shipped
    }

    @Test func fullOutboxHoldsBackNewBatches() throws {
        var shipper = try Shipper(configuration: configuration(maximumBatchBytes: 100, maximumOutboxFiles: 2))
        var lines = SpoolLine.header()
        for _ in 0..<10 { lines += SpoolLine.event("{}") }
        scratch.append(lines, toSpool: "1-1-aa.spool")

        let first = shipper.runRound()
        #expect(first.heldBack)
        #expect(scratch.outboxFiles().count == 2)
        #expect(shipper.runRound().heldBack)
        #expect(scratch.outboxFiles().count == 2)

        // The forwarder takes the batches away: shipping resumes where it stopped.
        var received = Host.Received()
        while !scratch.outboxFiles().isEmpty {
            let names = scratch.outboxFiles()
            try host.receive(from: scratch.outbox, files: names, into: &received)
            for name in names { try FileManager.default.removeItem(atPath: scratch.outbox + "/" + name) }
            shipper.runRound()
        }
        #expect(received.files["1-1-aa.spool"] == scratch.spoolBytes("1-1-aa.spool"))
    }

    @Test func shrunkAndVanishedSpoolFilesAreShippedAgainOrForgotten() throws {
        var shipper = try Shipper(configuration: configuration())
        scratch.append(SpoolLine.header() + SpoolLine.event("{}") + SpoolLine.event("{}"), toSpool: "1-1-aa.spool")
        scratch.append(SpoolLine.header(pid: 2), toSpool: "2-1-bb.spool")
        shipper.runRound()
        #expect(shipper.state.files.keys.sorted() == ["1-1-aa.spool", "2-1-bb.spool"])

        try FileManager.default.removeItem(atPath: scratch.spool + "/2-1-bb.spool")
        let shortened = SpoolLine.header(pid: 3)
        try shortened.write(toFile: scratch.spool + "/1-1-aa.spool", atomically: false, encoding: .utf8)
        let report = shipper.runRound()
        let opened = try BatchOpener(keyPair: keyPair).open(
            Array(FileManager.default.contents(atPath: report.batchFiles[0])!))
        #expect(opened.batch.segments.map(\.offset) == [0])
        #expect(opened.batch.segments.first?.data == Array(shortened.utf8))
        #expect(shipper.state.files.keys.sorted() == ["1-1-aa.spool"])
        #expect(log.lines.contains { $0.contains("1-1-aa.spool") && $0.contains("shrank") })
    }

    @Test func missingSpoolDirectoryIsNotAnError() throws {
        try FileManager.default.removeItem(atPath: scratch.spool)
        var shipper = try Shipper(configuration: configuration())
        #expect(shipper.runRound().batchFiles.isEmpty)
        #expect(shipper.runRound(final: true).batchFiles.count == 1)
        #expect(log.lines.count == 1)
    }

    @Test func aBatchThatCannotBeWrittenIsRetriedNextRound() throws {
        var shipper = try Shipper(configuration: configuration())
        scratch.append(SpoolLine.header() + SpoolLine.event("{}"), toSpool: "1-1-aa.spool")
        // A directory where the batch's temporary file should go: the write fails.
        let blocker = scratch.outbox + "/node-abc-00000000000000000000.rbat.tmp"
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: true)
        let failed = shipper.runRound()
        #expect(failed.failed && failed.batchFiles.isEmpty)
        #expect(log.lines.contains { $0.contains(blocker) && $0.contains("retried next round") })

        try FileManager.default.removeItem(atPath: blocker)
        let retried = shipper.runRound()
        #expect(retried.batchFiles.count == 1)
        var received = Host.Received()
        try host.receive(from: scratch.outbox, files: scratch.outboxFiles(), into: &received)
        #expect(received.files["1-1-aa.spool"] == scratch.spoolBytes("1-1-aa.spool"))
        #expect(received.batches.map(\.name.sequenceNumber) == [1])  // seq 0 was reserved, never re-used
    }

    /// Lines written by the real preload library (scripts/build puts it in ROAR_BIN_DIR).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ROAR_BIN_DIR"] != nil))
    func spoolOfTheRealPreloadLibrary() throws {
        let bin = ProcessInfo.processInfo.environment["ROAR_BIN_DIR"]!
        let project = scratch.root + "/project"
        let input = scratch.write("id,value\n1,2\n", to: "project/in.csv")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "cat in.csv > out.csv; cat /etc/hostname > /dev/null"]
        process.currentDirectoryURL = URL(fileURLWithPath: project)
        var environment = ProcessInfo.processInfo.environment
        environment["LD_PRELOAD"] = bin + "/libroar_preload.so"
        environment["ROAR_SPOOL"] = scratch.spool
        environment["ROAR_TAG"] = "ray:task1:0"
        environment["ROAR_INCLUDE"] = project
        process.environment = environment
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)

        let log = self.log
        var shipper = try Shipper(
            configuration: ShipperConfiguration(
                spoolDirectory: scratch.spool, outboxDirectory: scratch.outbox, producer: Self.producer,
                sessionID: Self.session, recipient: keyPair.publicKey, filter: PathFilter(projectDirectory: project),
                log: { log.append($0) }))
        shipper.runRound(final: true)
        var received = Host.Received()
        try host.receive(from: scratch.outbox, files: scratch.outboxFiles(), into: &received)
        let spools = try FileManager.default.contentsOfDirectory(atPath: scratch.spool).filter {
            $0.hasSuffix(".spool")
        }
        #expect(!spools.isEmpty)
        for name in spools { #expect(received.files[name] == scratch.spoolBytes(name), "\(name)") }
        #expect(received.readDigests.map(\.path) == [input])
        #expect(received.readDigests.first?.blake3 == (try b3sum(input)))
        #expect(received.currentDigests.map(\.path) == [project + "/out.csv"])
        #expect(received.batches.last?.batch.isFinal == true)
    }
}
