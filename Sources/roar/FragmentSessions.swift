import Foundation
import RoarConfig
import RoarRaySubmit
import RoarServerClient

/// The lineage server's fragment sessions over HTTP, for a streamed host-submit
/// (RoarRaySubmit.FragmentSessionService): the user's token from `roar login` or `ROAR_TOKEN`.
struct HTTPFragmentSessions: FragmentSessionService {
    let client: LineageServerClient

    var server: String { client.server }

    /// The service for `server`, or why there is none (no token).
    static func connector(environment: [String: String], attempts: Int = 4) -> FragmentSessionConnector {
        { server in
            let credentials: ServerCredentials
            do {
                credentials = try ServerCredentials.load(environment: environment)
            } catch {
                return .failure(RaySubmitError(.streamingFailed, "\(error)"))
            }
            guard let token = credentials.token(for: server, environment: environment) else {
                return .failure(
                    RaySubmitError(
                        .streamingFailed, "roar has no token for it (run `roar login \(server)`, or set ROAR_TOKEN)"))
            }
            return .success(
                HTTPFragmentSessions(
                    client: LineageServerClient(server: server, token: token, attempts: attempts, timeoutSeconds: 30)))
        }
    }

    /// `glaas.url` as the target of a host-submit's stream, with `ROAR_CLUSTER_GLAAS_URL` when the
    /// cluster reaches the server by another address; nil when no server is configured.
    static func target(config: RoarConfig, projectDirectory: String, environment: [String: String]) -> StreamingTarget?
    {
        guard let url = config.glaas.url, !url.isEmpty else { return nil }
        let server = url.hasSuffix("/") ? String(url.dropLast()) : url
        return StreamingTarget(
            server: server, clusterServer: environment["ROAR_CLUSTER_GLAAS_URL"],
            project: ServerProjectName.derived(fromDirectory: projectDirectory),
            connect: connector(environment: environment))
    }

    func createSession(project: String, runID: String, keyFingerprint: String, ttlSeconds: Int)
        throws(RaySubmitError) -> CreatedFragmentSession
    {
        let created = try blocking {
            try await client.createSession(
                project: project, runID: runID, keyFingerprint: keyFingerprint, ttlSeconds: ttlSeconds)
        }
        return CreatedFragmentSession(id: created.session.id, capability: created.capability)
    }

    func batches(session: String, after cursor: Int64?) throws(RaySubmitError) -> [ListedSessionBatch] {
        try blocking { try await client.batches(session: session, after: cursor) }.map {
            ListedSessionBatch(cursor: $0.cursor, producer: $0.producer, seq: $0.seq)
        }
    }

    func batch(session: String, producer: String, seq: UInt64) throws(RaySubmitError) -> [UInt8] {
        try blocking { try await client.batch(session: session, producer: producer, seq: seq) }
    }

    func closeSession(_ id: String) throws(RaySubmitError) {
        try blocking { try await client.closeSession(id) }
    }

    func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws(RaySubmitError) -> T {
        do {
            return try runBlocking(body)
        } catch {
            throw RaySubmitError(.streamingFailed, "\(error)")
        }
    }
}
