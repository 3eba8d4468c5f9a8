import Foundation
import GRDB

extension SQLiteLineageStorage {
    static let sessionColumns = """
        s.id, s.project, s.run_id, s.key_fingerprint, s.created_at, s.expires_at, s.closed_at,
        (SELECT COUNT(*) FROM session_batches b WHERE b.session_id = s.id) AS batches,
        (SELECT COALESCE(SUM(size), 0) FROM session_batches b WHERE b.session_id = s.id) AS bytes
        """

    static func session(_ row: Row) -> FragmentSession {
        FragmentSession(
            id: row["id"], project: row["project"], runID: row["run_id"], keyFingerprint: row["key_fingerprint"],
            createdAt: row["created_at"], expiresAt: row["expires_at"], closedAt: row["closed_at"],
            batchCount: row["batches"], byteCount: row["bytes"])
    }

    public func createSession(_ new: NewFragmentSession) async throws(ServerError) -> FragmentSession {
        try await writing("create a session") { db in
            try db.execute(
                sql: """
                    INSERT INTO sessions (id, project, run_id, key_fingerprint, capability_digest, created_at, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    new.id, new.project, new.runID, new.keyFingerprint, new.capabilityDigest, new.createdAt,
                    new.expiresAt,
                ])
            return FragmentSession(
                id: new.id, project: new.project, runID: new.runID, keyFingerprint: new.keyFingerprint,
                createdAt: new.createdAt, expiresAt: new.expiresAt, closedAt: nil, batchCount: 0, byteCount: 0)
        }
    }

    public func session(id: String) async throws(ServerError) -> FragmentSession? {
        try await reading("read a session") { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.sessionColumns) FROM sessions s WHERE s.id = ?", arguments: [id])
                .map(Self.session)
        }
    }

    public func session(capabilityDigest: String) async throws(ServerError) -> FragmentSession? {
        try await reading("look up a capability") { db in
            try Row.fetchOne(
                db, sql: "SELECT \(Self.sessionColumns) FROM sessions s WHERE s.capability_digest = ?",
                arguments: [capabilityDigest]
            ).map(Self.session)
        }
    }

    public func appendBatch(session: String, producer: String, sequenceNumber: UInt64, bytes: [UInt8])
        async throws(ServerError) -> AppendOutcome
    {
        let digest = AccessToken.digest(of: bytes)
        return try await writing("store a batch") { db in
            if let row = try Row.fetchOne(
                db, sql: "SELECT cursor, sha256 FROM session_batches WHERE session_id = ? AND producer = ? AND seq = ?",
                arguments: [session, producer, Int64(bitPattern: sequenceNumber)])
            {
                return (row["sha256"] as String) == digest ? .unchanged(cursor: row["cursor"]) : .conflict
            }
            try db.execute(
                sql:
                    "INSERT INTO session_batches (session_id, producer, seq, sha256, size, data) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [session, producer, Int64(bitPattern: sequenceNumber), digest, bytes.count, Data(bytes)])
            return .stored(cursor: db.lastInsertedRowID)
        }
    }

    public func batches(session: String, page: PageRequest) async throws(ServerError) -> Page<StoredBatch> {
        try await reading("list batches") { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT cursor AS id, producer, seq, size, sha256 FROM session_batches
                    WHERE session_id = ? AND cursor > ? ORDER BY cursor LIMIT ?
                    """,
                arguments: [session, page.after ?? 0, page.limit + 1])
            return Self.page(rows, limit: page.limit) { row in
                StoredBatch(
                    cursor: row["id"], producer: row["producer"], sequenceNumber: UInt64(bitPattern: row["seq"]),
                    size: row["size"], sha256: row["sha256"])
            }
        }
    }

    public func batch(session: String, producer: String, sequenceNumber: UInt64) async throws(ServerError) -> [UInt8]? {
        try await reading("read a batch") { db in
            try Data.fetchOne(
                db, sql: "SELECT data FROM session_batches WHERE session_id = ? AND producer = ? AND seq = ?",
                arguments: [session, producer, Int64(bitPattern: sequenceNumber)]
            ).map { Array($0) }
        }
    }

    public func updateSession(id: String, expiresAt: Double?, closedAt: Double?) async throws(ServerError) {
        try await writing("update a session") { db in
            if let expiresAt {
                try db.execute(sql: "UPDATE sessions SET expires_at = ? WHERE id = ?", arguments: [expiresAt, id])
            }
            if let closedAt {
                try db.execute(
                    sql: "UPDATE sessions SET closed_at = COALESCE(closed_at, ?) WHERE id = ?",
                    arguments: [closedAt, id])
            }
        }
    }

    public func removeExpiredSessions(now: Double) async throws(ServerError) -> Int {
        try await writing("remove expired sessions") { db in
            try db.execute(sql: "DELETE FROM sessions WHERE expires_at < ?", arguments: [now])
            return db.changesCount
        }
    }
}
