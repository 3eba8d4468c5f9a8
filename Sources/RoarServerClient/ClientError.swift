/// Why a call to a lineage server failed: the server's own message when it answered, or what
/// kept the request from arriving. Every message names the server.
public struct ClientError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// No connection (refused, timed out, DNS): retried before it is reported.
        case unreachable
        /// 401: the token is missing or unknown.
        case unauthenticated
        /// 403: the token may not do this on this project.
        case forbidden
        /// Any other 4xx: the request was wrong (the server says which field).
        case rejected
        /// 5xx after the retries.
        case serverFailed = "server_failed"
        /// The answer was not what the API documents.
        case badResponse = "bad_response"
        /// The credentials file could not be read or written.
        case credentials
    }

    public var code: Code
    public var message: String
    public var status: Int?

    public init(_ code: Code, _ message: String, status: Int? = nil) {
        self.code = code
        self.message = message
        self.status = status
    }

    public var description: String { message }
}
