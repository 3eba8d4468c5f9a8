/// Fragment sessions: where a host-submitted run's node agents leave their sealed batches while
/// the job runs, and the host picks them up (docs/server.md, "Fragment sessions"). The server
/// stores the envelopes as they come and can open none of them: it never sees a key.
public protocol FragmentSessionStorage: Sendable {
    /// A new session of `project` for one run; writes to it need the capability whose digest is given.
    func createSession(_ session: NewFragmentSession) async throws(ServerError) -> FragmentSession
    /// The session with this id, or nil (also once it was removed after expiring).
    func session(id: String) async throws(ServerError) -> FragmentSession?
    /// The session a capability token (by digest) may write to.
    func session(capabilityDigest: String) async throws(ServerError) -> FragmentSession?
    /// Files one batch under (producer, seq). The same bytes again: `.unchanged`; other bytes
    /// under a name already taken: `.conflict` (nothing changes).
    func appendBatch(session: String, producer: String, sequenceNumber: UInt64, bytes: [UInt8])
        async throws(ServerError) -> AppendOutcome
    /// The session's batches in the order they arrived, after a cursor.
    func batches(session: String, page: PageRequest) async throws(ServerError) -> Page<StoredBatch>
    /// One batch's bytes.
    func batch(session: String, producer: String, sequenceNumber: UInt64) async throws(ServerError) -> [UInt8]?
    /// Sets a new expiry; `closedAt` ends appends (reads go on until it expires).
    func updateSession(id: String, expiresAt: Double?, closedAt: Double?) async throws(ServerError)
    /// Removes sessions expired before `now`, with their batches; how many.
    func removeExpiredSessions(now: Double) async throws(ServerError) -> Int
}

public struct NewFragmentSession: Sendable {
    public var id: String
    public var project: String
    public var runID: String
    /// SHA-256 (hex) of the run's public key: lets the host check it talks about its own run;
    /// the key itself never reaches the server.
    public var keyFingerprint: String
    public var capabilityDigest: String
    public var createdAt: Double
    public var expiresAt: Double
}

public struct FragmentSession: Sendable, Codable, Hashable {
    public var id: String
    public var project: String
    public var runID: String
    public var keyFingerprint: String
    public var createdAt: Double
    public var expiresAt: Double
    public var closedAt: Double?
    public var batchCount: Int
    public var byteCount: Int64

    enum CodingKeys: String, CodingKey {
        case id, project
        case runID = "run_id"
        case keyFingerprint = "key_fingerprint"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case closedAt = "closed_at"
        case batchCount = "batches"
        case byteCount = "bytes"
    }
}

public struct StoredBatch: Sendable, Codable, Hashable {
    public var cursor: Int64
    public var producer: String
    public var sequenceNumber: UInt64
    public var size: Int
    /// SHA-256 (hex) of the bytes as stored: what a reader compares after fetching.
    public var sha256: String

    enum CodingKeys: String, CodingKey {
        case cursor, producer, size, sha256
        case sequenceNumber = "seq"
    }
}

public enum AppendOutcome: Sendable, Hashable {
    case stored(cursor: Int64)
    case unchanged(cursor: Int64)
    case conflict
}
