import Foundation
import RoarCore
import Synchronization
import Testing

@testable import RoarStore

@Suite("Concurrent use")
struct ConcurrencyTests {
    @Test("4 writers with their own connections, opening a new database at once: every job lands")
    func fourConcurrentWriters() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let writers = 4
        let batches = 25
        let jobsPerBatch = 4
        let errors = Mutex<[String]>([])
        let start = DispatchSemaphore(value: 0)
        let group = DispatchGroup()

        for writer in 0..<writers {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                start.wait()
                do {
                    // Each thread opens its own store: its own SQLite connections, as another
                    // process would, and races the others to create the schema.
                    let store = try RoarStore(path: directory.databasePath)
                    for batch in 0..<batches {
                        let jobs = (0..<jobsPerBatch).map { index in
                            let uid = String(format: "%02x%04x%02x00000000", writer, batch, index)
                            return RecordedJob(
                                job: bareJob(uid, step: try? store.nextStep()),
                                inputs: [fileRef("/p/shared.csv", blake3: digest("shared"), inode: 1, mtime: 1)],
                                outputs: [fileRef("/p/out-\(uid)", blake3: digest(uid), inode: 100, mtime: 2)])
                        }
                        try store.merge(jobs)
                        _ = try store.summary()  // readers run alongside the writers
                    }
                } catch {
                    errors.withLock { $0.append("writer \(writer): \(error)") }
                }
            }
            thread.start()
        }
        for _ in 0..<writers { start.signal() }
        group.wait()

        #expect(errors.withLock { $0 } == [])
        let store = try RoarStore(path: directory.databasePath)
        let summary = try store.summary()
        #expect(summary.jobCount == writers * batches * jobsPerBatch)
        // One shared input plus one output per job: the shared content is one artifact.
        #expect(summary.artifactCount == writers * batches * jobsPerBatch + 1)
        #expect(try store.queryUnchecked("SELECT COUNT(*) FROM sessions") == [["1"]])
        #expect(try store.queryUnchecked("SELECT COUNT(*) FROM grdb_migrations") == [["4"]])
    }

    @Test(
        "4 writer processes at once: every job lands",
        .enabled(if: WriterProcess.canSpawn, "needs the test bundle to be an executable (Linux `swift test`)"))
    func fourWriterProcesses() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let goFile = directory.path + "/go"
        let processes = try (0..<4).map { index in
            try WriterProcess.start(index: index, database: directory.databasePath, goFile: goFile)
        }
        #expect(FileManager.default.createFile(atPath: goFile, contents: nil))
        for process in processes {
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "writer process \(process.processIdentifier) failed")
        }
        let store = try RoarStore(path: directory.databasePath)
        let summary = try store.summary()
        #expect(summary.jobCount == 4 * WriterProcess.batches * WriterProcess.jobsPerBatch)
        #expect(summary.artifactCount == summary.jobCount + 1)
        #expect(try store.queryUnchecked("SELECT COUNT(*) FROM sessions") == [["1"]])
    }

    /// The body of one writer process of `fourWriterProcesses`; skipped in a normal run.
    @Test(.enabled(if: WriterProcess.childDatabase != nil))
    func writerProcessChild() throws {
        let database = try #require(WriterProcess.childDatabase)
        let environment = ProcessInfo.processInfo.environment
        let index = try #require(Int(environment[WriterProcess.indexVariable] ?? ""))
        let goFile = try #require(environment[WriterProcess.goFileVariable])
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: goFile) && Date() < deadline {
            usleep(5_000)
        }
        let store = try RoarStore(path: database)
        for batch in 0..<WriterProcess.batches {
            let jobs = (0..<WriterProcess.jobsPerBatch).map { job in
                let uid = String(format: "%02x%04x%02x00000000", index, batch, job)
                return RecordedJob(
                    job: bareJob(uid, step: batch),
                    inputs: [fileRef("/p/shared.csv", blake3: digest("shared"), inode: 1, mtime: 1)],
                    outputs: [fileRef("/p/out-\(uid)", blake3: digest(uid), inode: 100, mtime: 2)])
            }
            try store.merge(jobs)
        }
    }

    @Test(
        "a writer waits for another process's write lock, up to the busy timeout",
        .enabled(if: Python.executable != nil, "needs python3 to hold a lock from another process"))
    func waitsForAnotherProcess() throws {
        try withStore { store, directory in
            let holder = try Python.holdWriteLock(on: directory.databasePath, seconds: 1.5)
            let started = Date()
            try store.merge(MergeTests.pipeline())
            let waited = Date().timeIntervalSince(started)
            holder.waitUntilExit()
            #expect(holder.terminationStatus == 0)
            #expect(waited >= 1.0, "the merge should have waited for the other process's transaction")
            #expect(try store.allJobs().count == 3)
            #expect(
                try store.cachedDigest(
                    for: FileVersion(device: 1, inode: 1, size: 1, modifiedNanoseconds: 1), algorithm: "python")
                    == "held")
        }
    }

    @Test(
        "a lock held longer than the busy timeout gives a busy error that says what to do",
        .enabled(if: Python.executable != nil, "needs python3 to hold a lock from another process"))
    func busyTimeoutExpires() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        _ = try RoarStore(path: directory.databasePath)
        let store = try RoarStore(path: directory.databasePath, busyTimeout: .milliseconds(300))
        let holder = try Python.holdWriteLock(on: directory.databasePath, seconds: 3)
        defer { holder.waitUntilExit() }
        let error = try #require(throws: StoreError.self) { try store.merge(MergeTests.pipeline()) }
        #expect(error.code == .busy)
        #expect(error.description.contains("cannot merge 3 jobs into \(directory.databasePath)"))
        #expect(error.description.contains("locked for more than 0.3 s"))
        holder.waitUntilExit()
        // Nothing of the failed merge landed; a retry does.
        #expect(try store.allJobs().isEmpty)
        try store.merge(MergeTests.pipeline())
        #expect(try store.allJobs().count == 3)
    }
}

