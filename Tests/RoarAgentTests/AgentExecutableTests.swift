import Foundation
import RoarCore
import RoarTransport
import Testing

/// The built `roar-agent` binary, run as the node actor runs it.
@Suite("roar-agent executable")
struct AgentExecutableTests {
    static let session = "run-exe-test"

    /// The statically linked agent of the cluster bundle when scripts/build made it, else the
    /// one `swift build` put next to the test bundle.
    static var agentPath: String? {
        var candidates: [String] = []
        if let bin = ProcessInfo.processInfo.environment["ROAR_BIN_DIR"] {
            candidates.append(bin + "/roar-python/roar_runtime/bin/roar-agent")
        }
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = testBinary.deletingLastPathComponent()
        // On Linux the test binary is `<bin>/roarPackageTests.xctest`; on macOS a bundle deeper down.
        for _ in 0..<4 {
            candidates.append(folder.appendingPathComponent("roar-agent").path)
            folder = folder.deletingLastPathComponent()
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    let scratch = Scratch()
    let keyPair = RunKeyPair.generate()

    struct Outcome {
        var status: Int32
        var standardError: String
    }

    func launch(_ arguments: [String], key: String?) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Self.agentPath, "roar-agent is not built"))
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment[RunPublicKey.environmentVariable] = key
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        return (process, errors)
    }

    func run(_ arguments: [String], key: String?) throws -> Outcome {
        let (process, errors) = try launch(arguments, key: key)
        let text = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, standardError: String(decoding: text, as: UTF8.self))
    }

    var shipArguments: [String] {
        [
            "ship", "--spool", scratch.spool, "--outbox", scratch.outbox, "--producer", "node-1", "--session",
            Self.session,
        ]
    }

    func openAll() throws -> [OpenedSegmentBatch] {
        try scratch.outboxFiles().map {
            try BatchOpener(keyPair: keyPair, expectedSessionID: Self.session).open(
                Array(FileManager.default.contents(atPath: scratch.outbox + "/" + $0)!))
        }
    }

    @Test func onceShipsEverythingInOneFinalBatch() throws {
        let data = scratch.write("1,2\n", to: "ray/runtime_resources/working_dir_files/_ray_pkg_e1/in.csv")
        scratch.append(SpoolLine.header() + SpoolLine.read(data), toSpool: "1-1-aa.spool")
        let pathMap = #"{"packages":[{"name":"_ray_pkg_e1","kind":"working_dir","host_path":"/home/u/proj"}]}"#
        let outcome = try run(
            shipArguments + ["--once", "--path-map", pathMap, "--project-dir", "/home/u/proj"],
            key: keyPair.publicKey.base64)
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let batches = try openAll()
        #expect(batches.count == 1)
        #expect(batches.first?.batch.isFinal == true)
        #expect(batches.first?.batch.segments.first?.data == scratch.spoolBytes("1-1-aa.spool"))
        #expect(batches.first?.batch.readDigests.map(\.blake3) == [try b3sum(data)])
        #expect(FileManager.default.fileExists(atPath: scratch.root + "/agent/node-1.state"))
    }

    @Test func sigtermEndsWithAFinalRound() throws {
        scratch.append(SpoolLine.header(), toSpool: "1-1-aa.spool")
        let (process, errors) = try launch(shipArguments + ["--interval", "0.2"], key: keyPair.publicKey.base64)
        let deadline = Date().addingTimeInterval(20)
        while scratch.outboxFiles().isEmpty && Date() < deadline { usleep(50_000) }
        #expect(scratch.outboxFiles().count == 1)
        scratch.append(SpoolLine.event("{}") + SpoolLine.exit(), toSpool: "1-1-aa.spool")
        process.terminate()  // SIGTERM
        let text = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0, "\(String(decoding: text, as: UTF8.self))")
        let batches = try openAll()
        #expect(batches.last?.batch.isFinal == true)
        #expect(batches.filter(\.batch.isFinal).count == 1)
        let shipped = batches.flatMap(\.batch.segments).flatMap(\.data)
        #expect(shipped == scratch.spoolBytes("1-1-aa.spool"))
    }

    @Test func usageErrorsExitWithTwoAndNameTheCulprit() throws {
        let missing = try run(shipArguments + ["--once"], key: nil)
        #expect(missing.status == 2)
        #expect(missing.standardError.contains("ROAR_BATCH_PUBLIC_KEY is not set"))

        let bad = try run(shipArguments + ["--once"], key: "not-a-key!")
        #expect(bad.status == 2)
        #expect(bad.standardError.contains("ROAR_BATCH_PUBLIC_KEY"))

        let short = try run(shipArguments + ["--once"], key: "AAAA")
        #expect(short.status == 2)
        #expect(short.standardError.contains("ROAR_BATCH_PUBLIC_KEY is not a usable key"))

        let interval = try run(shipArguments + ["--interval", "-1"], key: keyPair.publicKey.base64)
        #expect(interval.status == 2)
        #expect(interval.standardError.contains("--interval"))

        let pathMap = try run(shipArguments + ["--once", "--path-map", "{"], key: keyPair.publicKey.base64)
        #expect(pathMap.status == 2)
        #expect(pathMap.standardError.contains("--path-map"))

        let unknown = try run(shipArguments + ["--bogus"], key: keyPair.publicKey.base64)
        #expect(unknown.status == 2)
        #expect(unknown.standardError.contains("--bogus"))
        #expect(scratch.outboxFiles().isEmpty)
    }

    @Test func helpTeachesTheFlags() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Self.agentPath))
        process.arguments = ["ship", "--help"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        for flag in [
            "--spool", "--outbox", "--producer", "--session", "--interval", "--once", "--path-map",
            "--project-dir", "--ignore", "--include", "--keep-temporary", "--max-batch-bytes", "--max-outbox",
            "--state",
        ] {
            #expect(text.contains(flag), "help lacks \(flag)")
        }
    }
}
