import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Sends OpenLineage RunEvents to any OpenLineage HTTP endpoint — Marquez, `roar serve`, a collector —
/// one event per request as Marquez takes them (`POST {url}/api/v1/lineage`), with `Authorization: Bearer
/// KEY` when an API key is given. Connection failures, 429 and 5xx are retried with backoff (`attempts` in
/// all); any other refusal is reported at once with the URL, the status and what the endpoint said.
/// Events are idempotent on both sides (roar's run ids are derived, the receiver keys by run and event),
/// so sending again after a failure is how to finish.
public struct OpenLineageClient: Sendable {
    /// Where events are POSTed: the URL given, with `/api/v1/lineage` added unless it already ends so.
    public var endpoint: String
    public var apiKey: String?
    public var attempts: Int
    public var timeoutSeconds: Int64
    /// The first wait between attempts, doubled after each (at most 8 s).
    public var initialDelaySeconds: Double

    public init(
        url: String, apiKey: String?, query: [(String, String)] = [], attempts: Int = 5, timeoutSeconds: Int64 = 60,
        initialDelaySeconds: Double = 0.25
    ) {
        self.endpoint = Self.endpoint(url: url, query: query)
        self.apiKey = apiKey.flatMap { $0.isEmpty ? nil : $0 }
        self.attempts = max(1, attempts)
        self.timeoutSeconds = timeoutSeconds
        self.initialDelaySeconds = initialDelaySeconds
    }

    /// `url` + `/api/v1/lineage` (unless its path already ends in it), with `query` added to its own query.
    public static func endpoint(url: String, query: [(String, String)]) -> String {
        var components = URLComponents(string: url) ?? URLComponents()
        var path = components.path
        while path.hasSuffix("/") { path.removeLast() }
        if !path.hasSuffix("/api/v1/lineage") { path += "/api/v1/lineage" }
        components.path = path
        if !query.isEmpty {
            let present = Set((components.queryItems ?? []).map(\.name))
            let added = query.filter { !present.contains($0.0) }.map { URLQueryItem(name: $0.0, value: $0.1) }
            components.queryItems = (components.queryItems ?? []) + added
        }
        return components.string ?? url
    }

    /// POSTs one event (its JSON body); returns how many attempts it took.
    @discardableResult
    public func send(_ body: [UInt8]) async throws(ClientError) -> Int {
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "User-Agent", value: "roar")
        request.headers.add(name: "Content-Type", value: "application/json")
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        request.body = .bytes(ByteBuffer(bytes: body))
        var delay = initialDelaySeconds
        var lastProblem = ""
        var lastStatus: Int?
        for attempt in 1...attempts {
            if attempt > 1 {
                try? await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 8)
            }
            let response: HTTPClientResponse
            let answer: [UInt8]
            do {
                // roar's client: a refused connection fails at once, so the retries here are the only ones.
                response = try await LineageServerClient.http.execute(request, timeout: .seconds(timeoutSeconds))
                answer = Array(buffer: try await response.body.collect(upTo: 1 << 20))
            } catch {
                lastProblem = "cannot reach \(endpoint): \(error)"
                lastStatus = nil
                continue
            }
            let status = Int(response.status.code)
            if (200..<300).contains(status) { return attempt }
            let said = Self.describe(answer)
            switch status {
            case 429, 500...:
                lastProblem = "\(endpoint) answered \(status)\(said)"
                lastStatus = status
                continue
            case 401:
                throw ClientError(
                    .unauthenticated,
                    "\(endpoint) refused the API key (401)\(said): give --api-key or set ROAR_OPENLINEAGE_API_KEY",
                    status: status)
            case 403: throw ClientError(.forbidden, "\(endpoint) refused the event (403)\(said)", status: status)
            default:
                throw ClientError(.rejected, "\(endpoint) rejected the event (\(status))\(said)", status: status)
            }
        }
        throw ClientError(
            lastStatus == nil ? .unreachable : .serverFailed, "\(lastProblem) (after \(attempts) attempts)",
            status: lastStatus)
    }

    /// `: <message>` from roar's `{"error": {"message"}}` or the start of any other body; empty for none.
    static func describe(_ body: [UInt8]) -> String {
        if let message = LineageServerClient.serverMessage(body) { return ": " + message }
        let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "" : ": " + text
    }
}
