import Foundation
import Hummingbird
import NIOCore
import RoarCore
import RoarTransport

/// Fragment sessions under `/api/v1` (docs/server-api.md, "Fragment sessions"): a host makes a
/// session for a run and gets a capability that writes to that session only; the run's node
/// agents file sealed batches with it while the job runs; the host lists and fetches them.
struct SessionRoutes {
    let storage: any LineageStorage
    let maximumBodyBytes: Int
    static let defaultTimeToLive = 24 * 3600
    static let maximumTimeToLive = 7 * 24 * 3600

    func add(to group: RouterGroup<LineageRequestContext>) {
        group.post("projects/{project}/sessions") { request, context in try await create(request, context) }
        group.get("sessions/{session}") { _, context in try await show(context) }
        group.put("sessions/{session}/batches/{producer}/{seq}") { request, context in
            try await append(request, context)
        }
        group.get("sessions/{session}/batches") { request, context in try await list(request, context) }
        group.get("sessions/{session}/batches/{producer}/{seq}") { _, context in try await fetch(context) }
        group.post("sessions/{session}/renew") { request, context in try await renew(request, context) }
        group.post("sessions/{session}/close") { _, context in try await close(context) }
    }

    struct Created: Encodable {
        var session: FragmentSession
        var capability: String
    }

    func create(_ request: Request, _ context: LineageRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let project = context.parameters.get("project") ?? ""
        guard ProjectName.isValid(project) else { throw ServerError(.badRequest, "project: \(ProjectName.rule)") }
        guard identity.may(.writer, project: project) else {
            throw ServerError(.forbidden, "token \(identity.name) may not write project \(project)")
        }
        let body = try await RequestBodies.jsonObject(request, limit: 64 << 10)
        var reader = FieldReader(path: "")
        let runID = try reader.identifier(body, "run_id")
        let fingerprint = try reader.string(body, "key_fingerprint")
        guard fingerprint.count == 64, fingerprint.allSatisfy(\.isHexDigit) else {
            throw reader.error("key_fingerprint", "expected the SHA-256 (64 hex digits) of the run's public key")
        }
        let ttl = try Self.timeToLive(body, reader)
        let now = Date().timeIntervalSince1970
        _ = try await storage.removeExpiredSessions(now: now)
        let capability = AccessToken.generate(prefix: AccessToken.capabilityPrefix)
        let session = try await storage.createSession(
            NewFragmentSession(
                id: Self.newSessionID(), project: project, runID: runID, keyFingerprint: fingerprint.lowercased(),
                capabilityDigest: AccessToken.digest(of: capability), createdAt: now, expiresAt: now + Double(ttl)))
        var response = try JSONResponse.encode(Created(session: session, capability: capability))
        response.status = .created
        return response
    }

    func show(_ context: LineageRequestContext) async throws -> Response {
        try JSONResponse.encode(try await readableSession(context))
    }

