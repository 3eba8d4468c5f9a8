import Foundation
import NIOHTTP1

/// The fragment-session routes (docs/server-api.md, "Fragment sessions") as the host uses them
/// for a streamed host-submit: make the run's session, list and fetch what the cluster filed,
/// close it once the run is recorded. The capability the session comes with is for the cluster;
/// the host itself reads with its user's token.
extension LineageServerClient {
    public struct Session: Decodable, Sendable {
        public var id: String
        public var project: String
        public var runID: String
        public var keyFingerprint: String
        public var expiresAt: Double
        public var closedAt: Double?
        public var batches: Int
        public var bytes: Int64

        enum CodingKeys: String, CodingKey {
            case id, project, batches, bytes
            case runID = "run_id"
            case keyFingerprint = "key_fingerprint"
            case expiresAt = "expires_at"
            case closedAt = "closed_at"
        }
    }

    public struct CreatedSession: Decodable, Sendable {
        public var session: Session
        /// Writes batches into this session and nothing else: what the job's environment carries.
        public var capability: String
    }

    public struct ListedBatch: Decodable, Sendable, Hashable {
        public var cursor: Int64
        public var producer: String
        public var seq: UInt64
        public var size: Int
        public var sha256: String
    }

    struct BatchPage: Decodable {
        var items: [ListedBatch]
        var next: String?
    }

    struct NewSession: Encodable {
        var runID: String
        var keyFingerprint: String
        var ttlSeconds: Int

        enum CodingKeys: String, CodingKey {
            case runID = "run_id"
            case keyFingerprint = "key_fingerprint"
            case ttlSeconds = "ttl_s"
        }
    }

    public func createSession(project: String, runID: String, keyFingerprint: String, ttlSeconds: Int)
        async throws(ClientError) -> CreatedSession
    {
        let body = Array(
            (try? JSONEncoder().encode(NewSession(runID: runID, keyFingerprint: keyFingerprint, ttlSeconds: ttlSeconds)))
                ?? Data())
        let answer = try await call(.POST, "/api/v1/projects/\(project)/sessions", body: body)
        return try decode(CreatedSession.self, answer, what: "a new session")
    }

    public func session(_ id: String) async throws(ClientError) -> Session {
        try decode(Session.self, try await call(.GET, "/api/v1/sessions/\(id)"), what: "session \(id)")
    }

    /// Every batch filed after `cursor`, in arrival order (all pages).
    public func batches(session id: String, after cursor: Int64?) async throws(ClientError) -> [ListedBatch] {
        var listed: [ListedBatch] = []
        var after = cursor.map(String.init)
        repeat {
            let query = "?limit=1000" + (after.map { "&after=\($0)" } ?? "")
            let page = try decode(
                BatchPage.self, try await call(.GET, "/api/v1/sessions/\(id)/batches" + query),
                what: "the batches of session \(id)")
            listed += page.items
            after = page.next
        } while after != nil
        return listed
    }

    public func batch(session id: String, producer: String, seq: UInt64) async throws(ClientError) -> [UInt8] {
        try await call(.GET, "/api/v1/sessions/\(id)/batches/\(producer)/\(seq)")
    }

    public func closeSession(_ id: String) async throws(ClientError) {
        _ = try await call(.POST, "/api/v1/sessions/\(id)/close")
    }
}
