import Foundation
import GRDB
import RoarCore

/// The project's lineage database, `.roar/roar.db`: jobs, what they read and wrote, the artifacts
/// (contents) behind those refs, and a cache of file digests.
///
/// Several `roar` processes may use one project at once. The database is in WAL mode
/// (<https://www.sqlite.org/wal.html>): readers never block the writer, and a writer waits up to
/// the busy timeout (10 s by default) for another writer to finish
/// (<https://www.sqlite.org/c3ref/busy_timeout.html>). Each write — one whole ``merge(_:)`` —
/// is one `BEGIN IMMEDIATE` transaction, so it lands entirely or not at all.
///
/// Every method either completes or throws ``StoreError``.
public final class RoarStore: Sendable {
    /// The database file.
    public let path: String
    let pool: DatabasePool
    let busyTimeoutSeconds: Double

    /// Opens the database at `path`, creating it when missing and migrating it to this build's
    /// schema. The directory (the project's `.roar`) must exist: the caller creates it.
    ///
    /// - Throws: ``StoreError`` with code `.newerSchema` when a newer roar wrote the database (it
    ///   is left unchanged), `.cannotOpen`/`.readOnly` when the file or directory is not
    ///   accessible, `.corrupt` when the file is not a roar database.
    public convenience init(path: String, busyTimeout: Duration = .seconds(10)) throws(StoreError) {
        try self.init(path: path, busyTimeout: busyTimeout, creatingIfMissing: true)
    }

    /// Opens a database that must already exist (for read commands such as `roar log`, which
    /// should not create `.roar/roar.db` as a side effect).
    ///
    /// - Throws: ``StoreError`` with code `.notFound` when there is no file at `path`, and the
    ///   errors of ``init(path:busyTimeout:)``.
    public static func openExisting(path: String, busyTimeout: Duration = .seconds(10)) throws(StoreError)
        -> RoarStore
    {
        try RoarStore(path: path, busyTimeout: busyTimeout, creatingIfMissing: false)
    }

    private init(path: String, busyTimeout: Duration, creatingIfMissing: Bool) throws(StoreError) {
        let seconds = Double(busyTimeout.components.seconds) + Double(busyTimeout.components.attoseconds) / 1e18
        let directory = (path as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path) {
            if !creatingIfMissing {
                throw StoreError(
                    code: .notFound, path: path,
                    message: "no roar database at \(path): run a command with `roar run` in this project first, "
                        + "or run roar from the project's root")
            }
            if !FileManager.default.fileExists(atPath: directory.isEmpty ? "." : directory, isDirectory: &isDirectory)
                || !isDirectory.boolValue
            {
                throw StoreError(
                    code: .cannotOpen, path: path,
                    message: "cannot create \(path): the directory \(directory) does not exist. Create it first")
            }
        }

        var configuration = Configuration()
        configuration.label = "roar.db"
        configuration.busyMode = .timeout(seconds)
        configuration.foreignKeysEnabled = true
        configuration.maximumReaderCount = 2
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StoreError.wrapping(error, path: path, operation: "open", access: .open, busyTimeout: seconds)
        }
        self.path = path
        self.pool = pool
        self.busyTimeoutSeconds = seconds
        try migrate()
    }

    /// Refuses a database migrated by a newer roar, then applies this build's migrations.
    private func migrate() throws(StoreError) {
        let migrator = Schema.migrator
        let unknown = try read("open") { db in
            try migrator.appliedIdentifiers(db).subtracting(migrator.migrations).sorted()
        }
        if !unknown.isEmpty {
            throw StoreError(
                code: .newerSchema, path: path,
                message: "\(path) was written by a newer roar (schema \(unknown.joined(separator: ", "))); "
                    + "this roar knows schema \(migrator.migrations.last ?? "none"). Upgrade roar to use this project")
        }
        // Two processes opening a new project at once both see no migration applied; the second
        // one's `CREATE TABLE` then fails after the first has committed. When that happens the
        // schema is complete and the failure is harmless, so check before reporting it.
        var attempt = 0
        while true {
            attempt += 1
            do {
                try migrator.migrate(pool)
                return
            } catch {
                let isComplete = (try? pool.read { db in try migrator.hasCompletedMigrations(db) }) ?? false
                if isComplete { return }
                if attempt >= 3 {
                    throw StoreError.wrapping(
                        error, path: path, operation: "create the tables of", access: .write,
                        busyTimeout: busyTimeoutSeconds)
                }
            }
        }
    }

    // MARK: - Access helpers

    /// Runs `body` in a read transaction (a consistent snapshot), mapping errors to `StoreError`.
    func read<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.read(body)
        } catch {
            throw StoreError.wrapping(
                error, path: path, operation: operation, access: .read, busyTimeout: busyTimeoutSeconds)
        }
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction, committed when it returns and rolled
    /// back when it throws.
    func write<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.write(body)
        } catch {
            throw StoreError.wrapping(
                error, path: path, operation: operation, access: .write, busyTimeout: busyTimeoutSeconds)
        }
    }

    // MARK: - Sessions and steps

    /// The project's session, created on first use.
    public func currentSession() throws(StoreError) -> StoreSession {
        let existing = try read("read the session of") { db in
            try SessionRow.order(SessionRow.CodingKeys.id).fetchOne(db)
        }
        if let existing { return StoreSession(uid: existing.uid, createdAt: existing.createdAt) }
        let row = try write("create the session in") { db in try SessionRow.current(db) }
        return StoreSession(uid: row.uid, createdAt: row.createdAt)
    }

    /// The step number for the next `roar run`: one more than the highest step, 1 for an empty
    /// store. Two processes that ask at the same time get the same number (they then share a step).
    public func nextStep() throws(StoreError) -> Int {
        try read("read the last step of") { db in
            try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(step), 0) + 1 FROM jobs") ?? 1
        }
    }
}

extension SessionRow {
    /// The first session, created when there is none. Must run in a write transaction.
    static func current(_ db: Database) throws -> SessionRow {
        if let row = try SessionRow.order(CodingKeys.id).fetchOne(db) { return row }
        var generator = SystemRandomNumberGenerator()
        let uid = String(generator.next() as UInt64, radix: 16).leftPadded(to: 16)
        var row = SessionRow(id: nil, uid: uid, createdAt: Date().timeIntervalSince1970)
        try row.insert(db)
        return row
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