    func append(_ request: Request, _ context: LineageRequestContext) async throws -> Response {
        let session = try await writableSession(context)
        let producer = context.parameters.get("producer") ?? ""
        guard let seq = context.parameters.get("seq").flatMap(UInt64.init) else {
            throw ServerError(.badRequest, "seq: expected the batch's sequence number (an unsigned integer)")
        }
        let bytes = try await RequestBodies.bytes(request, limit: maximumBodyBytes)
        let header: SealedBatchHeader
        do {
            header = try SealedBatchHeader(reading: bytes)
        } catch {
            throw ServerError(.badRequest, "the body is not a sealed roar batch: \(error)")
        }
        // The server cannot tell a genuine batch (only the host can), but it files none under a
        // name other than its own header's.
        guard header.producer == producer, header.sequenceNumber == seq else {
            throw ServerError(
                .badRequest,
                "the batch's header names \(header.producer)#\(header.sequenceNumber), not \(producer)#\(seq)")
        }
        guard header.sessionID == session.runID else {
            throw ServerError(
                .badRequest, "the batch belongs to run \(header.sessionID.prefix(64)), not this session's")
        }
        switch try await storage.appendBatch(session: session.id, producer: producer, sequenceNumber: seq, bytes: bytes)
        {
        case .stored(let cursor):
            var response = JSONResponse.raw(#"{"cursor":\#(cursor),"stored":true}"#)
            response.status = .created
            return response
        case .unchanged(let cursor):
            return JSONResponse.raw(#"{"cursor":\#(cursor),"stored":false}"#)
        case .conflict:
            throw ServerError(.conflict, "batch \(producer)#\(seq) is already filed with other bytes")
        }
    }

    func list(_ request: Request, _ context: LineageRequestContext) async throws -> Response {
        let session = try await readableSession(context)
        return try JSONResponse.encode(
            try await storage.batches(session: session.id, page: try QueryParameters.page(request)))
    }

    func fetch(_ context: LineageRequestContext) async throws -> Response {
        let session = try await readableSession(context)
        let producer = context.parameters.get("producer") ?? ""
        guard let seq = context.parameters.get("seq").flatMap(UInt64.init),
            let bytes = try await storage.batch(session: session.id, producer: producer, sequenceNumber: seq)
        else {
            throw ServerError(
                .notFound, "no batch \(producer.prefix(80))#\(context.parameters.get("seq") ?? "") in this session")
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/octet-stream"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func renew(_ request: Request, _ context: LineageRequestContext) async throws -> Response {
        let session = try await ownedSession(context, needs: .writer)
        let body = try await RequestBodies.jsonObject(request, limit: 64 << 10)
        let ttl = try Self.timeToLive(body, FieldReader(path: ""))
        try await storage.updateSession(
            id: session.id, expiresAt: Date().timeIntervalSince1970 + Double(ttl), closedAt: nil)
        return try JSONResponse.encode(try await storage.session(id: session.id))
    }

    func close(_ context: LineageRequestContext) async throws -> Response {
        let session = try await writableSession(context)
        try await storage.updateSession(id: session.id, expiresAt: nil, closedAt: Date().timeIntervalSince1970)
        return try JSONResponse.encode(try await storage.session(id: session.id))
    }

    // MARK: - Which session, and who may

    /// The route's session, unexpired, that the request may read: a token with `reader` on its project.
    func readableSession(_ context: LineageRequestContext) async throws -> FragmentSession {
        try await ownedSession(context, needs: .reader)
    }

    func ownedSession(_ context: LineageRequestContext, needs role: ProjectRole) async throws -> FragmentSession {
        let identity = try context.requireIdentity()
        let session = try await liveSession(context)
        guard identity.may(role, project: session.project) else {
            throw ServerError(.forbidden, "token \(identity.name) may not use sessions of project \(session.project)")
        }
        return session
    }

    /// The route's session, open and unexpired, that the request may write: its capability, or a
    /// token with `writer` on its project.
    func writableSession(_ context: LineageRequestContext) async throws -> FragmentSession {
        let session: FragmentSession
        if let capability = context.capability {
            guard capability.id == context.parameters.get("session") else {
                throw ServerError(.forbidden, "this capability writes to another session")
            }
            session = try await liveSession(context)
        } else {
            session = try await ownedSession(context, needs: .writer)
        }
        if session.closedAt != nil { throw ServerError(.conflict, "session \(session.id) is closed") }
        return session
    }

    func liveSession(_ context: LineageRequestContext) async throws -> FragmentSession {
        let id = context.parameters.get("session") ?? ""
        guard FieldReader.isIdentifier(id), let session = try await storage.session(id: id) else {
            throw ServerError(.notFound, "no session \(id.prefix(64))")
        }
        guard session.expiresAt > Date().timeIntervalSince1970 else {
            throw ServerError(.gone, "session \(id) expired; the host can make a new one")
        }
        return session
    }

    static func timeToLive(_ body: [String: JSONValue], _ reader: FieldReader) throws(ServerError) -> Int {
        guard let value = try reader.optionalInteger(body, "ttl_s") else { return defaultTimeToLive }
        guard (1...Int64(maximumTimeToLive)).contains(value) else {
            throw reader.error("ttl_s", "expected seconds from 1 to \(maximumTimeToLive), got \(value)")
        }
        return Int(value)
    }

    static func newSessionID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
