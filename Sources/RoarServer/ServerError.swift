public import Foundation
public import HTTPTypes
public import Hummingbird

/// Every error the lineage server reports: a code that fixes the HTTP status, and a message that
/// names the field, the token or the limit that was wrong. Sent as
/// `{"error": {"code": "…", "message": "…"}}` (docs/server-api.md).
public struct ServerError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// 400: the body or a query parameter is malformed; the message names the field.
        case badRequest = "bad_request"
        /// 401: no bearer token, or one the server does not know.
        case unauthenticated
        /// 403: a valid token without the role this project needs.
        case forbidden
        /// 404: no such project, job or route.
        case notFound = "not_found"
        /// 413: the body is larger than `--max-body-mib`.
        case tooLarge = "too_large"
        /// 429: too many failed authentications from this address.
        case tooManyRequests = "too_many_requests"
        /// 500: the storage failed (the message says how; nothing of the request was kept).
        case storage
        /// The server could not start: a port in use, a data folder it cannot write, bad TLS files.
        case configuration
    }

    public var code: Code
    public var message: String
    public var underlyingError: (any Error)?

    public init(_ code: Code, _ message: String, underlyingError: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlyingError = underlyingError
    }

    public var description: String { message }

    public var status: HTTPResponse.Status {
        switch code {
        case .badRequest: .badRequest
        case .unauthenticated: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .tooLarge: .contentTooLarge
        case .tooManyRequests: .tooManyRequests
        case .storage, .configuration: .internalServerError
        }
    }
}

extension ServerError: HTTPResponseError {
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        if code == .unauthenticated {
            headers[.wwwAuthenticate] = #"Bearer realm="roar""#
        }
        if code == .tooManyRequests { headers[.retryAfter] = "60" }
        let body: [String: [String: String]] = ["error": ["code": code.rawValue, "message": message]]
        let data = (try? JSONEncoder().encode(body)) ?? Data()
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
