import Foundation
import NIOCore
import PostgresNIO

extension PostgresLineageStorage {
    static let sessionColumns = """
        s.id, s.project, s.run_id, s.key_fingerprint, s.created_at, s.expires_at, s.closed_at,
        (SELECT COUNT(*) FROM session_batches b WHERE b.session_id = s.id),
        (SELECT COALESCE(SUM(size), 0)::BIGINT FROM session_batches b WHERE b.session_id = s.id)
        """

    static func session(_ row: PostgresRow) throws -> FragmentSession {
        let (id, project, run, fingerprint, created, expires, closed, batches, bytes) = try row.decode(
            (String, String, String, String, Double, Double, Double?, Int64, Int64).self)
        return FragmentSession(
            id: id, project: project, runID: run, keyFingerprint: fingerprint, createdAt: created, expiresAt: expires,
            closedAt: closed, batchCount: Int(batches), byteCount: bytes)
    }

    public func createSession(_ new: NewFragmentSession) async throws(ServerError) -> FragmentSession {
        try await run("create a session") { connection, logger in
            try await connection.query(
                """
                INSERT INTO sessions (id, project, run_id, key_fingerprint, capability_digest, created_at, expires_at)
                VALUES (\(new.id), \(new.project), \(new.runID), \(new.keyFingerprint), \(new.capabilityDigest),
                        \(new.createdAt), \(new.expiresAt))
                """, logger: logger)
            return FragmentSession(
                id: new.id, project: new.project, runID: new.runID, keyFingerprint: new.keyFingerprint,
                createdAt: new.createdAt, expiresAt: new.expiresAt, closedAt: nil, batchCount: 0, byteCount: 0)
        }
    }

    public func session(id: String) async throws(ServerError) -> FragmentSession? {
        try await run("read a session") { connection, logger in
            try await connection.query(
                "SELECT \(unescaped: Self.sessionColumns) FROM sessions s WHERE s.id = \(id)", logger: logger
            ).collect().first.map(Self.session)
        }
    }

    public func session(capabilityDigest: String) async throws(ServerError) -> FragmentSession? {
        try await run("look up a capability") { connection, logger in
            try await connection.query(
                "SELECT \(unescaped: Self.sessionColumns) FROM sessions s WHERE s.capability_digest = \(capabilityDigest)",
                logger: logger
            ).collect().first.map(Self.session)
        }
    }

    public func appendBatch(session: String, producer: String, sequenceNumber: UInt64, bytes: [UInt8])
        async throws(ServerError) -> AppendOutcome
    {
        let digest = AccessToken.digest(of: bytes)
        let seq = Int64(bitPattern: sequenceNumber)
        return try await transaction("store a batch") { connection, logger in
            let inserted = try await connection.query(
                """
                INSERT INTO session_batches (session_id, producer, seq, sha256, size, data)
                VALUES (\(session), \(producer), \(seq), \(digest), \(Int64(bytes.count)), \(ByteBuffer(bytes: bytes)))
                ON CONFLICT (session_id, producer, seq) DO NOTHING RETURNING cursor
                """, logger: logger
            ).collect()
            if let row = inserted.first { return .stored(cursor: try row.decode(Int64.self)) }
            let existing = try await connection.query(
                """
                SELECT cursor, sha256 FROM session_batches
                WHERE session_id = \(session) AND producer = \(producer) AND seq = \(seq)
                """, logger: logger
            ).collect()
            guard let row = existing.first else { return .conflict }
            let (cursor, stored) = try row.decode((Int64, String).self)
            return stored == digest ? .unchanged(cursor: cursor) : .conflict
        }
    }

    public func batches(session: String, page: PageRequest) async throws(ServerError) -> Page<StoredBatch> {
        try await run("list batches") { connection, logger in
            let rows = try await connection.query(
                """
                SELECT cursor, producer, seq, size, sha256 FROM session_batches
                WHERE session_id = \(session) AND cursor > \(page.after ?? 0) ORDER BY cursor LIMIT \(page.limit + 1)
                """, logger: logger
            ).collect()
            let items = try rows.map { row -> (Int64, StoredBatch) in
                let (cursor, producer, seq, size, sha256) = try row.decode((Int64, String, Int64, Int64, String).self)
                return (
                    cursor,
                    StoredBatch(
                        cursor: cursor, producer: producer, sequenceNumber: UInt64(bitPattern: seq), size: Int(size),
                        sha256: sha256)
                )
            }
            return Self.page(items, limit: page.limit)
        }
    }

    public func batch(session: String, producer: String, sequenceNumber: UInt64) async throws(ServerError) -> [UInt8]? {
        let seq = Int64(bitPattern: sequenceNumber)
        return try await run("read a batch") { connection, logger in
            try await connection.query(
                """
                SELECT data FROM session_batches WHERE session_id = \(session) AND producer = \(producer) AND seq = \(seq)
                """, logger: logger
            ).collect().first.map { Array(buffer: try $0.decode(ByteBuffer.self)) }
        }
    }

    public func updateSession(id: String, expiresAt: Double?, closedAt: Double?) async throws(ServerError) {
        try await run("update a session") { connection, logger in
            if let expiresAt {
                try await connection.query(
                    "UPDATE sessions SET expires_at = \(expiresAt) WHERE id = \(id)", logger: logger)
            }
            if let closedAt {
                try await connection.query(
                    "UPDATE sessions SET closed_at = COALESCE(closed_at, \(closedAt)) WHERE id = \(id)", logger: logger)
            }
        }
    }

    public func removeExpiredSessions(now: Double) async throws(ServerError) -> Int {
        try await run("remove expired sessions") { connection, logger in
            try await connection.query(
                "DELETE FROM sessions WHERE expires_at < \(now) RETURNING id", logger: logger
            ).collect().count
        }
    }
}
