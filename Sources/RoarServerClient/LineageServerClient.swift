import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Calls to a lineage server's API (docs/server-api.md) with a bearer token. Connection failures,
/// 5xx and 429 are retried with backoff (`attempts` in all); 4xx are reported at once with the
/// server's message, which names the field or the token that was wrong.
public struct LineageServerClient: Sendable {
    public var server: String
    public var token: String?
    public var attempts: Int
    /// Seconds one attempt may take.
    public var timeoutSeconds: Int64

    public init(server: String, token: String?, attempts: Int = 5, timeoutSeconds: Int64 = 60) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.token = token
        self.attempts = max(1, attempts)
        self.timeoutSeconds = timeoutSeconds
    }

    public struct WhoAmI: Decodable, Sendable {
        public var name: String
        public var admin: Bool
        public var projects: [String: String]
    }

    public struct RegisterCounts: Decodable, Sendable {
        public var inserted: Int
        public var updated: Int
        public var unchanged: Int
        public var edgesInserted: Int
        public var edgesUnchanged: Int

        public init(
            inserted: Int = 0, updated: Int = 0, unchanged: Int = 0, edgesInserted: Int = 0, edgesUnchanged: Int = 0
        ) {
            self.inserted = inserted
            self.updated = updated
            self.unchanged = unchanged
            self.edgesInserted = edgesInserted
            self.edgesUnchanged = edgesUnchanged
        }

        public mutating func add(_ other: Self) {
            inserted += other.inserted
            updated += other.updated
            unchanged += other.unchanged
            edgesInserted += other.edgesInserted
            edgesUnchanged += other.edgesUnchanged
        }

        enum CodingKeys: String, CodingKey {
            case inserted, updated, unchanged
            case edgesInserted = "edges_inserted"
            case edgesUnchanged = "edges_unchanged"
        }
    }

    public func whoami() async throws(ClientError) -> WhoAmI {
        try decode(WhoAmI.self, try await call(.GET, "/api/v1/whoami"), what: "whoami")
    }

    public func register(project: String, body: [UInt8]) async throws(ClientError) -> RegisterCounts {
        let path = "/api/v1/projects/\(project)/register"
        return try decode(RegisterCounts.self, try await call(.POST, path, body: body), what: "register")
    }

    /// The process's HTTP client. roar retries by itself (`attempts`, with backoff), so a refused
    /// connection must fail at once: AsyncHTTPClient's default retries it until the request's
    /// deadline, which made every attempt against a server that is down take the whole timeout.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// One request, with the retries; the response body when the status is 2xx.
    func call(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil) async throws(ClientError) -> [UInt8] {
        var request = HTTPClientRequest(url: server + path)
        request.method = method
        request.headers.add(name: "User-Agent", value: "roar")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        var delay = 0.25
        var lastProblem = ""
        for attempt in 1...attempts {
            if attempt > 1 {
                try? await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 8)
            }
            let response: HTTPClientResponse
            let answer: [UInt8]
            do {
                response = try await Self.http.execute(request, timeout: .seconds(timeoutSeconds))
                answer = Array(buffer: try await response.body.collect(upTo: 64 << 20))
            } catch {
                lastProblem = "cannot reach \(server): \(error)"
                continue
            }
            let status = Int(response.status.code)
            if (200..<300).contains(status) { return answer }
            let message = Self.serverMessage(answer) ?? "HTTP \(status)"
            switch status {
            case 401:
                throw ClientError(
                    .unauthenticated, "\(server) refused the token (401): \(message). Run `roar login \(server)`",
                    status: status)
            case 403: throw ClientError(.forbidden, "\(server) (403): \(message)", status: status)
            case 429, 500...:
                lastProblem = "\(server) answered \(status): \(message)"
                continue
            default:
                throw ClientError(
                    .rejected, "\(server) rejected \(method) \(path) (\(status)): \(message)", status: status)
            }
        }
        throw ClientError(
            lastProblem.hasPrefix("cannot reach") ? .unreachable : .serverFailed,
            "\(lastProblem) (after \(attempts) attempts)")
    }

    func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws(ClientError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw ClientError(
                .badResponse, "\(server) answered \(what) with something that is not roar's API: \(error)")
        }
    }

    /// `{"error": {"message": …}}` of the server's error body.
    static func serverMessage(_ bytes: [UInt8]) -> String? {
        struct Body: Decodable {
            struct Detail: Decodable { var message: String }
            var error: Detail
        }
        return (try? JSONDecoder().decode(Body.self, from: Data(bytes)))?.error.message
    }
}
