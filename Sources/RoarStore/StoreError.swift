import Foundation
import GRDB

/// The one error `RoarStore` throws: what went wrong with which database file, and what to do.
///
/// A store operation either completes or throws this error and changes nothing: every write
/// runs in one transaction that is rolled back on failure.
public struct StoreError: Error, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The database file or its directory cannot be opened or created.
        case cannotOpen
        /// ``RoarStore/openExisting(path:)`` found no database at the path.
        case notFound
        /// The database was migrated by a newer roar; this build does not know its schema.
        case newerSchema
        /// The file is not an SQLite database, is damaged, or holds rows this roar cannot read.
        case corrupt
        /// Another process held the database lock for longer than the busy timeout.
        case busy
        /// The file, its directory or the file system is read-only.
        case readOnly
        /// A write failed for another reason (disk full, I/O error, constraint).
        case writeFailed
        /// A read failed for another reason.
        case readFailed
        /// Nothing recorded matches what was asked for (``RoarStore/lookUp(_:currentDirectory:)``).
        case noMatch
    }

    public let code: Code
    /// The database file the error is about.
    public let path: String
    /// What happened and what to do, naming the file.
    public let message: String
    /// The SQLite, file system or decoding error behind this one, if any.
    public let underlyingError: (any Error)?

    public init(code: Code, path: String, message: String, underlyingError: (any Error)? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.underlyingError = underlyingError
    }

    public var description: String {
        guard let underlyingError else { return message }
        return "\(message) [\(Self.describe(underlyingError))]"
    }

    private static func describe(_ error: any Error) -> String {
        if let databaseError = error as? DatabaseError {
            // DatabaseError's description repeats the SQL and its arguments; the code and the
            // message are what a reader needs.
            let message = databaseError.message ?? "\(databaseError.resultCode)"
            return "SQLite error \(databaseError.extendedResultCode.rawValue): \(message)"
        }
        return String(describing: error)
    }
}

extension StoreError {
    /// Which kind of access failed, for the wording of the message.
    enum Access {
        case open, read, write
    }

    /// Maps an error thrown by GRDB, SQLite or Foundation while `operation` ran (e.g. "merge 3
    /// jobs into") to a `StoreError` whose message names the file and what to do.
    static func wrapping(
        _ error: any Error, path: String, operation: String, access: Access, busyTimeout: Double
    ) -> StoreError {
        if let storeError = error as? StoreError { return storeError }
        let directory = (path as NSString).deletingLastPathComponent
        let seconds = busyTimeout.rounded() == busyTimeout ? "\(Int(busyTimeout))" : "\(busyTimeout)"
        guard let databaseError = error as? DatabaseError else {
            if error is RowContentError || error is RowDecodingError || error is DecodingError {
                return StoreError(
                    code: .corrupt, path: path,
                    message: "cannot \(operation) \(path): a row could not be read; the file may have been "
                        + "edited by hand or damaged. Move it aside and run roar again, or restore a backup",
                    underlyingError: error)
            }
            return StoreError(
                code: access == .write ? .writeFailed : (access == .open ? .cannotOpen : .readFailed),
                path: path, message: "cannot \(operation) \(path)", underlyingError: error)
        }
        switch databaseError.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return StoreError(
                code: .busy, path: path,
                message: "cannot \(operation) \(path): another process kept the database locked for more than "
                    + "\(seconds) s. Run the command again once the other roar process has finished",
                underlyingError: error)
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH:
            return StoreError(
                code: .cannotOpen, path: path,
                message: "cannot \(operation) \(path): the file cannot be opened or created. Check that "
                    + "\(directory) exists and that you may write to it (roar keeps roar.db, roar.db-wal and "
                    + "roar.db-shm there)",
                underlyingError: error)
        case .SQLITE_READONLY:
            return StoreError(
                code: .readOnly, path: path,
                message: "cannot \(operation) \(path): the database is read-only. Make \(directory) and the "
                    + "roar.db* files in it writable by you",
                underlyingError: error)
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return StoreError(
                code: .corrupt, path: path,
                message: "cannot \(operation) \(path): it is not a roar database or it is damaged. Move it "
                    + "aside (e.g. to roar.db.bad) and run roar again to start a new one, or restore a backup",
                underlyingError: error)
        case .SQLITE_FULL:
            return StoreError(
                code: .writeFailed, path: path,
                message: "cannot \(operation) \(path): the disk is full. Free some space and run again",
                underlyingError: error)
        default:
            let code: Code = access == .write ? .writeFailed : (access == .open ? .cannotOpen : .readFailed)
            return StoreError(
                code: code, path: path, message: "cannot \(operation) \(path)", underlyingError: error)
        }
    }
}