/// Another process that takes the database's write lock: Python's standard `sqlite3` module.
enum Python {
    static let executable: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/python3"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()

    /// Starts a process that holds a write transaction on `path` for `seconds`, and returns once
    /// it holds the lock.
    static func holdWriteLock(on path: String, seconds: Double) throws -> Process {
        let script = """
            import sqlite3, sys, time
            connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT OR REPLACE INTO hash_cache VALUES (1, 1, 1, 1, 'python', 'held')")
            print("locked", flush=True)
            time.sleep(float(sys.argv[2]))
            connection.execute("COMMIT")
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable!)
        process.arguments = ["-c", script, path, String(seconds)]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let line = output.fileHandleForReading.readData(ofLength: 7)
        guard String(decoding: line, as: UTF8.self) == "locked\n" else {
            process.waitUntilExit()
            throw PythonFailure(status: process.terminationStatus)
        }
        return process
    }

    struct PythonFailure: Error {
        var status: Int32
    }
}

/// Runs `ConcurrencyTests.writerProcessChild` in a new process of this test bundle.
enum WriterProcess {
    static let databaseVariable = "ROAR_STORE_TEST_WRITER_DATABASE"
    static let indexVariable = "ROAR_STORE_TEST_WRITER_INDEX"
    static let goFileVariable = "ROAR_STORE_TEST_WRITER_GO_FILE"
    static let batches = 25
    static let jobsPerBatch = 4

    static var childDatabase: String? { ProcessInfo.processInfo.environment[databaseVariable] }

    /// On Linux `swift test` runs the test bundle as an executable, which can run one test of
    /// itself in a child process. Elsewhere (Xcode's `xctest` host) the thread test stands in.
    static var canSpawn: Bool {
        #if os(Linux)
            childDatabase == nil && CommandLine.arguments.first?.hasSuffix(".xctest") == true
        #else
            false
        #endif
    }

    static func start(index: Int, database: String, goFile: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["--testing-library", "swift-testing", "--filter", "writerProcessChild"]
        var environment = ProcessInfo.processInfo.environment
        environment[databaseVariable] = database
        environment[indexVariable] = String(index)
        environment[goFileVariable] = goFile
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }
}
