import Foundation
import RoarCore
import Testing

@testable import RoarStore

@Suite("Opening")
struct OpeningTests {
    @Test("a new database gets WAL mode, the busy timeout and schema v1")
    func freshDatabase() throws {
        try withStore { store, directory throws in
            #expect(try store.queryUnchecked("PRAGMA journal_mode") == [["wal"]])
            #expect(try store.queryUnchecked("PRAGMA busy_timeout") == [["10000"]])
            #expect(try store.queryUnchecked("PRAGMA foreign_keys") == [["1"]])
            let migrations = try store.queryUnchecked("SELECT identifier FROM grdb_migrations ORDER BY 1")
            #expect(migrations == [["v1"], ["v2"], ["v3"], ["v4"]])
            #expect(FileManager.default.fileExists(atPath: directory.databasePath))
        }
    }

    @Test("openExisting refuses a missing database and creates nothing")
    func openExistingMissing() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let error = try #require(throws: StoreError.self) { try RoarStore.openExisting(path: directory.databasePath) }
        #expect(error.code == .notFound)
        #expect(error.description.contains(directory.databasePath))
        #expect(!FileManager.default.fileExists(atPath: directory.databasePath))

        _ = try RoarStore(path: directory.databasePath)
        _ = try RoarStore.openExisting(path: directory.databasePath)
    }

    @Test("a missing .roar directory is reported, not created")
    func missingDirectory() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/.roar/roar.db"
        let error = try #require(throws: StoreError.self) { try RoarStore(path: path) }
        #expect(error.code == .cannotOpen)
        #expect(error.description.contains("\(directory.path)/.roar does not exist"))
    }

    @Test("a database written by a newer roar is refused with a clear message and left unchanged")
    func newerSchemaIsRejected() throws {
        try withStore { store, directory in
            try store.merge(MergeTests.pipeline())
            try store.executeUnchecked("INSERT INTO grdb_migrations (identifier) VALUES ('v99')")
            let before = try store.tableContents()

            for open in [
                { try RoarStore(path: directory.databasePath) },
                { try RoarStore.openExisting(path: directory.databasePath) },
            ] {
                let error = try #require(throws: StoreError.self) { _ = try open() }
                #expect(error.code == .newerSchema)
                #expect(
                    error.description.contains("\(directory.databasePath) was written by a newer roar (schema v99)"))
                #expect(error.description.contains("Upgrade roar"))
            }
            #expect(try store.tableContents() == before)
        }
    }

    @Test("a database from before v2 gets the fingerprint column; its jobs are rewritten once")
    func migrationFromVersion1() throws {
        try withStore { store, directory in
            try store.merge(MergeTests.pipeline())
            try store.executeUnchecked(
                "ALTER TABLE jobs DROP COLUMN fingerprint; DELETE FROM grdb_migrations WHERE identifier = 'v2'")

            let reopened = try RoarStore(path: directory.databasePath)
            #expect(try reopened.allJobs() == MergeTests.pipeline())
            #expect(try reopened.merge(MergeTests.pipeline()) == MergeResult(replacedJobs: 3))
            #expect(try reopened.merge(MergeTests.pipeline()) == MergeResult(unchangedJobs: 3))
        }
    }

    @Test("a file that is not a database is reported as such")
    func notADatabase() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let garbage = String(repeating: "this is not an SQLite file\n", count: 100)
        try garbage.write(toFile: directory.databasePath, atomically: true, encoding: .utf8)
        let error = try #require(throws: StoreError.self) { try RoarStore(path: directory.databasePath) }
        #expect(error.code == .corrupt)
        #expect(error.description.contains("\(directory.databasePath): it is not a roar database"))
        #expect(try String(contentsOfFile: directory.databasePath, encoding: .utf8) == garbage)
    }

    @Test("a path under a regular file cannot be opened")
    func parentIsAFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.path + "/.roar"
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        let error = try #require(throws: StoreError.self) { try RoarStore(path: file + "/roar.db") }
        #expect(error.code == .cannotOpen)
        #expect(error.description.contains(file))
    }

    @Test("an unwritable directory gives an error naming it and what to do")
    func unwritableDirectory() throws {
        guard let unwritable = UnwritableDirectory.make() else {
            // Root ignores permission bits; with no read-only directory at hand there is nothing to test.
            return
        }
        defer { unwritable.cleanUp() }
        let path = unwritable.path + "/roar.db"
        let error = try #require(throws: StoreError.self) { try RoarStore(path: path) }
        #expect([.cannotOpen, .readOnly].contains(error.code))
        #expect(error.description.contains(path))
        #expect(error.description.contains("\(unwritable.path) exists and that you may write to it"))
    }
}

/// A directory in which this process cannot create files: a temporary directory with mode
/// 0555, or (as root, which ignores permission bits) a directory of a pseudo file system.
struct UnwritableDirectory {
    let path: String
    let cleanUp: () -> Void

    static func make() -> UnwritableDirectory? {
        if let directory = try? TemporaryDirectory() {
            chmod(directory.path, 0o555)
            if !canCreateFile(in: directory.path) {
                return UnwritableDirectory(path: directory.path) {
                    chmod(directory.path, 0o755)
                    directory.remove()
                }
            }
            chmod(directory.path, 0o755)
            directory.remove()
        }
        for candidate in ["/sys", "/proc/self"] where !canCreateFile(in: candidate) {
            return UnwritableDirectory(path: candidate) {}
        }
        return nil
    }

    private static func canCreateFile(in directory: String) -> Bool {
        let probe = directory + "/roar-probe-\(UUID().uuidString)"
        let descriptor = open(probe, O_CREAT | O_EXCL | O_WRONLY, 0o600)
        if descriptor < 0 { return false }
        close(descriptor)
        unlink(probe)
        return true
    }
}
