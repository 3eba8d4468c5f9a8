import Foundation
import Hummingbird
import Synchronization

/// `Authorization: Bearer roar_…` (a person's token) or `roarcap_…` (a fragment session's write
/// capability) on every `/api/v1` route (RFC 6750): no token or an unknown one
/// is 401 with `WWW-Authenticate`; an address that failed ``AuthFailureLimit/limit`` times in a
/// minute gets 429 until the minute has passed, so tokens cannot be guessed at speed.
struct BearerAuthentication: RouterMiddleware {
    typealias Context = LineageRequestContext
    let storage: any LineageStorage
    let failures: AuthFailureLimit
    let metrics: ServerMetrics
    /// A cookie that may stand in for the header (the web view's pages only; never the API).
    var cookie: String? = nil

    func acceptingCookie(_ name: String) -> BearerAuthentication {
        var copy = self
        copy.cookie = name
        return copy
    }

    /// The person a token is (not a capability); counts a failure against the address.
    func identity(of token: String, from context: LineageRequestContext) async throws -> Identity? {
        try checkNotBlocked(context)
        guard AccessToken.isWellFormed(token),
            let identity = try await storage.identity(tokenDigest: AccessToken.digest(of: token))
        else {
            failed(context)
            return nil
        }
        return identity
    }

    func handle(
        _ request: Request, context: LineageRequestContext,
        next: (Request, LineageRequestContext) async throws -> Response
    ) async throws -> Response {
        try checkNotBlocked(context)
        var context = context
        if let cookie, request.headers[.authorization] == nil, let token = request.cookies[cookie]?.value {
            guard let identity = try await identity(of: token, from: context) else {
                throw ServerError(.unauthenticated, "the token of this browser is no longer valid: sign in at /login")
            }
            context.identity = identity
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization] else {
            if cookie != nil {
                // A browser without its cookie: to the sign-in page, and back here after it.
                var headers = HTTPFields()
                headers[.location] =
                    "/login?next="
                    + (request.uri.path.addingPercentEncoding(
                        withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "/-_.~"))) ?? "/")
                return Response(status: .seeOther, headers: headers)
            }
            failed(context)
            throw ServerError(
                .unauthenticated,
                "no bearer token: send `Authorization: Bearer <token>` (make one with `roar serve token create`)")
        }
        let token = header.hasPrefix("Bearer ") ? String(header.dropFirst("Bearer ".count)) : ""
        if AccessToken.isWellFormed(token, prefix: AccessToken.capabilityPrefix) {
            guard let session = try await storage.session(capabilityDigest: AccessToken.digest(of: token)) else {
                failed(context)
                throw ServerError(.unauthenticated, "the session capability is not one this server knows")
            }
            context.capability = session
        } else {
            guard let identity = try await identity(of: token, from: context) else {
                throw ServerError(.unauthenticated, "the bearer token is not one this server knows (or it was revoked)")
            }
            context.identity = identity
        }
        return try await next(request, context)
    }

    func checkNotBlocked(_ context: LineageRequestContext) throws {
        let address = context.remoteAddress?.ipAddress ?? "unknown"
        if failures.isBlocked(address) {
            throw ServerError(.tooManyRequests, "too many failed authentications from \(address): wait a minute")
        }
    }

    /// One failed authentication: counted against the address and on `/metrics`.
    func failed(_ context: LineageRequestContext) {
        failures.record(context.remoteAddress?.ipAddress ?? "unknown")
        metrics.authenticationFailed()
    }
}

/// Failed authentications per peer address over a sliding minute.
final class AuthFailureLimit: Sendable {
    let limit: Int
    let window: Duration
    private let failures = Mutex<[String: [ContinuousClock.Instant]]>([:])

    init(limit: Int, window: Duration = .seconds(60)) {
        self.limit = limit
        self.window = window
    }

    func record(_ address: String) {
        let now = ContinuousClock.now
        failures.withLock { table in
            table[address, default: []].append(now)
            if table.count > 10_000 { table = table.filter { $0.value.last.map { now - $0 < window } ?? false } }
        }
    }

    func isBlocked(_ address: String) -> Bool {
        let now = ContinuousClock.now
        return failures.withLock { table in
            guard var recent = table[address] else { return false }
            recent.removeAll { now - $0 >= window }
            table[address] = recent.isEmpty ? nil : recent
            return recent.count >= limit
        }
    }
}
